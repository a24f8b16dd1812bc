/**
 * Creates a bench topic (or reuses an existing one) and waits until every
 * partition has a leader, timing both; optionally also until every replica
 * is open on its broker and every leader serves (a leader in the metadata
 * can still be opening its log: 10,000 of them take seconds).
 *
 * @module
 */

import type { Admin } from "../../client/mod.ts";
import { StromError } from "../../client/mod.ts";

/** Longest wait for every partition of a new topic to have a leader. */
const LEADERS_WAIT_MS_MAX = 120_000;
const LEADERS_POLL_MS = 100;
/**
 * Replica readiness is polled less often, and for big topics rarely: each
 * poll lists every replica of every broker (2-3 MB of JSON per broker with
 * 10,000 partitions), which slowed the creation it measures.
 */
const REPLICAS_POLL_MS = 250;
const REPLICAS_POLL_MS_BIG_TOPIC = 2_000;
const BIG_TOPIC_PARTITIONS = 1_000;

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
  /** From the create request until every replica was open and every leader led (if asked). */
  readonly replicasReadyMs?: number;
  readonly partitions: number;
}

/**
 * Creates `spec` unless it exists, then waits for leaders on every partition;
 * with `replicasOn` (the brokers' client URLs), also for every replica.
 */
export async function ensureTopic(
  admin: Admin,
  spec: TopicSpec,
  replicasOn?: readonly string[],
): Promise<TopicReady> {
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
      const leadersMs = performance.now() - startedMs;
      if (replicasOn !== undefined) await waitForReplicas(admin, spec.name, replicasOn, deadline);
      return {
        created,
        createMs,
        leadersMs,
        ...(replicasOn === undefined ? {} : { replicasReadyMs: performance.now() - startedMs }),
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

/**
 * Waits until every replica of `topic` is open on its broker (each broker's
 * `/v1/diagnostics/replicas`) and each partition's leader in the metadata
 * leads it locally at that leader epoch.
 */
async function waitForReplicas(
  admin: Admin,
  topic: string,
  urls: readonly string[],
  deadline: number,
): Promise<void> {
  const getJson = async (url: string): Promise<unknown> => {
    const res = await fetch(url).catch(() => undefined);
    if (!res?.ok) {
      await res?.body?.cancel();
      return undefined;
    }
    return await res.json();
  };
  for (;;) {
    const d = await admin.describeTopic(topic);
    /** `node id|partition` → that node's replica. */
    const local = new Map<string, { role: string; leaderEpoch: number }>();
    for (const url of urls) {
      const cluster = await getJson(`${url}/v1/cluster`) as { nodeId?: number } | undefined;
      const body = await getJson(`${url}/v1/diagnostics/replicas?upTo=0`) as {
        replicas: { topic: string; partition: number; role: string; leaderEpoch: number }[];
      } | undefined;
      if (cluster?.nodeId === undefined || body === undefined) continue;
      for (const r of body.replicas) {
        if (r.topic === topic) local.set(`${cluster.nodeId}|${r.partition}`, r);
      }
    }
    const ready = local.size === d.partitions.reduce((n, p) => n + p.replicas.length, 0) &&
      d.partitions.every((p) => {
        const r = local.get(`${p.leader}|${p.partition}`);
        return r?.role === "leader" && r.leaderEpoch === p.leaderEpoch;
      });
    if (ready) return;
    if (performance.now() > deadline) {
      throw new Error(`${topic}: not every replica was open after ${LEADERS_WAIT_MS_MAX} ms`);
    }
    const pollMs = d.partitions.length > BIG_TOPIC_PARTITIONS
      ? REPLICAS_POLL_MS_BIG_TOPIC
      : REPLICAS_POLL_MS;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
