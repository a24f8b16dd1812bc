/**
 * The follower side of one partition: where to fetch from, what to do with
 * the leader's answer, and the follower's high watermark (HW). Sans-I/O: the
 * driver sends the {@link FollowerFetchRequest}s this returns, appends or
 * truncates the local log as told, and reports the new log end offset (LEO).
 *
 * Fetching (KIP-595 style, no separate OffsetsForLeaderEpoch round): every
 * fetch starts at the LEO and carries the epoch of the last batch in the log
 * (`lastFetchedEpoch`). If the leader's log disagrees, it answers
 * `divergingEpoch {epoch, endOffset}`: the largest epoch it has that is ≤ the
 * follower's, and where that epoch ends in the leader's log. The follower
 * looks up the same epoch in its own cache and (Kafka's
 * `AbstractFetcherThread` rule):
 * - if it has that exact epoch, truncates to min(leader's end, own end) of
 *   it: the logs agree below that point;
 * - if it lacks that epoch, truncates to the end of its own largest epoch
 *   below it, and fetches again (the next answer narrows further);
 * - if the leader knows no epoch at all (-1), truncates to its HW.
 *
 * Invariants:
 * - at most one fetch is in flight (`FOLLOWER_FETCHES_IN_FLIGHT_MAX`); an
 *   answer to any other request (an abandoned one, one to an older leader, or
 *   one an earlier follower object sent) is ignored: requests are matched by
 *   identity, not by id, since ids restart with every follower object;
 * - `highWatermark ≤ logEndOffset`, and the HW never decreases;
 * - truncation never goes below the HW: offsets below it were committed (and
 *   may have been acknowledged with acks=all), and a leader elected from the
 *   ISR always has them. A truncation point below the HW is a bug, and throws.
 *
 * @module
 */

import type { StromError } from "@strom/client";
import { invariant } from "./_assert.ts";
import type { EpochEndOffset, EpochLookup, FollowerFetch } from "./leader_state.ts";
import { NO_EPOCH } from "./leader_state.ts";

/** One fetch in flight per follower partition, as Kafka's fetcher does. */
export const FOLLOWER_FETCHES_IN_FLIGHT_MAX = 1;

/** A fetch for the driver to send to the leader. */
export interface FollowerFetchRequest extends FollowerFetch {
  /** For logs; answers are matched to requests by object identity. */
  readonly requestId: number;
  readonly leaderId: number;
}

/** The leader's answer, as the driver decoded it. */
export type FollowerFetchResponse =
  | {
    /** Records from `fetchOffset` on (possibly none), and the leader's HW. */
    readonly kind: "read";
    readonly highWatermark: number;
  }
  | {
    readonly kind: "diverging";
    readonly divergingEpoch: EpochEndOffset;
    readonly highWatermark: number;
  }
  | { readonly kind: "error"; readonly error: StromError };

/** What the driver must do with an answer. */
export type FollowerAction =
  | {
    /**
     * Append the answer's records; the first must start at `baseOffset` (the
     * LEO). Then call {@link PartitionFollower.appended}.
     */
    readonly kind: "append";
    readonly baseOffset: number;
    readonly leaderHighWatermark: number;
  }
  | {
    /** Truncate the log (and its epoch cache) to `offset`, then call `truncated`. */
    readonly kind: "truncate";
    readonly offset: number;
  }
  | {
    /** Empty the log and start it at `offset` (the leader deleted what we need). */
    readonly kind: "truncateFullyAndStartAt";
    readonly offset: number;
  }
  | {
    /** Back off, refresh metadata if the error says so, then fetch again. */
    readonly kind: "backoff";
    readonly error: StromError;
  }
  /** A late answer to an abandoned request or an older leader: drop it. */
  | { readonly kind: "ignore" };

/** The local log, as the follower sees it. */
export interface FollowerLogView {
  readonly logEndOffset: number;
  readonly epochs: EpochLookup;
}

/** Options to construct a follower. */
export interface PartitionFollowerOptions {
  readonly partition: string;
  readonly localBrokerId: number;
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly logEndOffset: number;
  /** The replica's HW so far (kept across a leader → follower change). */
  readonly highWatermark: number;
}

/** The follower side of one partition. */
export class PartitionFollower {
  readonly partition: string;
  readonly localBrokerId: number;
  #leaderId: number;
  #leaderEpoch: number;
  /** ≤ #logEndOffset; never decreases. */
  #highWatermark: number;
  #logEndOffset: number;
  #inFlight: FollowerFetchRequest | undefined;
  #nextRequestId = 1;

  constructor(options: PartitionFollowerOptions) {
    invariant(
      0 <= options.highWatermark && options.highWatermark <= options.logEndOffset,
      () => `HW ${options.highWatermark} is outside [0, LEO ${options.logEndOffset}]`,
    );
    this.partition = options.partition;
    this.localBrokerId = options.localBrokerId;
    this.#leaderId = options.leaderId;
    this.#leaderEpoch = options.leaderEpoch;
    this.#highWatermark = options.highWatermark;
    this.#logEndOffset = options.logEndOffset;
  }

  get leaderId(): number {
    return this.#leaderId;
  }

  get leaderEpoch(): number {
    return this.#leaderEpoch;
  }

  get highWatermark(): number {
    return this.#highWatermark;
  }

  get logEndOffset(): number {
    return this.#logEndOffset;
  }

