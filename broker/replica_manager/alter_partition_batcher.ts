/**
 * Batches the ISR changes of a broker's partition leaders into few
 * controller requests (Kafka's `AlterPartitionManager`): each leader submits
 * its change and gets its own answer, but what is submitted while a request
 * is in flight goes out together in the next one, up to
 * {@link ALTER_PARTITION_BATCH_MAX} partitions. One request is in flight at a
 * time, so a broker whose thousands of followers all fell behind (or all came
 * back) sends a handful of requests, and the controller commits each as one
 * metadata entry, instead of one request and one entry per partition.
 *
 * Each partition's answer stands alone: a stale epoch refuses that partition
 * only. A request that fails as a whole (the controller is unreachable, the
 * broker's epoch is stale) fails every partition in it; each leader then
 * backs off and proposes again, as it did with one request per partition.
 *
 * @module
 */

import { StromError } from "@strom/client";
import type { Logger } from "../log.ts";
import type { PartitionState } from "../metadata/image.ts";
import { ALTER_PARTITION_BATCH_MAX, ALTER_PARTITION_QUEUE_MAX } from "./config.ts";

/** An ISR change of one partition (broker id and epoch are added by the sender). */
export interface AlterPartitionRequest {
  readonly topicId: string;
  readonly partition: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly isr: readonly number[];
}

/** The controller's answer for one partition of a batch. */
export type AlterPartitionResult =
  | { readonly ok: true; readonly state: PartitionState }
  | { readonly ok: false; readonly error: StromError };

/**
 * Sends a batch to the controller; resolves with one result per request, in
 * order. Rejects when the batch failed as a whole.
 */
export type AlterPartitionsSender = (
  requests: readonly AlterPartitionRequest[],
) => Promise<readonly AlterPartitionResult[]>;

interface Queued {
  readonly request: AlterPartitionRequest;
  readonly resolve: (state: PartitionState) => void;
  readonly reject: (error: unknown) => void;
}

/** See the module doc. */
export class AlterPartitionBatcher {
  #queue: Queued[] = [];
  #sending = false;
  #stopped = false;
  /** Requests sent, for tests and diagnostics. */
  batchesSent = 0;

  constructor(
    private readonly send: AlterPartitionsSender,
    private readonly logger: Logger,
    private readonly batchMax = ALTER_PARTITION_BATCH_MAX,
  ) {}

  /** Partitions waiting for the next request. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Submits one partition's change; resolves with the committed state. */
  submit(request: AlterPartitionRequest): Promise<PartitionState> {
    if (this.#stopped) {
      return Promise.reject(new StromError("SHUTTING_DOWN", "the broker is stopping"));
    }
    if (this.#queue.length >= ALTER_PARTITION_QUEUE_MAX) {
      return Promise.reject(
        new StromError(
          "NOT_READY",
          `${ALTER_PARTITION_QUEUE_MAX} ISR changes are waiting for the controller; retry shortly`,
        ),
      );
    }
    const { promise, resolve, reject } = Promise.withResolvers<PartitionState>();
    this.#queue.push({ request, resolve, reject });
    // Sent once the current task ends, so that what one pass over the partitions
    // proposes (a tick, a follower fetch) goes in one request.
    if (!this.#sending) {
      this.#sending = true;
      setTimeout(() => void this.#drain(), 0);
    }
    return promise;
  }

  /** Fails what is queued; a request in flight still delivers its answers. */
  stop(): void {
    this.#stopped = true;
    const error = new StromError("SHUTTING_DOWN", "the broker is stopping");
    for (const q of this.#queue.splice(0)) q.reject(error);
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.batchMax);
        this.batchesSent++;
        await this.#sendBatch(batch);
      }
    } finally {
      this.#sending = false;
    }
  }

  async #sendBatch(batch: Queued[]): Promise<void> {
    this.logger.info("asking the controller to change ISRs", { partitions: batch.length });
    let results: readonly AlterPartitionResult[];
    try {
      results = await this.send(batch.map((q) => q.request));
      if (results.length !== batch.length) {
        throw new StromError(
          "UNKNOWN_SERVER_ERROR",
          `the controller answered ${results.length} partitions for ${batch.length}`,
        );
      }
    } catch (e) {
      const error = e instanceof StromError ? e : new StromError("NETWORK_EXCEPTION", String(e));
      this.logger.warn("ISR change request failed", {
        partitions: batch.length,
        code: error.code,
        error: error.message,
      });
      for (const q of batch) q.reject(error);
      return;
    }
    const refused = new Map<string, number>();
    batch.forEach((q, i) => {
      const r = results[i];
      if (r.ok) {
        q.resolve(r.state);
        return;
      }
      refused.set(r.error.code, (refused.get(r.error.code) ?? 0) + 1);
      q.reject(r.error);
    });
    if (refused.size > 0) {
      this.logger.warn("the controller refused some ISR changes", {
        partitions: batch.length,
        refused: [...refused].map(([code, n]) => `${code}:${n}`).join(","),
      });
    }
  }
}
