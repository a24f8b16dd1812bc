/**
 * The storage contract of `@strom/raft`.
 *
 * The core reads the stable log synchronously through {@link RaftStorage}
 * (like etcd's `Storage`): implementations keep the entries after the last
 * snapshot addressable in memory, which is bounded because the application
 * compacts the log with snapshots. The driver writes through
 * {@link DurableRaftStorage.save}, whose promise resolves only once the write
 * is as durable as the storage promises (fsynced, for file storage with sync
 * on). Both the memory and the file implementation pass one contract suite.
 *
 * Invariants every implementation keeps:
 * - `firstIndex() === snapshot().meta.index + 1` and `lastIndex() >= snapshot().meta.index`;
 * - the entries `firstIndex()..lastIndex()` are dense, with non-decreasing terms;
 * - `term(snapshot().meta.index)` answers the snapshot's term;
 * - after `save({entries})`, any stored entry at or above `entries[0].index` that
 *   was not in `entries` is gone (a conflicting suffix is truncated);
 * - after a crash, `open` returns a prefix of what was saved, and everything
 *   whose `save` resolved (for durable storage) is in it.
 *
 * @module
 */

import type { ClusterConfig, Entry, HardState, Snapshot } from "./types.ts";

/** Thrown when asked for an index at or below the snapshot (already compacted). */
export class CompactedError extends Error {
  constructor(readonly index: number, readonly firstIndex: number) {
    super(`raft log index ${index} is compacted; the log starts at ${firstIndex}`);
    this.name = "CompactedError";
  }
}

/** Thrown when asked for an index above the last stored entry. */
export class UnavailableError extends Error {
  constructor(readonly index: number, readonly lastIndex: number) {
    super(`raft log index ${index} is not stored; the log ends at ${lastIndex}`);
    this.name = "UnavailableError";
  }
}

/** What a node finds on its disk when it starts. */
export interface InitialState {
  readonly hardState: HardState;
  /** The latest membership: from the last config entry in the log, else from the snapshot. */
  readonly config: ClusterConfig;
}

/** The read side, used by the core. All methods are synchronous. */
export interface RaftStorage {
  initialState(): InitialState;
  /** Entries with `lo <= index < hi`, at least one if any exist, at most `maxBytes` of data after the first. */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** The term of the entry at `index`; the snapshot's term at `snapshot().meta.index`. */
  term(index: number): number;
  firstIndex(): number;
  lastIndex(): number;
  snapshot(): Snapshot;
}

/** One unit of persistence handed over by the driver from a `Ready`. */
export interface StorageUpdate {
  /** A snapshot received from the leader: replaces the log up to its index. Applied first. */
  readonly snapshot?: Snapshot;
  /** Entries to append; a stored suffix that conflicts with them is truncated first. */
  readonly entries: readonly Entry[];
  /** Written last, so a vote or commit never refers to entries that are not stored. */
  readonly hardState?: HardState;
}

/** The write side, used by the driver. */
export interface DurableRaftStorage extends RaftStorage {
  /** Persists `update` in order (snapshot, entries, hard state); resolves once durable. */
  save(update: StorageUpdate): Promise<void>;
  /**
   * Installs a snapshot the application took locally at `snapshot.meta.index`
   * (≤ the applied index) and discards the log up to it.
   */
  compact(snapshot: Snapshot): Promise<void>;
  close(): Promise<void>;
}
