/**
 * Bounds how many segments are loaded (log handle open, indexes in memory) at
 * once, evicting the least recently used idle one. A segment is idle when no
 * read pins it and it has nothing unsynced; the active segment is pinned for
 * as long as it is active. Pinned segments count towards the bound but are
 * never evicted, so the bound can be exceeded by the number of concurrent
 * readers of distinct old segments, never by idle ones.
 *
 * One cache may be shared by all logs of a broker, making
 * `openSegmentFilesMax` a per-broker bound. A broker with 10,000 partitions
 * has 10,000 pinned active segments, so eviction must not look at them again
 * and again: a segment an eviction pass finds pinned or dirty is set aside
 * ("held") and becomes a candidate again only when the cache hears it may be
 * idle — {@link SegmentCache.release}, {@link SegmentCache.acquire},
 * {@link SegmentCache.adopt}, or {@link SegmentCache.trim} with the segments a
 * flush made clean. Every operation is O(1) amortized: each pass moves what it
 * visits out of the candidate list (held) or out of the cache (evicted).
 *
 * @module
 */

import type { Segment } from "./segment.ts";

/** LRU of loaded segments. */
export class SegmentCache {
  /** Eviction candidates, least recently used first (Set keeps insertion order). */
  #lru = new Set<Segment>();
  /** Loaded segments last seen pinned or dirty; not candidates until they may be idle. */
  #held = new Set<Segment>();
  #loading = new Map<Segment, Promise<string | undefined>>();
  /** Called with a segment and the reason when loading had to rebuild its indexes. */
  onIndexRebuilt: ((segment: Segment, reason: string) => void) | undefined;

  constructor(readonly openSegmentFilesMax: number) {}

  /** Segments loaded right now (as far as the cache knows them). */
  get loadedCount(): number {
    return this.#lru.size + this.#held.size;
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
    this.#touch(segment);
    this.#evict();
  }

  /** Unpins a segment acquired before. */
  release(segment: Segment): void {
    segment.pins--;
    this.#reconsider(segment);
    this.#evict();
  }

  /** Registers a segment that was loaded outside the cache (created or recovered). */
  adopt(segment: Segment): void {
    this.#touch(segment);
    this.#evict();
  }

  /**
   * Unloads idle segments beyond the bound now. Segments rolled with unsynced
   * data cannot be evicted until a flush makes them clean; the log calls this
   * after each flush with the segments it synced, so the bound holds even
   * when no read comes by.
   */
  trim(synced: Iterable<Segment> = []): void {
    for (const segment of synced) this.#reconsider(segment);
    this.#evict();
  }

  /** Forgets a segment that is being deleted or unloaded by its log. */
  forget(segment: Segment): void {
    this.#lru.delete(segment);
    this.#held.delete(segment);
  }

  /** Most recently used now. */
  #touch(segment: Segment): void {
    this.#held.delete(segment);
    this.#lru.delete(segment);
    this.#lru.add(segment);
  }

  /** A held segment that is idle now becomes a candidate again (most recently used). */
  #reconsider(segment: Segment): void {
    if (segment.pins > 0 || segment.dirty || !this.#held.has(segment)) return;
    this.#held.delete(segment);
    this.#lru.add(segment);
  }

  #evict(): void {
    if (this.loadedCount <= this.openSegmentFilesMax) return;
    for (const segment of this.#lru) {
      if (this.loadedCount <= this.openSegmentFilesMax) return;
      this.#lru.delete(segment);
      if (segment.pins > 0 || segment.dirty) {
        this.#held.add(segment);
        continue;
      }
      segment.unload();
    }
  }
}
