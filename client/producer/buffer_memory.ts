/**
 * The producer's bounded buffer memory. Every record reserves its estimated
 * size when `send()` is called and returns it when its batch is answered.
 * When the memory is used up, reservations wait in FIFO order (so records
 * keep their order), at most `waitersMax` of them and at most `waitMsMax`
 * each; beyond either bound they fail with BUFFER_EXHAUSTED.
 *
 * @module
 */

import { StromError } from "../errors.ts";

interface Waiter {
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
  readonly cleanup: () => void;
}

/**
 * A byte budget with FIFO waiting.
 *
 * @example
 * ```ts
 * import { BufferMemory } from "@strom/client";
 * const memory = new BufferMemory({ bytesMax: 100, waitersMax: 10, waitMsMax: 1000 });
 * await memory.reserve(80);
 * const waiting = memory.reserve(40); // waits: only 20 bytes are free
 * memory.release(80);
 * await waiting;
 * console.log(memory.usedBytes); // 40
 * memory.release(40);
 * ```
 */
export class BufferMemory {
  readonly bytesMax: number;
  readonly waitersMax: number;
  readonly waitMsMax: number;
  #used = 0;
  readonly #waiters: Waiter[] = [];

  constructor(options: { bytesMax: number; waitersMax: number; waitMsMax: number }) {
    this.bytesMax = options.bytesMax;
    this.waitersMax = options.waitersMax;
    this.waitMsMax = options.waitMsMax;
  }

  /** Bytes reserved now. Invariant: 0 ≤ usedBytes ≤ bytesMax. */
  get usedBytes(): number {
    return this.#used;
  }

  /** Reservations waiting for memory. Invariant: ≤ waitersMax. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Reserves `bytes` if they are free now and nobody waits; returns whether it did. */
  tryReserve(bytes: number): boolean {
    if (this.#waiters.length > 0 || this.#used + bytes > this.bytesMax) return false;
    this.#used += bytes;
    return true;
  }

  /** Reserves `bytes`, waiting (FIFO) while the budget is used up. */
  reserve(bytes: number, signal?: AbortSignal): Promise<void> {
    if (bytes > this.bytesMax) {
      return Promise.reject(
        new StromError(
          "MESSAGE_TOO_LARGE",
          `a record of ${bytes} bytes cannot fit in the producer's buffer of ${this.bytesMax} bytes; raise bufferBytesMax`,
        ),
      );
    }
    if (this.#waiters.length === 0 && this.#used + bytes <= this.bytesMax) {
      this.#used += bytes;
      return Promise.resolve();
    }
    if (this.#waiters.length >= this.waitersMax) {
      return Promise.reject(
        new StromError(
          "BUFFER_EXHAUSTED",
          `${this.#waiters.length} sends already wait for buffer memory (sendsWaitingMax); await earlier sends before sending more`,
        ),
      );
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#remove(waiter);
        reject(
          new StromError(
            "BUFFER_EXHAUSTED",
            `waited ${this.waitMsMax} ms for ${bytes} bytes of buffer memory (${this.#used} of ${this.bytesMax} in use): the cluster does not keep up; check that the partition leaders are reachable`,
          ),
        );
      }, this.waitMsMax);
      const onAbort = () => {
        this.#remove(waiter);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      const waiter: Waiter = {
        bytes,
        resolve,
        reject,
        cleanup: () => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
        },
      };
      this.#waiters.push(waiter);
    });
  }

  /** Returns `bytes` and wakes the waiters that now fit, in order. */
  release(bytes: number): void {
    this.#used -= bytes;
    if (this.#used < 0) {
      throw new Error(`buffer memory released more than reserved (${this.#used})`);
    }
    this.#grant();
  }

  /** Fails every waiter with `error` (on close). */
  rejectAll(error: unknown): void {
    for (const w of this.#waiters.splice(0)) {
      w.cleanup();
      w.reject(error);
    }
  }

  #remove(waiter: Waiter): void {
    waiter.cleanup();
    const i = this.#waiters.indexOf(waiter);
    if (i >= 0) this.#waiters.splice(i, 1);
    // The head may have been the one blocking smaller waiters behind it.
    this.#grant();
  }

  #grant(): void {
    while (this.#waiters.length > 0 && this.#used + this.#waiters[0].bytes <= this.bytesMax) {
      const w = this.#waiters.shift()!;
      this.#used += w.bytes;
      w.cleanup();
      w.resolve();
    }
  }
}
