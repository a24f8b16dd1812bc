/**
 * Runs async operations one at a time, in submission order, with a bound on
 * how many may wait. A partition replica runs every log-changing operation
 * (leader append, follower append or truncation, role change, close)
 * through one of these, so they never interleave.
 *
 * @module
 */

import { StromError } from "@strom/client";
import { SETTLED } from "../storage/_locks.ts";

/** A FIFO of async operations, one running at a time. */
export class SerialQueue {
  /** The last operation's settlement; shared while the queue is empty. */
  #tail: Promise<unknown> = SETTLED;
  #size = 0;

  /** @param sizeMax Most operations running or waiting at once. */
  constructor(readonly sizeMax: number, private readonly what: string) {}

  /** Operations running or waiting. */
  get size(): number {
    return this.#size;
  }

  /**
   * Runs `operation` after every earlier one has settled. `essential`
   * operations (role changes, close) are never refused: dropping one would
   * leave the replica in a stale role; they are rare, so they cannot grow the
   * queue without bound.
   *
   * @throws {StromError} NOT_READY (retriable) when `sizeMax` operations wait already.
   */
  run<T>(operation: () => Promise<T>, options: { essential?: boolean } = {}): Promise<T> {
    if (this.#size >= this.sizeMax && !options.essential) {
      return Promise.reject(
        new StromError(
          "NOT_READY",
          `${this.what} has ${this.#size} operations queued (max ${this.sizeMax}); retry after a short backoff`,
        ),
      );
    }
    this.#size++;
    const run = this.#tail.then(operation);
    const settled = () => {
      if (--this.#size === 0) this.#tail = SETTLED;
    };
    this.#tail = run.then(settled, settled);
    return run;
  }
}
