/**
 * The errors the replica cores answer with: {@link StromError}s from the one
 * shared table, built here so that messages stay consistent and say what to
 * do.
 *
 * @module
 */

import { type ErrorCode, type LeaderHint, StromError } from "@strom/client";

export { StromError };

/**
 * A {@link StromError} without a stack trace. The errors built here are
 * answers, sent to a client or a follower, never a bug to trace; and some
 * come by the thousand: while a 10,000-partition topic opens, every fetch
 * round of a follower gets one per partition its leader has not opened yet,
 * and capturing a stack for each was a tenth of the broker's allocation
 * (sampling heap profile of the creation).
 */
export function answerError(
  code: ErrorCode,
  message: string,
  options?: ConstructorParameters<typeof StromError>[2],
): StromError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new StromError(code, message, options);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** The partition, for messages: `orders-0` or just `partition 0`. */
export type PartitionLabel = string;

/**
 * This broker does not (or no longer) lead the partition at the request's
 * epoch; `leader` is the leader it knows of, for the client to go to.
 */
export function notLeader(partition: PartitionLabel, why: string, leader?: LeaderHint): StromError {
  return answerError(
    "NOT_LEADER_OR_FOLLOWER",
    `this broker is not the leader of ${partition}: ${why}; refresh metadata and retry`,
    leader ? { leader } : undefined,
  );
}

/** The request carries an older leader epoch than this replica knows. */
export function fencedLeaderEpoch(
  partition: PartitionLabel,
  requestEpoch: number,
  currentEpoch: number,
): StromError {
  return answerError(
    "FENCED_LEADER_EPOCH",
    `leader epoch ${requestEpoch} of ${partition} is stale (now ${currentEpoch}); refresh metadata and retry`,
    { details: { requestEpoch, currentEpoch } },
  );
}

/** The ISR is smaller than min.insync.replicas. */
export function notEnoughReplicas(
  partition: PartitionLabel,
  isrSize: number,
  minInsyncReplicas: number,
  afterAppend: boolean,
): StromError {
  const when = afterAppend ? "the records were written to the leader, but " : "";
  return answerError(
    afterAppend ? "NOT_ENOUGH_REPLICAS_AFTER_APPEND" : "NOT_ENOUGH_REPLICAS",
    `${when}${partition} has ${isrSize} in-sync replica(s), fewer than min.insync.replicas=${minInsyncReplicas}; ` +
      `retry once followers catch up, or produce with acks=1`,
    { details: { isrSize, minInsyncReplicas } },
  );
}

/** A bounded purgatory is full; the request was not accepted and may be retried. */
export function purgatoryFull(what: string, detail: string): StromError {
  // No Kafka code fits "the broker is saturated, back off"; NOT_READY is the
  // retriable 503 in the shared table.
  return answerError("NOT_READY", `${what} is full (${detail}); retry after a short backoff`);
}

/** An acks=all request was not covered by the HW before its deadline. */
export function produceTimedOut(partition: PartitionLabel, lastOffset: number): StromError {
  return answerError(
    "REQUEST_TIMED_OUT",
    `acks=all for ${partition} up to offset ${lastOffset} timed out before all in-sync replicas had it; ` +
      `the records may or may not be committed (retry with an idempotent producer to avoid duplicates)`,
    // The contract (broker/api/README.md) states the outcome explicitly.
    { details: { lastOffset, outcome: "unknown" } },
  );
}

/** A fetch offset outside the log. */
export function offsetOutOfRange(
  partition: PartitionLabel,
  offset: number,
  logStartOffset: number,
  logEndOffset: number,
): StromError {
  return answerError(
    "OFFSET_OUT_OF_RANGE",
    `fetch offset ${offset} of ${partition} is outside the log [${logStartOffset}, ${logEndOffset}]`,
    { details: { offset, logStartOffset, logEndOffset } },
  );
}
