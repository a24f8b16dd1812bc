/**
 * The log as the core sees it: the stable part read from {@link RaftStorage}
 * plus an "unstable" tail (entries, possibly a snapshot) that has been handed
 * to the driver in a `Ready` but not yet acknowledged as persisted.
 *
 * Layout, by index:
 *
 * ```
 *   storage: [firstIndex ............ offset-1] (stale beyond offset-1 until persisted)
 *   unstable:                        [offset ........ lastIndex]
 * ```
 *
 * Invariants: `applied <= committed <= lastIndex()`; `committed` never
 * decreases; entries at or below `committed` are never truncated; while an
 * unstable snapshot is pending, `offset === snapshot.meta.index + 1` and the
 * storage is not consulted above it.
 *
 * @module
 */

import { assertInvariant } from "./errors.ts";
import { CompactedError, UnavailableError } from "./storage.ts";
import type { RaftStorage } from "./storage.ts";
import type { Entry, Snapshot } from "./types.ts";

/** A log position where two logs may agree: an index and the term there (0 if unknown). */
export interface LogPosition {
  /** A log index. */
  readonly index: number;
  /** The term there (0: unknown, compacted). */
  readonly term: number;
}

/**
 * The core's view of the replicated log.
 *
 * @example
 * ```ts
 * import { MemoryStorage, RaftLog } from "@strom/raft";
 * const log = new RaftLog(new MemoryStorage(), 0);
 * log.append([{ index: 1, term: 1, kind: "noop", data: new Uint8Array(0) }]);
 * if (log.lastIndex() !== 1 || log.unstableEntries().length !== 1) throw new Error("not appended");
 * ```
 */
export class RaftLog {
  /** Highest index known to be committed. */
  committed: number;
  /** Highest index the application has acknowledged applying. */
  applied: number;
  #snapshot: Snapshot | undefined;
  #entries: Entry[] = [];
  /** Index of `#entries[0]` (or where the next unstable entry will go). */
  #offset: number;

  /** Opens the log over `storage`; `applied` is what the application already applied. */
  constructor(readonly storage: RaftStorage, applied: number) {
    this.#offset = storage.lastIndex() + 1;
    const snapIndex = storage.firstIndex() - 1;
    this.committed = snapIndex;
    this.applied = Math.max(snapIndex, applied);
  }

  /** The first index still in the log (one past the snapshot). */
  firstIndex(): number {
    return this.#snapshot ? this.#snapshot.meta.index + 1 : this.storage.firstIndex();
  }

  /** The last index, persisted or not. */
  lastIndex(): number {
    return this.#offset + this.#entries.length - 1;
  }

  /** The term of the last entry. */
  lastTerm(): number {
    return this.term(this.lastIndex());
  }

