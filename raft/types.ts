/**
 * Shared value types of `@strom/raft`: log entries, hard state, cluster
 * membership and snapshots. These are plain data so that they can be persisted
 * by any storage and sent by any transport.
 *
 * @module
 */

/** A Raft node id. Positive integers; `0` is never a node. */
export type NodeId = number;

/** Marker for "no node" (no vote cast, no known leader). */
export const NO_NODE: NodeId = 0;

/**
 * What an entry carries.
 *
 * - `normal`: an application command (opaque bytes).
 * - `noop`: the empty entry a new leader appends to commit entries of earlier terms.
 * - `config`: a membership change (see the core's config-change codec).
 */
export type EntryKind = "normal" | "noop" | "config";

/** One entry of the replicated log. `index` starts at 1; `term` ≥ 1. */
export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly kind: EntryKind;
  readonly data: Uint8Array;
}

/**
 * The state a node must persist before it answers anything that depends on it.
 *
 * Invariant: `term` and `commit` never decrease on a node, across restarts.
 */
export interface HardState {
  readonly term: number;
  /** The node voted for in `term`, or {@link NO_NODE}. */
  readonly vote: NodeId;
  readonly commit: number;
}

/** The initial hard state of a node that has never run. */
export const EMPTY_HARD_STATE: HardState = { term: 0, vote: NO_NODE, commit: 0 };

/**
 * Cluster membership. Voters count towards quorums; learners receive the log
 * but never vote and never count (Kafka's observers: broker-only nodes).
 *
 * Invariant: `voters` and `learners` are disjoint and sorted ascending.
 */
export interface ClusterConfig {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/** Where a snapshot ends: the last entry it covers and the membership at that point. */
export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly config: ClusterConfig;
}

/** A snapshot of the application state machine at `meta.index`. */
export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

/** The snapshot a node starts from before any snapshot exists: index 0, term 0. */
export function emptySnapshot(config: ClusterConfig): Snapshot {
  return { meta: { index: 0, term: 0, config }, data: new Uint8Array(0) };
}
