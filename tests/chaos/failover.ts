/**
 * Failover times: for each SIGKILL of a node that led partitions of the
 * workload's topic, the time from the kill to the first acknowledgement of a
 * write on each of those partitions (acks=all, so the new leader has taken
 * over and its ISR has the write). One sample per kill: the slowest of its
 * partitions. A kill after which a partition never acknowledged again gives
 * no sample (the run's end came first).
 *
 * @module
 */

import type { HistoryOp } from "./history.ts";
import type { FaultEvent } from "./nemesis/fault.ts";

/** Failover samples in ms, one per kill of a leader. */
export function failoverSamples(
  events: readonly FaultEvent[],
  ops: readonly HistoryOp[],
  topic: string,
): number[] {
  const acks = new Map<number, number[]>();
  for (const op of ops) {
    if (op.type !== "produce" || op.outcome !== "ok" || op.topic !== topic) continue;
    const list = acks.get(op.partition) ?? [];
    list.push(op.completeMs);
    acks.set(op.partition, list);
  }
  for (const list of acks.values()) list.sort((a, b) => a - b);
  const samples: number[] = [];
  for (const event of events) {
    if (event.kind !== "kill" || event.killedAtMs === undefined) continue;
    let worst: number | undefined;
    for (const partition of event.ledPartitions ?? []) {
      const next = (acks.get(partition) ?? []).find((t) => t > event.killedAtMs!);
      if (next === undefined) {
        worst = undefined;
        break;
      }
      worst = Math.max(worst ?? 0, next - event.killedAtMs);
    }
    if (worst !== undefined) samples.push(worst);
  }
  return samples;
}
