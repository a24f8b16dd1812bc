/**
 * Long-poll fetches waiting for data (Kafka's `DelayedFetch` purgatory),
 * without timers: a fetch with `minBytes` waits until that many bytes are
 * readable from its offset, or until `maxWaitMs` passes. The driver calls
 * {@link FetchPurgatory.logChanged} after appends and HW advances,
 * {@link FetchPurgatory.expire} on its tick, and answers the request ids
 * returned (reading the log afresh; this purgatory holds no records).
 *
 * What is readable differs by reader: a consumer reads below the HW, a
 * follower below the log end offset (LEO).
 *
 * Invariants:
 * - at most `requestsMax` fetches wait; a fetch that finds it full is
 *   answered at once with whatever is readable (a full purgatory degrades
 *   long polls into short ones instead of refusing them);
 * - every added fetch is returned exactly once (ready, expired, leadership
 *   lost, or removed by the driver);
 * - a fetch whose offset is no longer inside [logStartOffset, LEO] (the log
 *   was truncated or trimmed) is ready at once, so that the fetch
 *   path answers it with an error or a diverging epoch.
 *
 * @module
 */

import { invariant } from "./_assert.ts";
import { FETCH_PURGATORY_REQUESTS_MAX, FETCH_WAIT_MS_MAX } from "./config.ts";

/** Who reads, which decides the readable end. */
export type FetchReader = "consumer" | "follower";

/** One fetch that may wait. */
export interface DelayedFetchRequest {
  readonly requestId: number;
  readonly reader: FetchReader;
  readonly fetchOffset: number;
  /** Answer once this many bytes are readable; ≤ 0 never waits. */
  readonly minBytes: number;
  /** How long the client is willing to wait; capped at `FETCH_WAIT_MS_MAX`. */
  readonly maxWaitMs: number;
}

/** The log, as the purgatory needs it. */
export interface FetchableLog {
  readonly logStartOffset: number;
  readonly logEndOffset: number;
  readonly highWatermark: number;
  /** Bytes of the batches covering offsets [fromOffset, toOffset); cheap (index arithmetic). */
  bytesBetween(fromOffset: number, toOffset: number): number;
}

interface Waiting extends DelayedFetchRequest {
  readonly deadlineMs: number;
}

/** Result of {@link FetchPurgatory.add}. */
export type FetchAddResult = "answerNow" | "waiting";

/** The waiting fetches of one partition. */
export class FetchPurgatory {
  readonly requestsMax: number;
  readonly #waiting = new Map<number, Waiting>();

  constructor(options: { requestsMax?: number } = {}) {
    this.requestsMax = options.requestsMax ?? FETCH_PURGATORY_REQUESTS_MAX;
  }

  get size(): number {
    return this.#waiting.size;
  }

  /** Parks a fetch, or says to answer it now (ready already, or no room). */
  add(request: DelayedFetchRequest, log: FetchableLog, nowMs: number): FetchAddResult {
    invariant(
      !this.#waiting.has(request.requestId),
      () => `fetch ${request.requestId} added twice`,
    );
    if (request.maxWaitMs <= 0 || isReady(request, log)) return "answerNow";
    if (this.#waiting.size >= this.requestsMax) return "answerNow";
    const waitMs = Math.min(request.maxWaitMs, FETCH_WAIT_MS_MAX);
    this.#waiting.set(request.requestId, { ...request, deadlineMs: nowMs + waitMs });
    return "waiting";
  }

  /** The fetches that can now be answered; they leave the purgatory. */
  logChanged(log: FetchableLog): number[] {
    return this.#take((w) => isReady(w, log));
  }

  /** The fetches whose wait is over; answer them with whatever is readable. */
  expire(nowMs: number): number[] {
    return this.#take((w) => w.deadlineMs <= nowMs);
  }

  /** Every waiting fetch: the leader resigned; answer them (with an error). */
  leadershipLost(): number[] {
    return this.#take(() => true);
  }

  /** Forgets a fetch (its client went away); true if it was waiting. */
  remove(requestId: number): boolean {
    return this.#waiting.delete(requestId);
  }

  #take(predicate: (w: Waiting) => boolean): number[] {
    const ready: number[] = [];
    for (const [id, w] of this.#waiting) {
      if (!predicate(w)) continue;
      this.#waiting.delete(id);
      ready.push(id);
    }
    return ready;
  }
}

/** Whether a fetch would get `minBytes`, or must be answered with an error. */
function isReady(request: DelayedFetchRequest, log: FetchableLog): boolean {
  if (request.minBytes <= 0) return true;
  const end = request.reader === "consumer" ? log.highWatermark : log.logEndOffset;
  if (request.fetchOffset < log.logStartOffset || request.fetchOffset > log.logEndOffset) {
    return true;
  }
  // A consumer may be ahead of a new leader's HW (it read below the old
  // leader's): it waits for the HW to catch up, as Kafka's consumers do.
  if (request.fetchOffset >= end) return false;
  return log.bytesBetween(request.fetchOffset, end) >= request.minBytes;
}