  /** Term at `index`; throws {@link CompactedError} / {@link UnavailableError} out of range. */
  term(index: number): number {
    const last = this.lastIndex();
    if (index > last) throw new UnavailableError(index, last);
    if (index >= this.#offset) return this.#entries[index - this.#offset].term;
    if (this.#snapshot) {
      if (index === this.#snapshot.meta.index) return this.#snapshot.meta.term;
      throw new CompactedError(index, this.firstIndex());
    }
    return this.storage.term(index);
  }

  /** Term at `index`, or `fallback` if the index is compacted or beyond the log. */
  termOr(index: number, fallback: number): number {
    if (index > this.lastIndex() || index < this.firstIndex() - 1) return fallback;
    return this.term(index);
  }

  /** Whether the entry at `index` has `term`. */
  matchTerm(index: number, term: number): boolean {
    return this.termOr(index, -1) === term;
  }

  /** Whether a log ending at (`lastIndex`, `lastTerm`) is at least as up to date as this one. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /** Entries `lo <= index < hi`, at least one if any, at most `maxBytes` of data after the first. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo >= hi) return [];
    let out: Entry[] = [];
    if (lo < this.#offset) {
      const storageHi = Math.min(hi, this.#offset);
      if (this.#snapshot) throw new CompactedError(lo, this.firstIndex());
      out = this.storage.entries(lo, storageHi, maxBytes);
      if (out.length < storageHi - lo) return out;
    }
    if (hi > this.#offset) {
      if (hi - 1 > this.lastIndex()) throw new UnavailableError(hi - 1, this.lastIndex());
      let bytes = 0;
      for (const e of out) bytes += e.data.byteLength;
      for (let i = Math.max(lo, this.#offset); i < hi; i++) {
        const e = this.#entries[i - this.#offset];
        bytes += e.data.byteLength;
        if (out.length > 0 && bytes > maxBytes) break;
        out.push(e);
      }
    }
    return out;
  }

  /**
   * Appends `entries` (contiguous), truncating any conflicting suffix first.
   * Returns the index from which the previous log was replaced, or 0 if
   * nothing was truncated.
   */
  append(entries: readonly Entry[]): number {
    if (entries.length === 0) return 0;
    const first = entries[0].index;
    assertInvariant(
      first > this.committed,
      `append at ${first} would overwrite committed ${this.committed}`,
    );
    const last = this.lastIndex();
    assertInvariant(first <= last + 1, `append at ${first} leaves a gap after ${last}`);
    const truncatedAt = first <= last ? first : 0;
    if (first === this.#offset + this.#entries.length) {
      for (const e of entries) this.#entries.push(e);
    } else if (first <= this.#offset) {
      // Replaces the whole unstable tail, and shadows the stable suffix from `first` on.
      this.#offset = first;
      this.#entries = [...entries];
    } else {
      this.#entries.length = first - this.#offset;
      for (const e of entries) this.#entries.push(e);
    }
    return truncatedAt;
  }

  /** First entry of `entries` whose term differs from (or lies beyond) this log; 0 if none. */
  findConflict(entries: readonly Entry[]): number {
    for (const e of entries) if (!this.matchTerm(e.index, e.term)) return e.index;
    return 0;
  }

  /**
   * The largest position at or below `index` whose term is at most `term`:
   * where a log whose entry at `index` has `term` may still agree with this one.
   * Term 0 means the position is compacted here.
   */
  findConflictByTerm(index: number, term: number): LogPosition {
    let i = Math.min(index, this.lastIndex());
    for (;;) {
      const t = this.termOr(i, -1);
      if (t < 0) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
      i--;
    }
  }

  /** Raises the commit index to `index` (never lowers it). */
  commitTo(index: number): void {
    if (index <= this.committed) return;
    assertInvariant(
      index <= this.lastIndex(),
      `commit ${index} beyond the last index ${this.lastIndex()}`,
    );
    this.committed = index;
  }

  /** Records that the application applied up to `index`. */
  appliedTo(index: number): void {
    if (index <= this.applied) return;
    assertInvariant(
      index <= this.committed,
      `applied ${index} beyond the commit index ${this.committed}`,
    );
    this.applied = index;
  }

  /** Whether a snapshot is waiting to be persisted and installed. */
  hasPendingSnapshot(): boolean {
    return this.#snapshot !== undefined;
  }

  /** Committed entries the application has not applied yet (none while a snapshot is pending). */
  nextCommittedEntries(maxBytes: number): Entry[] {
    if (this.#snapshot) return [];
    const lo = Math.max(this.applied + 1, this.firstIndex());
    return this.slice(lo, this.committed + 1, maxBytes);
  }

  /** Whether committed entries wait to be applied. */
  hasNextCommittedEntries(): boolean {
    return !this.#snapshot && this.committed > this.applied;
  }

  /** Entries not yet acknowledged as persisted. */
  unstableEntries(): readonly Entry[] {
    return this.#entries;
  }

  /** A received snapshot not yet acknowledged as persisted. */
  unstableSnapshot(): Snapshot | undefined {
    return this.#snapshot;
  }

  /** The last index known to be persisted (0 while a received snapshot is pending). */
  stableLastIndex(): number {
    if (this.#snapshot) return 0;
    return Math.min(this.storage.lastIndex(), this.#offset - 1);
  }

  /** Marks entries up to (`index`, `term`) persisted, unless they were replaced meanwhile. */
  stableTo(index: number, term: number): void {
    if (index < this.#offset || index > this.lastIndex()) return;
    if (this.#entries[index - this.#offset].term !== term) return;
    this.#entries = this.#entries.slice(index + 1 - this.#offset);
    this.#offset = index + 1;
  }

  /** Marks the pending snapshot at `index` persisted. */
  stableSnapTo(index: number): void {
    if (this.#snapshot && this.#snapshot.meta.index === index) this.#snapshot = undefined;
  }

  /** Replaces the log with `snapshot` (from the leader); it becomes unstable until persisted. */
  restore(snapshot: Snapshot): void {
    assertInvariant(
      snapshot.meta.index > this.committed,
      `snapshot ${snapshot.meta.index} is not beyond the commit index ${this.committed}`,
    );
    this.committed = snapshot.meta.index;
    this.#snapshot = snapshot;
    this.#entries = [];
    this.#offset = snapshot.meta.index + 1;
  }

  /** The snapshot the log starts from: the pending one, else the stored one. */
  snapshot(): Snapshot {
    return this.#snapshot ?? this.storage.snapshot();
  }
}
