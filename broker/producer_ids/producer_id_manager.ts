/**
 * Hands out idempotent producer ids from blocks the active controller
 * allocates through the metadata log (the "producer-ids" controller op), so
 * ids are unique across the cluster and across restarts without a round trip
 * per producer. Like Kafka's `RPCProducerIdManager`, it asks for the next
 * block while the current one still has ids left, so callers rarely wait;
 * concurrent callers that do wait share one in-flight block request.
 *
 * @module
 */

import { StromError } from "@strom/client";
import type { ProducerIdSource } from "../api/data_plane.ts";

/** A block of ids: `firstProducerId` up to `firstProducerId + count - 1`. */
export interface ProducerIdBlock {
  readonly firstProducerId: number;
  readonly count: number;
}

/** Options of {@link ProducerIdManager}. */
export interface ProducerIdManagerOptions {
  /** Asks the controller for a new block (throws StromError on failure). */
  readonly allocateBlock: () => Promise<ProducerIdBlock>;
  /** Prefetch the next block once this fraction of the current one is used. Default 0.9. */
  readonly prefetchAtFraction?: number;
  /** Callers that may wait for a block at once; more fail fast with NOT_READY. Default 1000. */
  readonly waitersMax?: number;
}

/** Kafka starts every new producer id at epoch 0. */
const FIRST_PRODUCER_EPOCH = 0;

/** Ids from controller-allocated blocks, with the next block prefetched. */
export class ProducerIdManager implements ProducerIdSource {
  readonly #allocate: () => Promise<ProducerIdBlock>;
  readonly #prefetchAtFraction: number;
  readonly #waitersMax: number;
  /** Next id to hand out; `#next < #end` while the current block has ids left. */
  #next = 0;
  #end = 0;
  #prefetchAt = 0;
  /** A block fetched ahead, used once the current one runs out. */
  #spare: ProducerIdBlock | undefined;
  /** The one block request in flight, shared by every caller that needs it. */
  #inFlight: Promise<void> | undefined;
  #waiters = 0;

  constructor(options: ProducerIdManagerOptions) {
    this.#allocate = options.allocateBlock;
    this.#prefetchAtFraction = options.prefetchAtFraction ?? 0.9;
    this.#waitersMax = options.waitersMax ?? 1000;
  }

  /** The next unused producer id, at epoch 0. */
  async next(): Promise<{ producerId: number; producerEpoch: number }> {
    for (;;) {
      if (this.#next >= this.#end && this.#spare) this.#use(this.#spare);
      if (this.#next < this.#end) {
        const producerId = this.#next++;
        if (this.#next >= this.#prefetchAt && !this.#spare) this.#prefetch();
        return { producerId, producerEpoch: FIRST_PRODUCER_EPOCH };
      }
      if (this.#waiters >= this.#waitersMax) {
        throw new StromError(
          "NOT_READY",
          `${this.#waiters} requests already wait for a block of producer ids from the controller; retry shortly`,
        );
      }
      this.#waiters++;
      try {
        await this.#fetchBlock();
      } finally {
        this.#waiters--;
      }
    }
  }

  /** Starts a background block request; a failure is retried by the next caller that needs it. */
  #prefetch(): void {
    this.#fetchBlock().catch(() => {});
  }

  #fetchBlock(): Promise<void> {
    this.#inFlight ??= (async () => {
      try {
        const block = await this.#allocate();
        if (
          !Number.isSafeInteger(block.firstProducerId) || block.firstProducerId < 0 ||
          !Number.isSafeInteger(block.count) || block.count < 1
        ) {
          throw new StromError(
            "UNKNOWN_SERVER_ERROR",
            `the controller answered an invalid producer id block ${JSON.stringify(block)}`,
          );
        }
        if (this.#next >= this.#end) this.#use(block);
        else this.#spare = block;
      } finally {
        this.#inFlight = undefined;
      }
    })();
    return this.#inFlight;
  }

  #use(block: ProducerIdBlock): void {
    if (this.#spare === block) this.#spare = undefined;
    this.#next = block.firstProducerId;
    this.#end = block.firstProducerId + block.count;
    this.#prefetchAt = block.firstProducerId + Math.floor(block.count * this.#prefetchAtFraction);
  }
}
