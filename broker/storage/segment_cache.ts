/**
 * Bounds how many segments are loaded (log handle open, indexes in memory) at
 * once, evicting the least recently used idle one. A segment is idle when no
 * read pins it and it has nothing unsynced; the active segment is pinned for
 * as long as it is active. Pinned segments count towards the bound but are
 * never evicted, so the bound can be exceeded by the number of concurrent
 * readers of distinct old segments, never by idle ones.
 *
 * One cache may be shared by all logs of a broker, making
 * `openSegmentFilesMax` a per-broker bound.
 *
 * @module
 */

import type { Segment } from "./segment.ts";

/** LRU of loaded segments. */
export class SegmentCache {
  /** Loaded segments, least recently used first (Set keeps insertion order). */
  #lru = new Set<Segment>();
  #loading = new Map<Segment, Promise<string | undefined>>();
  /** Called with a segment and the reason when loading had to rebuild its indexes. */
  onIndexRebuilt: ((segment: Segment, reason: string) => void) | undefined;

  constructor(readonly openSegmentFilesMax: number) {}

  /** Segments loaded right now. */
  get loadedCount(): number {
    return this.#lru.size;
  }

  /** Pins `segment` and loads it if needed. Pair with {@link release}. */
  async acquire(segment: Segment): Promise<void> {
    segment.pins++;
    try {
      if (!segment.loaded) {
        let loading = this.#loading.get(segment);
        if (!loading) {
          loading = segment.load();
          this.#loading.set(segment, loading);
          loading.finally(() => this.#loading.delete(segment)).catch(() => {});
        }
        const rebuilt = await loading;
        if (rebuilt !== undefined) this.onIndexRebuilt?.(segment, rebuilt);
      }
    } catch (error) {
      segment.pins--;
      throw error;
    }
    this.#lru.delete(segment);
    this.#lru.add(segment);
    this.#evict();
  }

  /** Unpins a segment acquired before. */
  release(segment: Segment): void {
    segment.pins--;
    this.#evict();
  }

  /** Registers a segment that was loaded outside the cache (created or recovered). */
  adopt(segment: Segment): void {
    this.#lru.delete(segment);
    this.#lru.add(segment);
    this.#evict();
  }

  /**
   * Unloads idle segments beyond the bound now. Segments rolled with unsynced
   * data cannot be evicted until a flush makes them clean; the log calls this
   * after each flush, so the bound holds even when no read comes by.
   */
  trim(): void {
    this.#evict();
  }

  /** Forgets a segment that is being deleted or unloaded by its log. */
  forget(segment: Segment): void {
    this.#lru.delete(segment);
  }

  #evict(): void {
    if (this.#lru.size <= this.openSegmentFilesMax) return;
    for (const segment of this.#lru) {
      if (this.#lru.size <= this.openSegmentFilesMax) return;
      if (segment.pins > 0 || segment.dirty) continue;
      segment.unload();
      this.#lru.delete(segment);
    }
  }
}
