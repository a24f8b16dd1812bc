/**
 * Pending acks=all produce requests of one partition leader (Kafka's
 * `DelayedProduce` purgatory), without timers: the driver calls
 * {@link ProducePurgatory.highWatermarkAdvanced} when the HW moves,
 * {@link ProducePurgatory.expire} on its tick, and
 * {@link ProducePurgatory.leadershipLost} when the leader resigns.
 *
 * Invariants:
 * - at most `requestsMax` requests and `bytesMax` bytes wait at once; past
 *   either, {@link ProducePurgatory.admit} refuses a new request with a
 *   retriable error *before* its records are appended, so nothing is written
 *   that no one waits for;
 * - requests wait in append order, so `lastOffset` increases along the queue
 *   and an HW advance completes a prefix of it;
 * - every admitted request completes exactly once: succeeded (the HW covers
 *   `lastOffset`, i.e. `lastOffset < HW`), NOT_ENOUGH_REPLICAS_AFTER_APPEND
 *   (covered, but the ISR shrank below min.insync.replicas meanwhile, as
 *   Kafka answers), NOT_LEADER_OR_FOLLOWER (leadership lost), or
 *   REQUEST_TIMED_OUT (deadline passed; the records may still commit).
 *
 * @module
 */

import type { StromError } from "@strom/client";
import { invariant } from "./_assert.ts";
import { PRODUCE_PURGATORY_BYTES_MAX, PRODUCE_PURGATORY_REQUESTS_MAX } from "./config.ts";
import { notEnoughReplicas, notLeader, produceTimedOut, purgatoryFull } from "./errors.ts";

/** One waiting acks=all request. */
export interface PendingProduce {
  /** The driver's handle for the HTTP request. */
  readonly requestId: number;
  /** The first offset the request's batches were given. */
  readonly baseOffset: number;
  /** The last offset of the request's batches; acknowledged once `lastOffset < HW`. */
  readonly lastOffset: number;
  /** Bytes of record batches, counted against `bytesMax`. */
  readonly sizeBytes: number;
  readonly deadlineMs: number;
  readonly minInsyncReplicas: number;
}

/** How a waiting request ended. */
export type ProduceCompletion =
  | {
    readonly requestId: number;
    readonly ok: true;
    readonly baseOffset: number;
    readonly lastOffset: number;
  }
  | { readonly requestId: number; readonly ok: false; readonly error: StromError };

/** Limits of one purgatory. */
export interface ProducePurgatoryOptions {
  readonly partition: string;
  readonly requestsMax?: number;
  readonly bytesMax?: number;
}

/** The waiting acks=all requests of one partition. */
export class ProducePurgatory {
  readonly partition: string;
  readonly requestsMax: number;
  readonly bytesMax: number;
  /** Append order; lastOffset strictly increases. */
  #queue: PendingProduce[] = [];
  /** Index of the first live entry of #queue (completed ones before it). */
  #head = 0;
  #bytes = 0;
  #count = 0;

  constructor(options: ProducePurgatoryOptions) {
    this.partition = options.partition;
    this.requestsMax = options.requestsMax ?? PRODUCE_PURGATORY_REQUESTS_MAX;
    this.bytesMax = options.bytesMax ?? PRODUCE_PURGATORY_BYTES_MAX;
  }

  /** Waiting requests. */
  get size(): number {
    return this.#count;
  }

  /** Bytes of the waiting requests. */
  get sizeBytes(): number {
    return this.#bytes;
  }

  /** Whether a request of `sizeBytes` may wait; call before appending its records. */
  admit(sizeBytes: number): StromError | undefined {
    if (this.#count + 1 > this.requestsMax || this.#bytes + sizeBytes > this.bytesMax) {
      return purgatoryFull(
        `the acks=all purgatory of ${this.partition}`,
        `${this.#count} of ${this.requestsMax} requests, ${this.#bytes} of ${this.bytesMax} bytes`,
      );
    }
    return undefined;
  }

  /**
   * Parks an appended request. If the HW already covers it (the ISR is the
   * leader alone), it completes at once and is returned.
   */
  add(request: PendingProduce, highWatermark: number, isrSize: number): ProduceCompletion[] {
    invariant(this.admit(request.sizeBytes) === undefined, () => `add() without admit()`);
    const last = this.#queue[this.#queue.length - 1];
    invariant(
      request.baseOffset <= request.lastOffset &&
        (last === undefined || request.baseOffset > last.lastOffset),
      () =>
        `request ${request.requestId} [${request.baseOffset}, ${request.lastOffset}] is not after ` +
        `the last waiting one (${last?.lastOffset})`,
    );
    this.#queue.push(request);
    this.#count++;
    this.#bytes += request.sizeBytes;
    return this.highWatermarkAdvanced(highWatermark, isrSize);
  }

  /** Completes every request the HW now covers. */
  highWatermarkAdvanced(highWatermark: number, isrSize: number): ProduceCompletion[] {
    const done: ProduceCompletion[] = [];
    while (this.#head < this.#queue.length) {
      const r = this.#queue[this.#head];
      if (r.lastOffset >= highWatermark) break;
      this.#head++;
      this.#release(r);
      done.push(
        isrSize >= r.minInsyncReplicas
          ? { requestId: r.requestId, ok: true, baseOffset: r.baseOffset, lastOffset: r.lastOffset }
          : {
            requestId: r.requestId,
            ok: false,
            error: notEnoughReplicas(this.partition, isrSize, r.minInsyncReplicas, true),
          },
      );
    }
    this.#compact();
    return done;
  }

  /** Times out requests whose deadline is ≤ `nowMs`. */
  expire(nowMs: number): ProduceCompletion[] {
    const done: ProduceCompletion[] = [];
    const live: PendingProduce[] = [];
    for (let i = this.#head; i < this.#queue.length; i++) {
      const r = this.#queue[i];
      if (r.deadlineMs > nowMs) {
        live.push(r);
        continue;
      }
      this.#release(r);
      done.push({
        requestId: r.requestId,
        ok: false,
        error: produceTimedOut(this.partition, r.lastOffset),
      });
    }
    if (done.length > 0) {
      this.#queue = live;
      this.#head = 0;
    }
    return done;
  }

  /** Fails every waiting request: this broker no longer leads. */
  leadershipLost(reason: string): ProduceCompletion[] {
    const done: ProduceCompletion[] = [];
    for (let i = this.#head; i < this.#queue.length; i++) {
      const r = this.#queue[i];
      this.#release(r);
      done.push({ requestId: r.requestId, ok: false, error: notLeader(this.partition, reason) });
    }
    this.#queue = [];
    this.#head = 0;
    return done;
  }

  #release(r: PendingProduce): void {
    this.#count--;
    this.#bytes -= r.sizeBytes;
    invariant(this.#count >= 0 && this.#bytes >= 0, () => `purgatory accounting went negative`);
  }

  /** Drops the completed prefix once it outweighs the live part. */
  #compact(): void {
    if (this.#head > 64 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }
}
