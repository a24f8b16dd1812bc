/**
 * A binary min-heap of simulator events ordered by time, then by insertion,
 * so that equal times pop in a deterministic order.
 *
 * @module
 */

/** An event in an {@link EventQueue}: when it is due, its insertion number, and the event. */
export interface QueuedEvent<T> {
  /** Simulated time the event is due. */
  readonly at: number;
  /** Insertion order, breaking ties between equal times. */
  readonly seq: number;
  /** The event itself. */
  readonly item: T;
}

/**
 * Events due at a time.
 *
 * @example
 * ```ts
 * import { EventQueue } from "@strom/raft/sim";
 * const q = new EventQueue<string>();
 * q.push(5, "later");
 * q.push(1, "sooner");
 * if (q.pop()?.item !== "sooner") throw new Error("order");
 * ```
 */
export class EventQueue<T> {
  #heap: QueuedEvent<T>[] = [];
  #seq = 0;

  /** Number of queued events. */
  get size(): number {
    return this.#heap.length;
  }

  /** Queues `item` to be due at time `at`. */
  push(at: number, item: T): void {
    const h = this.#heap;
    h.push({ at, seq: this.#seq++, item });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  /** Time of the earliest event, or Infinity. */
  peekTime(): number {
    return this.#heap.length > 0 ? this.#heap[0].at : Infinity;
  }

  /** Removes and returns the earliest event (ties: first pushed first). */
  pop(): QueuedEvent<T> | undefined {
    const h = this.#heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.#less(h[l], h[m])) m = l;
        if (r < h.length && this.#less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }

  /** Keeps only the events for which `keep` says so, in their original order. */
  filter(keep: (item: T) => boolean): void {
    const kept = this.#heap.filter((s) => keep(s.item));
    kept.sort((a, b) => (this.#less(a, b) ? -1 : 1));
    this.#heap = kept;
  }

  #less(a: QueuedEvent<T>, b: QueuedEvent<T>): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }
}
