/**
 * Kafka's sticky partitioner for records without a key (KIP-480): all such
 * records of a topic go to one partition until its batch is sent, then to
 * another one chosen at random. Batches fill up faster than with round
 * robin, so fewer, larger requests carry the same records.
 *
 * @module
 */

/**
 * Chooses the partition of unkeyed records per topic.
 *
 * @example
 * ```ts
 * import { StickyPartitioner } from "@strom/client";
 * const sticky = new StickyPartitioner(() => 0.5);
 * const p = sticky.partition("orders", 6);
 * console.log(sticky.partition("orders", 6) === p); // true: sticks until the batch is sent
 * sticky.batchSealed("orders", p, 6);
 * console.log(sticky.partition("orders", 6) !== p); // true
 * ```
 */
export class StickyPartitioner {
  readonly #random: () => number;
  readonly #current = new Map<string, number>();

  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  /** The partition for the next unkeyed record of `topic`. */
  partition(topic: string, partitionCount: number): number {
    const current = this.#current.get(topic);
    if (current !== undefined && current < partitionCount) return current;
    return this.#choose(topic, partitionCount, current);
  }

  /** Tells the partitioner a batch of `topic`/`partition` is complete: move on if it was the sticky one. */
  batchSealed(topic: string, partition: number, partitionCount: number): void {
    if (this.#current.get(topic) === partition) this.#choose(topic, partitionCount, partition);
  }

  #choose(topic: string, partitionCount: number, previous: number | undefined): number {
    let next = Math.floor(this.#random() * partitionCount) % partitionCount;
    if (partitionCount > 1 && next === previous) {
      // Another partition than the one just filled, uniformly among the rest.
      next = (next + 1 + Math.floor(this.#random() * (partitionCount - 1))) % partitionCount;
      if (next === previous) next = (next + 1) % partitionCount;
    }
    this.#current.set(topic, next);
    return next;
  }
}
