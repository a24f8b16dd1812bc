import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import type { Segment } from "./segment.ts";
import { SegmentCache } from "./segment_cache.ts";

/** The part of a segment the cache uses, counting how often eviction looks at its pins. */
class FakeSegment {
  #pins = 0;
  loaded = true;
  dirty = false;
  unloads = 0;
  constructor(readonly name: string, readonly looks: { count: number }) {}
  get pins(): number {
    this.looks.count++;
    return this.#pins;
  }
  set pins(n: number) {
    this.#pins = n;
  }
  load(): Promise<string | undefined> {
    this.loaded = true;
    return Promise.resolve(undefined);
  }
  unload(): void {
    this.loaded = false;
    this.unloads++;
  }
}

function fakes(n: number, prefix: string, looks = { count: 0 }): FakeSegment[] {
  return Array.from({ length: n }, (_, i) => new FakeSegment(`${prefix}${i}`, looks));
}

const asSegment = (f: FakeSegment) => f as unknown as Segment;

/** Adopts each as an active segment: created loaded, pinned while active. */
function adoptPinned(cache: SegmentCache, segments: FakeSegment[]): void {
  for (const s of segments) {
    s.pins++;
    cache.adopt(asSegment(s));
  }
}

Deno.test("SegmentCache evicts the least recently used idle segment, never a pinned or dirty one", async () => {
  const cache = new SegmentCache(3);
  const [active] = fakes(1, "active");
  adoptPinned(cache, [active]);
  const old = fakes(4, "old");
  for (const s of old) {
    await cache.acquire(asSegment(s));
    cache.release(asSegment(s));
  }
  strictEqual(cache.loadedCount, 3);
  deepStrictEqual(old.map((s) => s.loaded), [false, false, true, true], "oldest idle go first");
  strictEqual(active.loaded, true);
  // A dirty idle segment stays until a flush reports it clean.
  old[2].dirty = true;
  await cache.acquire(asSegment(old[0]));
  deepStrictEqual(old.map((s) => s.loaded), [true, false, true, false], "old3 was the idle one");
  await cache.acquire(asSegment(old[1]));
  ok(old[2].loaded, "dirty: kept although least recently used");
  strictEqual(cache.loadedCount, 4, "over the bound while the only idle one is dirty");
  old[2].dirty = false;
  cache.trim([asSegment(old[2])]);
  strictEqual(old[2].loaded, false, "clean after the flush: evicted by trim");
  strictEqual(cache.loadedCount, 3);
  cache.release(asSegment(old[0]));
  cache.release(asSegment(old[1]));
  strictEqual(cache.loadedCount, 3);
  ok(old[0].loaded && old[1].loaded && active.loaded);
});

Deno.test("SegmentCache: an active segment released by a roll becomes evictable once flushed", () => {
  const cache = new SegmentCache(2);
  const [first, second, third] = fakes(3, "seg");
  adoptPinned(cache, [first]);
  first.dirty = true;
  // Roll: the new active is pinned, the old one unpinned but dirty.
  adoptPinned(cache, [second]);
  first.pins--;
  adoptPinned(cache, [third]);
  second.pins--;
  second.dirty = true;
  strictEqual(cache.loadedCount, 3, "nothing idle: both old segments are dirty");
  first.dirty = false;
  second.dirty = false;
  cache.trim([asSegment(first), asSegment(second)]);
  strictEqual(cache.loadedCount, 2);
  strictEqual(first.loaded, false);
  ok(second.loaded && third.loaded);
});

Deno.test("SegmentCache work per operation does not grow with the number of pinned segments", async () => {
  // 10,000 logs each pin their active segment (a broker with 10,000 partitions);
  // reads of old segments must not rescan all of them every time.
  const run = async (pinned: number) => {
    const looks = { count: 0 };
    const cache = new SegmentCache(256);
    adoptPinned(cache, fakes(pinned, "active", looks));
    const old = fakes(500, "old", looks);
    looks.count = 0;
    for (const s of old) {
      await cache.acquire(asSegment(s));
      cache.release(asSegment(s));
    }
    ok(old.slice(0, -1).every((s) => !s.loaded), "each old segment is evicted by the next read");
    return looks.count;
  };
  const small = await run(1_000);
  const large = await run(10_000);
  ok(
    large <= small * 1.5,
    `looks at pins for 500 reads: ${small} with 1,000 pinned, ${large} with 10,000`,
  );
  ok(large < 10 * 500, `${large} looks for 500 reads`);
});

Deno.test("SegmentCache forgets deleted segments wherever they are", () => {
  const cache = new SegmentCache(1);
  const [a, b] = fakes(2, "s");
  adoptPinned(cache, [a, b]);
  strictEqual(cache.loadedCount, 2, "both pinned: over the bound, held");
  cache.forget(asSegment(a));
  cache.forget(asSegment(b));
  strictEqual(cache.loadedCount, 0);
  strictEqual(a.unloads + b.unloads, 0, "forget does not unload: the log does");
});
