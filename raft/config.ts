/**
 * The knobs of a Raft node, validated up front. Every limit is a named
 * maximum with a default.
 *
 * @module
 */

import { RaftError } from "./errors.ts";
import type { Prng } from "./prng.ts";
import type { NodeId } from "./types.ts";

/** Options of one Raft node. Only `id` and `random` are required. */
export interface RaftConfig {
  /** This node's id (a positive integer). */
  readonly id: NodeId;
  /** Randomness for election timeouts; seed it from a cryptographic source in production. */
  readonly random: Prng;
  /** Ticks without hearing from a leader before campaigning (randomized up to twice this). Default 10. */
  readonly electionTimeoutTicks?: number;
  /** Ticks between a leader's heartbeats. Default 1. */
  readonly heartbeatTicks?: number;
  /** Run a pre-vote round first, so a partitioned node cannot inflate terms. Default true. */
  readonly preVote?: boolean;
  /** A leader steps down if a majority is silent for an election timeout. Default true. */
  readonly checkQuorum?: boolean;
  /** Most entry bytes in one append message (at least one entry is always sent). Default 1 MiB. */
  readonly maxSizePerMsgBytes?: number;
  /** Most unacknowledged appends per follower while replicating. Default 256. */
  readonly maxInflightMsgs?: number;
  /** Most bytes of proposed but uncommitted entries a leader accepts. Default 64 MiB. */
  readonly maxUncommittedEntriesBytes?: number;
  /** Most snapshot bytes per snapshot chunk message. Default 1 MiB. */
  readonly maxSnapshotChunkBytes?: number;
  /** Largest snapshot a follower accepts from a leader. Default 1 GiB. */
  readonly maxSnapshotBytes?: number;
  /** Most entry bytes handed out as committed in one `Ready` (at least one entry). Default 16 MiB. */
  readonly maxCommittedSizePerReadyBytes?: number;
  /** Most ReadIndex requests waiting for confirmation on a leader. Default 4096. */
  readonly maxPendingReadIndexRequests?: number;
  /**
   * Most messages queued for sending between two `Ready` calls. Past it new
   * messages are dropped (and counted in `status().droppedMessages`): Raft
   * already tolerates lost messages, and a driver that stops draining must
   * not grow memory without bound. Default 65536.
   */
  readonly maxPendingMessages?: number;
  /** A follower forwards proposals to a known leader instead of refusing them. Default false. */
  readonly forwardProposals?: boolean;
  /** The index the application has already applied (on restart). Default: the snapshot's index. */
  readonly applied?: number;
}

/** A {@link RaftConfig} with every default filled in. */
export type ResolvedRaftConfig = Required<RaftConfig>;

const MIB = 1024 * 1024;

/**
 * Fills in defaults and validates; throws `INVALID_CONFIG` with the offending option.
 *
 * @example
 * ```ts
 * import { createPrng, resolveRaftConfig } from "@strom/raft";
 * const config = resolveRaftConfig({ id: 1, random: createPrng(1) });
 * if (config.electionTimeoutTicks !== 10 || !config.preVote) throw new Error("defaults");
 * ```
 */
export function resolveRaftConfig(config: RaftConfig): ResolvedRaftConfig {
  const c: ResolvedRaftConfig = {
    id: config.id,
    random: config.random,
    electionTimeoutTicks: config.electionTimeoutTicks ?? 10,
    heartbeatTicks: config.heartbeatTicks ?? 1,
    preVote: config.preVote ?? true,
    checkQuorum: config.checkQuorum ?? true,
    maxSizePerMsgBytes: config.maxSizePerMsgBytes ?? MIB,
    maxInflightMsgs: config.maxInflightMsgs ?? 256,
    maxUncommittedEntriesBytes: config.maxUncommittedEntriesBytes ?? 64 * MIB,
    maxSnapshotChunkBytes: config.maxSnapshotChunkBytes ?? MIB,
    maxSnapshotBytes: config.maxSnapshotBytes ?? 1024 * MIB,
    maxCommittedSizePerReadyBytes: config.maxCommittedSizePerReadyBytes ?? 16 * MIB,
    maxPendingReadIndexRequests: config.maxPendingReadIndexRequests ?? 4096,
    maxPendingMessages: config.maxPendingMessages ?? 65_536,
    forwardProposals: config.forwardProposals ?? false,
    applied: config.applied ?? 0,
  };
  const positive = [
    "id",
    "electionTimeoutTicks",
    "heartbeatTicks",
    "maxSizePerMsgBytes",
    "maxInflightMsgs",
    "maxUncommittedEntriesBytes",
    "maxSnapshotChunkBytes",
    "maxSnapshotBytes",
    "maxCommittedSizePerReadyBytes",
    "maxPendingReadIndexRequests",
    "maxPendingMessages",
  ] as const;
  for (const key of positive) {
    const v = c[key];
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new RaftError(
        "INVALID_CONFIG",
        `raft option ${key} must be a positive integer, got ${v}`,
      );
    }
  }
  if (!Number.isSafeInteger(c.applied) || c.applied < 0) {
    throw new RaftError("INVALID_CONFIG", `raft option applied must be ≥ 0, got ${c.applied}`);
  }
  if (c.heartbeatTicks >= c.electionTimeoutTicks) {
    throw new RaftError(
      "INVALID_CONFIG",
      `heartbeatTicks (${c.heartbeatTicks}) must be below electionTimeoutTicks (${c.electionTimeoutTicks})`,
    );
  }
  if (typeof c.random?.nextInt !== "function") {
    throw new RaftError("INVALID_CONFIG", "raft option random must be a Prng");
  }
  return c;
}
