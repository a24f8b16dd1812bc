/**
 * The leadership barrier: how a coordinator proves, before it answers from
 * memory, that it was still the leader of its `__consumer_offsets`
 * partition after the request arrived.
 *
 * Why: a coordinator that was paused, or cut off from the controller, keeps
 * its in-memory state and still believes it leads until its metadata says
 * otherwise. Meanwhile a new leader loads the partition and accepts commits.
 * Answering an offset fetch (or any request that writes nothing) from the
 * old memory then shows a client committed offsets moving backwards — seen
 * by the chaos checker after a SIGSTOP of the coordinator's node.
 *
 * How: the coordinator appends one barrier record with acks=all and answers
 * only once it is committed. Invariants this relies on (the replica layer's,
 * see `broker/replica_manager/`):
 * - the high watermark advances only when every member of the leader's ISR
 *   has fetched past an offset at the leader's epoch, and a fetch past the
 *   barrier is sent after the barrier was appended;
 * - a new leader is chosen from the ISR, and a broker that fetches as a
 *   follower at epoch E does not lead at a later epoch at the same time.
 * So when the barrier commits, no other broker had become leader before the
 * barrier was appended, and every commit acknowledged before the request
 * arrived went through this coordinator: its memory is current. A barrier
 * that fails (timeout, leadership lost) fails the request with
 * NOT_COORDINATOR; the client finds the coordinator again.
 *
 * Cost: one small record per barrier. Requests that arrive while a barrier
 * is waiting to start share the next one, so a burst of reads costs one
 * append. All barrier records have the same key, so compaction keeps one.
 *
 * The record is not a group record: replay never sees it (the shard log
 * skips it when loading).
 *
 * @module
 */

import type { EncodedGroupRecord } from "../groups/mod.ts";

/** The key of every barrier record: `[0,"leadership-barrier"]` in UTF-8 (group record keys have 3+ fields). */
export const LEADERSHIP_BARRIER_KEY: Uint8Array = new TextEncoder().encode(
  '[0,"leadership-barrier"]',
);

/** A barrier record for a leader epoch (the value says which leader wrote it, for diagnosis). */
export function leadershipBarrierRecord(leaderEpoch: number, nowMs: number): EncodedGroupRecord {
  return {
    key: LEADERSHIP_BARRIER_KEY,
    value: new TextEncoder().encode(JSON.stringify({ v: 0, leaderEpoch, atMs: nowMs })),
  };
}

/** Whether a stored key is the barrier's. */
export function isLeadershipBarrierKey(key: Uint8Array): boolean {
  if (key.length !== LEADERSHIP_BARRIER_KEY.length) return false;
  for (let i = 0; i < key.length; i++) if (key[i] !== LEADERSHIP_BARRIER_KEY[i]) return false;
  return true;
}
