/**
 * What a leader knows about one follower's log, and how it paces appends
 * to it.
 *
 * - `probe`: the leader does not know where the logs agree; it sends one
 *   append per heartbeat interval and backs off on rejection.
 * - `replicate`: the logs agree up to `match`; the leader streams appends
 *   optimistically, at most `maxInflightMsgs` unacknowledged at a time.
 * - `snapshot`: the entries the follower needs are compacted; the leader
 *   streams a snapshot in chunks and sends no appends until it is installed.
 *
 * @module
 */

import { assertInvariant } from "./errors.ts";

/** How the leader currently paces appends to a follower. */
export type ProgressState = "probe" | "replicate" | "snapshot";

/**
 * A ring buffer of the last index of each unacknowledged append, bounded by
 * `capacity` (the named maximum `maxInflightMsgs`).
 *
 * @example
 * ```ts
 * import { Inflights } from "@strom/raft";
 * const inflights = new Inflights(2);
 * inflights.add(5);
 * inflights.add(9);
 * if (!inflights.full()) throw new Error("two of two");
 * inflights.freeLE(5);
 * if (inflights.count !== 1) throw new Error("5 was acknowledged");
 * ```
 */
export class Inflights {
  readonly #buf: number[];
  #start = 0;
  #count = 0;

  /** Creates an empty window of `capacity` appends. */
  constructor(readonly capacity: number) {
    assertInvariant(capacity >= 1, "inflight capacity must be at least 1");
    this.#buf = new Array<number>(capacity).fill(0);
  }

  /** Unacknowledged appends. */
  get count(): number {
    return this.#count;
  }

  /** Whether no further append may be sent. */
  full(): boolean {
    return this.#count === this.capacity;
  }

  /** Records an append ending at `lastIndex`; indexes must be added in increasing order. */
  add(lastIndex: number): void {
    assertInvariant(!this.full(), "inflights overflow");
    this.#buf[(this.#start + this.#count) % this.capacity] = lastIndex;
    this.#count++;
  }

  /** Frees every append ending at or before `index`. */
  freeLE(index: number): void {
    while (this.#count > 0 && this.#buf[this.#start] <= index) {
      this.#start = (this.#start + 1) % this.capacity;
      this.#count--;
    }
  }

  /** Frees the oldest append (its acknowledgement was probably lost). */
  freeFirstOne(): void {
    if (this.#count === 0) return;
    this.#start = (this.#start + 1) % this.capacity;
    this.#count--;
  }

  /** Forgets every unacknowledged append. */
  reset(): void {
    this.#start = 0;
    this.#count = 0;
  }
}

/**
 * The leader's view of one follower (or learner).
 *
 * Invariant: `match < next`; in `snapshot` state `pendingSnapshotIndex > 0`.
 *
 * @example
 * ```ts
 * import { Progress } from "@strom/raft";
 * const pr = new Progress({ next: 11, maxInflightMsgs: 4 });
 * pr.maybeUpdate(10);
 * pr.becomeReplicate();
 * if (pr.match !== 10 || pr.next !== 11) throw new Error("caught up");
 * ```
 */
export class Progress {
  /** Highest index known to be in the follower's log. */
  match = 0;
  /** Next index to send. */
  next: number;
  /** How appends to this follower are paced. */
  state: ProgressState = "probe";
  /** In `probe` state: an append was sent this heartbeat interval; wait. */
  probeSent = false;
  /** The follower answered since the last quorum check. */
  recentActive = false;
  /** In `snapshot` state: index of the snapshot being sent. */
  pendingSnapshotIndex = 0;
  /** In `snapshot` state: bytes the follower has acknowledged. */
  snapshotOffset = 0;
  /** In `snapshot` state: the follower acknowledged a chunk since the last heartbeat. */
  snapshotAcked = false;
  /** Unacknowledged appends in `replicate` state. */
  readonly inflights: Inflights;

  /** Creates a probing progress that will next send `next`. */
  constructor(options: { next: number; maxInflightMsgs: number }) {
    this.next = options.next;
    this.inflights = new Inflights(options.maxInflightMsgs);
  }

  #reset(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshotIndex = 0;
    this.snapshotOffset = 0;
    this.snapshotAcked = false;
    this.inflights.reset();
  }

  /** Falls back to probing (after a rejection or a snapshot). */
  becomeProbe(): void {
    if (this.state === "snapshot") {
      // Resume after the snapshot if it got installed, else after what matched.
      const installed = this.pendingSnapshotIndex;
      this.#reset("probe");
      this.next = Math.max(this.match + 1, installed + 1);
    } else {
      this.#reset("probe");
      this.next = this.match + 1;
    }
  }

  /** Starts streaming appends after `match`. */
  becomeReplicate(): void {
    this.#reset("replicate");
    this.next = this.match + 1;
  }

  /** Starts sending the snapshot at `snapshotIndex`. */
  becomeSnapshot(snapshotIndex: number): void {
    this.#reset("snapshot");
    this.pendingSnapshotIndex = snapshotIndex;
  }

  /** Records that the follower has the log up to `index`; false if that is old news. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * Handles a rejection of the append after `rejected`, given the follower's
   * hint that the logs may agree up to `matchHint`. Returns false if the
   * rejection is stale (answers an append sent before a newer one).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === "replicate") {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Whether the leader must hold back appends to this follower for now. */
  isPaused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflights.full();
      case "snapshot":
        return true;
    }
  }

  /** Records an append of entries up to `lastIndex` just sent (in replicate state, optimistically). */
  sentEntries(lastIndex: number, entryCount: number): void {
    if (this.state === "replicate") {
      if (entryCount > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex);
      }
    } else if (this.state === "probe") {
      this.probeSent = true;
    }
  }
}
