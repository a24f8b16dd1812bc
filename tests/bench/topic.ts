/**
 * Creates a bench topic (or reuses an existing one) and waits until every
 * partition has a leader, timing both.
 *
 * @module
 */

import type { Admin } from "../../client/mod.ts";
import { StromError } from "../../client/mod.ts";

/** Longest wait for every partition of a new topic to have a leader. */
const LEADERS_WAIT_MS_MAX = 120_000;
const LEADERS_POLL_MS = 100;

/** What {@link ensureTopic} needs. */
export interface TopicSpec {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly configs: Readonly<Record<string, string>>;
}

/** How long creation took; `created` is false when the topic existed. */
export interface TopicReady {
  readonly created: boolean;
  /** From the create request until the controller answered. */
  readonly createMs: number;
  /** From the create request until every partition had a leader. */
  readonly leadersMs: number;
  readonly partitions: number;
}

/** Creates `spec` unless it exists, then waits for leaders on every partition. */
export async function ensureTopic(admin: Admin, spec: TopicSpec): Promise<TopicReady> {
  const startedMs = performance.now();
  let created = true;
  try {
    await admin.createTopic({
      name: spec.name,
      partitions: spec.partitions,
      replicationFactor: spec.replicationFactor,
      configs: spec.configs,
    }, { timeoutMs: LEADERS_WAIT_MS_MAX });
  } catch (e) {
    if (!(e instanceof StromError && e.code === "TOPIC_ALREADY_EXISTS")) throw e;
    created = false;
  }
  const createMs = performance.now() - startedMs;
  const deadline = startedMs + LEADERS_WAIT_MS_MAX;
  while (true) {
    const d = await admin.describeTopic(spec.name);
    if (d.partitions.every((p) => p.leader >= 0)) {
      return {
        created,
        createMs,
        leadersMs: performance.now() - startedMs,
        partitions: d.partitions.length,
      };
    }
    if (performance.now() > deadline) {
      throw new Error(
        `${spec.name}: not every partition had a leader after ${LEADERS_WAIT_MS_MAX} ms`,
      );
    }
    await new Promise((r) => setTimeout(r, LEADERS_POLL_MS));
  }
}