  /** The fetch awaiting an answer, if any. */
  get inFlight(): FollowerFetchRequest | undefined {
    return this.#inFlight;
  }

  /**
   * A new leader or leader epoch from the metadata image. Older epochs are
   * ignored; the in-flight fetch (to the old leader) is forgotten.
   */
  updateLeader(leaderId: number, leaderEpoch: number): void {
    if (leaderEpoch < this.#leaderEpoch) return;
    if (leaderEpoch === this.#leaderEpoch && leaderId === this.#leaderId) return;
    this.#leaderId = leaderId;
    this.#leaderEpoch = leaderEpoch;
    this.#inFlight = undefined;
  }

  /** The next fetch to send, or undefined while one is in flight. */
  nextFetch(log: FollowerLogView): FollowerFetchRequest | undefined {
    if (this.#inFlight !== undefined) return undefined;
    this.#syncLogEndOffset(log.logEndOffset);
    this.#inFlight = {
      requestId: this.#nextRequestId++,
      leaderId: this.#leaderId,
      replicaId: this.localBrokerId,
      currentLeaderEpoch: this.#leaderEpoch,
      fetchOffset: log.logEndOffset,
      lastFetchedEpoch: log.epochs.latestEpoch,
    };
    return this.#inFlight;
  }

  /** Gives up on the in-flight fetch (the driver's request timed out). */
  abandonFetch(request: FollowerFetchRequest): void {
    if (this.#inFlight === request) this.#inFlight = undefined;
  }

  /**
   * Decides what the answer to `request` (the object {@link nextFetch}
   * returned) means; the request stops being in flight.
   */
  handleFetchResponse(
    request: FollowerFetchRequest,
    response: FollowerFetchResponse,
    log: FollowerLogView,
  ): FollowerAction {
    if (this.#inFlight !== request) return { kind: "ignore" };
    this.#inFlight = undefined;
    if (log.logEndOffset !== request.fetchOffset) {
      // The log changed under the request; its answer no longer applies.
      return { kind: "ignore" };
    }
    switch (response.kind) {
      case "read":
        return {
          kind: "append",
          baseOffset: request.fetchOffset,
          leaderHighWatermark: response.highWatermark,
        };
      case "diverging":
        return { kind: "truncate", offset: this.truncationOffset(response.divergingEpoch, log) };
      case "error":
        return this.#onError(response.error, request);
    }
  }

  /** After an append: the new LEO, and the HW the leader sent with the records. */
  appended(logEndOffset: number, leaderHighWatermark: number): void {
    invariant(
      logEndOffset >= this.#logEndOffset,
      () =>
        `an append moved the LEO of ${this.partition} back from ${this.#logEndOffset} to ${logEndOffset}`,
    );
    this.#logEndOffset = logEndOffset;
    this.#highWatermark = Math.max(
      this.#highWatermark,
      Math.min(leaderHighWatermark, logEndOffset),
    );
  }

  /** After a truncation the driver did as told. */
  truncated(logEndOffset: number): void {
    invariant(
      logEndOffset >= this.#highWatermark,
      () => `${this.partition} truncated to ${logEndOffset}, below its HW ${this.#highWatermark}`,
    );
    this.#logEndOffset = logEndOffset;
  }

  /** After `truncateFullyAndStartAt(offset)`: everything below `offset` is gone. */
  restartedAt(offset: number): void {
    this.#logEndOffset = offset;
    this.#highWatermark = Math.max(this.#highWatermark, offset);
  }

  /**
   * Where to truncate on a diverging answer (see the module doc). Throws if
   * that would cut below the HW.
   */
  truncationOffset(diverging: EpochEndOffset, log: FollowerLogView): number {
    let offset: number;
    if (diverging.epoch === NO_EPOCH || diverging.endOffset < 0) {
      offset = this.#highWatermark;
    } else {
      const local = log.epochs.endOffsetFor(diverging.epoch);
      if (local.epoch === diverging.epoch || local.epoch === NO_EPOCH) {
        offset = local.endOffset < 0
          ? diverging.endOffset
          : Math.min(diverging.endOffset, local.endOffset);
      } else {
        offset = local.endOffset;
      }
    }
    offset = Math.min(offset, log.logEndOffset);
    invariant(
      offset >= this.#highWatermark,
      () =>
        `${this.partition} would truncate to ${offset}, below its HW ${this.#highWatermark} ` +
        `(leader's diverging epoch ${diverging.epoch} ends at ${diverging.endOffset})`,
    );
    return offset;
  }

  #onError(error: StromError, request: FollowerFetchRequest): FollowerAction {
    if (error.code === "OFFSET_OUT_OF_RANGE") {
      const start = error.details?.logStartOffset;
      const end = error.details?.logEndOffset;
      if (typeof start === "number" && request.fetchOffset < start) {
        return { kind: "truncateFullyAndStartAt", offset: start };
      }
      if (typeof end === "number" && request.fetchOffset > end) {
        // A log without epochs that ran past the leader: cut back to its end.
        return { kind: "truncate", offset: end };
      }
    }
    return { kind: "backoff", error };
  }

  #syncLogEndOffset(logEndOffset: number): void {
    invariant(
      logEndOffset >= this.#highWatermark,
      () => `the LEO ${logEndOffset} of ${this.partition} is below its HW ${this.#highWatermark}`,
    );
    this.#logEndOffset = logEndOffset;
  }
}
