/**
 * Errors of `@strom/raft`. Each carries a stable `code` (Kafka's name where
 * one exists), whether retrying later can succeed, and where useful the
 * leader a caller should go to instead.
 *
 * @module
 */

import { NO_NODE } from "./types.ts";
import type { NodeId } from "./types.ts";

/** Every error code the Raft package raises, with whether a retry can succeed. */
export const RAFT_ERROR_CODES = {
  /** This node is not the leader; `leaderId` names the leader if known. */
  NOT_LEADER: { retriable: true },
  /** The leader is handing leadership over and accepts no proposals meanwhile. */
  LEADER_TRANSFER_IN_PROGRESS: { retriable: true },
  /** Proposing would exceed `maxUncommittedEntriesBytes`; retry once entries commit. */
  UNCOMMITTED_BYTES_EXCEEDED: { retriable: true },
  /** One entry is larger than `maxSizePerMsgBytes`. */
  MESSAGE_TOO_LARGE: { retriable: false },
  /** An earlier membership change is not committed yet (one change at a time). */
  CONFIG_CHANGE_IN_PROGRESS: { retriable: true },
  /** The membership change makes no sense for the current membership. */
  INVALID_CONFIG_CHANGE: { retriable: false },
  /** A learner may become a voter only once its log has caught up with the commit index. */
  LEARNER_NOT_CAUGHT_UP: { retriable: true },
  /** Leadership can only be transferred to a voter other than the leader. */
  INVALID_TRANSFER_TARGET: { retriable: false },
  /** Too many ReadIndex requests are waiting. */
  READ_INDEX_QUEUE_FULL: { retriable: true },
  /** Bytes that are not a valid encoding (message, config change). */
  CORRUPT_MESSAGE: { retriable: false },
  /** A configuration value is missing or out of range. */
  INVALID_CONFIG: { retriable: false },
  /** The caller broke the API contract (e.g. `ready()` twice without `advance()`). */
  ILLEGAL_STATE: { retriable: false },
} as const;

/** A stable error code of `@strom/raft`. */
export type RaftErrorCode = keyof typeof RAFT_ERROR_CODES;

/**
 * An error with a stable code.
 *
 * @example
 * ```ts
 * import { RaftError } from "@strom/raft";
 * const error = new RaftError("NOT_LEADER", "node 2 is a follower", { leaderId: 1 });
 * if (!error.retriable || error.leaderId !== 1) throw new Error("unexpected");
 * ```
 */
export class RaftError extends Error {
  /** Stable code, see {@link RAFT_ERROR_CODES}. */
  readonly code: RaftErrorCode;
  /** Whether trying again later (possibly elsewhere) can succeed. */
  readonly retriable: boolean;
  /** The leader to ask instead, or {@link NO_NODE} if unknown. */
  readonly leaderId: NodeId;

  /** Creates an error with a stable `code`; `leaderId` names the leader to ask instead. */
  constructor(code: RaftErrorCode, message: string, options: { leaderId?: NodeId } = {}) {
    super(message);
    this.name = "RaftError";
    this.code = code;
    this.retriable = RAFT_ERROR_CODES[code].retriable;
    this.leaderId = options.leaderId ?? NO_NODE;
  }
}

/**
 * Thrown when an internal invariant breaks: a bug, never a user error.
 *
 * @example
 * ```ts
 * import { RaftInvariantError } from "@strom/raft";
 * const e = new RaftInvariantError("commit went backwards");
 * if (!e.message.includes("invariant")) throw new Error("unexpected message");
 * ```
 */
export class RaftInvariantError extends Error {
  /** Creates the error; `message` says which invariant broke. */
  constructor(message: string) {
    super(`raft invariant violated: ${message}`);
    this.name = "RaftInvariantError";
  }
}

/**
 * Throws {@link RaftInvariantError} unless `condition` holds. Assertions stay on in production.
 *
 * @example
 * ```ts
 * import { assertInvariant } from "@strom/raft";
 * assertInvariant(1 + 1 === 2, "arithmetic works");
 * ```
 */
export function assertInvariant(condition: boolean, message: string): asserts condition {
  if (!condition) throw new RaftInvariantError(message);
}
