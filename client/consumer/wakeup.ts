/**
 * A wake-up call between the consumer's fetch loops and its readers: a
 * waiter parks on `wait()` until someone calls `notify()` (data arrived,
 * memory was freed, a partition resumed, the consumer closed).
 *
 * @module
 */

/**
 * Wakes every current waiter on `notify()`.
 *
 * @example
 * ```ts
 * import { Wakeup } from "@strom/client";
 * const w = new Wakeup();
 * const parked = w.wait();
 * w.notify();
 * await parked;
 * ```
 */
export class Wakeup {
  #waiters: (() => void)[] = [];

  /** Resolves at the next `notify()`. */
  wait(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Wakes every waiter. */
  notify(): void {
    for (const w of this.#waiters.splice(0)) w();
  }
}
