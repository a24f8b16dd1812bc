/**
 * Two small async locks. The log serialises writers with a {@link Mutex} and
 * lets reads and flushes share a {@link RwLock} that truncation, deletion and
 * compaction swaps take exclusively, so no read ever sees a file shrink or
 * vanish under it.
 *
 * @module
 */

/**
 * A settled promise, shared as the tail of every idle queue or free lock: a
 * broker has several per partition replica (its queue, its log's lock, its
 * open file), up to 10,000 replicas, nearly all of them idle, and a settled
 * promise each is heap for nothing.
 */
export const SETTLED: Promise<void> = Promise.resolve();

/** A FIFO async mutex. */
export class Mutex {
  #tail: Promise<void> = SETTLED;

  /** Runs `body` once every earlier holder has finished. */
  async run<T>(body: () => Promise<T>): Promise<T> {
    const previous = this.#tail;
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    this.#tail = mine;
    await previous;
    try {
      return await body();
    } finally {
      release();
      if (this.#tail === mine) this.#tail = SETTLED;
    }
  }
}

/** A readers-writer lock that prefers a waiting writer over new readers. */
export class RwLock {
  #readers = 0;
  #writer = false;
  #waitingWriters: (() => void)[] = [];
  #waitingReaders: (() => void)[] = [];

  /** Runs `body` alongside other shared holders. */
  async shared<T>(body: () => Promise<T>): Promise<T> {
    if (this.#writer || this.#waitingWriters.length > 0) {
      await new Promise<void>((resolve) => this.#waitingReaders.push(resolve));
    } else {
      this.#readers++;
    }
    try {
      return await body();
    } finally {
      this.#readers--;
      this.#wake();
    }
  }

  /** Runs `body` alone. */
  async exclusive<T>(body: () => Promise<T>): Promise<T> {
    if (this.#writer || this.#readers > 0) {
      await new Promise<void>((resolve) => this.#waitingWriters.push(resolve));
    } else {
      this.#writer = true;
    }
    try {
      return await body();
    } finally {
      this.#writer = false;
      this.#wake();
    }
  }

  #wake(): void {
    if (this.#writer || this.#readers > 0) return;
    const writer = this.#waitingWriters.shift();
    if (writer) {
      this.#writer = true;
      writer();
      return;
    }
    const readers = this.#waitingReaders.splice(0);
    this.#readers += readers.length;
    for (const reader of readers) reader();
  }
}
