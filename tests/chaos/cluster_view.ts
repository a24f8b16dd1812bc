/**
 * What the nemesis asks the cluster: the active controller, partition
 * leaders and replicas, whether every node is up and every ISR full. All
 * requests go to client listeners, with short timeouts, to whichever node
 * answers.
 *
 * @module
 */

import type { Admin, PartitionDescription } from "@strom/client";
import { requestJson } from "../_harness/http.ts";
import type { ChaosNodes } from "./nodes.ts";

/** Timeout of one query. */
export const QUERY_TIMEOUT_MS = 2_000;

/** The state a fault needs to pick its victim. */
export interface ChaosContext {
  readonly nodes: ChaosNodes;
  readonly admin: Admin;
  readonly topic: string;
  /** The cluster secret, for the internal net-faults route. */
  readonly secret: string;
  /** Session timeout of the brokers (pauses last longer than it). */
  readonly sessionTimeoutMs: number;
  /** Prints one line of the run's log. */
  readonly log: (line: string) => void;
}

/** The active controller's id as some live node sees it, or undefined. */
export async function controllerId(ctx: ChaosContext): Promise<number | undefined> {
  for (const id of ctx.nodes.ids) {
    if (!ctx.nodes.alive(id)) continue;
    const answer = await requestJson(`${ctx.nodes.node(id).clientUrl}/v1/cluster`, {
      timeoutMs: QUERY_TIMEOUT_MS,
    });
    const controller = answer.body?.controller?.id;
    if (answer.status === 200 && typeof controller === "number") return controller;
  }
  return undefined;
}

/** The topic's partitions as described by the cluster, or [] when nobody answers. */
export async function partitionsOf(ctx: ChaosContext): Promise<readonly PartitionDescription[]> {
  try {
    const topic = await ctx.admin.describeTopic(ctx.topic, {
      signal: AbortSignal.timeout(QUERY_TIMEOUT_MS * 2),
    });
    return topic.partitions;
  } catch {
    return [];
  }
}

/** Whether node `id` answers /readyz with 200. */
export async function ready(ctx: ChaosContext, id: number): Promise<boolean> {
  const answer = await requestJson(`${ctx.nodes.node(id).clientUrl}/readyz`, {
    timeoutMs: QUERY_TIMEOUT_MS,
  });
  return answer.status === 200;
}

/**
 * Waits (at most `timeoutMs`) until every node is ready and every partition
 * of the topic has all its replicas in sync. Returns whether it got there.
 */
export async function waitHealthy(ctx: ChaosContext, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const readies = await Promise.all(ctx.nodes.ids.map((id) => ready(ctx, id)));
    if (readies.every(Boolean)) {
      const partitions = await partitionsOf(ctx);
      if (
        partitions.length > 0 &&
        partitions.every((p) => p.leader >= 0 && p.isr.length === p.replicas.length)
      ) return true;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/** Picks one element with a PRNG draw. */
export function pick<T>(items: readonly T[], draw: number): T {
  if (items.length === 0) throw new Error("nothing to pick from");
  return items[draw % items.length];
}

/** Sleeps `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
