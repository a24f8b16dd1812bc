/**
 * The high-watermark calculation, kept apart from {@link PartitionLeader} so
 * that a property test can cross-check it against an obviously-correct slow
 * version (STYLE 15).
 *
 * Rule: the HW is the smallest log end offset (LEO) among the replicas of the
 * ISR used for the HW (the leader's own LEO included). A member whose LEO the
 * leader does not know yet (a freshly elected leader has heard from nobody)
 * blocks any advance. The HW never decreases: a candidate below the current
 * HW leaves it unchanged.
 *
 * @module
 */

/** Inputs of one HW computation. */
export interface HighWatermarkInput {
  /** The current HW; the result is never below it. */
  readonly highWatermark: number;
  /** The leader's broker id; its LEO is `leaderLogEndOffset`. */
  readonly leaderId: number;
  readonly leaderLogEndOffset: number;
  /** Brokers whose LEO bounds the HW (the leader may or may not be listed). */
  readonly isr: readonly number[];
  /** Known follower LEOs; a missing entry (or a negative one) is unknown. */
  readonly followerLogEndOffsets: LogEndOffsetLookup;
}

/**
 * Follower LEOs by broker id. A `ReadonlyMap` is one; the leader passes a
 * view of its own progress records instead, because a Map built per follower
 * fetch was a third of an idle 10,000-partition broker's garbage.
 */
export interface LogEndOffsetLookup {
  get(replicaId: number): number | undefined;
}

/**
 * The smallest LEO over the ISR (leader included), or `undefined` when some
 * member's LEO is unknown.
 */
export function minIsrLogEndOffset(input: HighWatermarkInput): number | undefined {
  let min = input.leaderLogEndOffset;
  for (const id of input.isr) {
    if (id === input.leaderId) continue;
    const leo = input.followerLogEndOffsets.get(id);
    if (leo === undefined || leo < 0) return undefined;
    if (leo < min) min = leo;
  }
  return min;
}

/** The new HW: the current one, raised to the ISR's smallest LEO if that is higher. */
export function computeHighWatermark(input: HighWatermarkInput): number {
  const candidate = minIsrLogEndOffset(input);
  if (candidate === undefined || candidate <= input.highWatermark) return input.highWatermark;
  return candidate;
}
