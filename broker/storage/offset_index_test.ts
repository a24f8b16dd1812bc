import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { IndexCorruptError, OffsetIndex } from "./offset_index.ts";
import { TimeIndex } from "./time_index.ts";

Deno.test("lookup() finds the last entry at or below an offset, else the segment start", () => {
  const index = new OffsetIndex(100);
  index.append(110, 4_000);
  index.append(130, 9_000);
  deepStrictEqual(index.lookup(105), { offset: 100, position: 0 });
  deepStrictEqual(index.lookup(110), { offset: 110, position: 4_000 });
  deepStrictEqual(index.lookup(129), { offset: 110, position: 4_000 });
  deepStrictEqual(index.lookup(1_000), { offset: 130, position: 9_000 });
  index.truncateToOffset(130);
  strictEqual(index.entryCount, 1);
});

Deno.test("decode() refuses torn, unordered or out-of-log index files", () => {
  const index = new OffsetIndex(0);
  index.append(5, 100);
  index.append(9, 300);
  const bytes = index.encode();
  deepStrictEqual(OffsetIndex.decode(0, bytes, 400).lookup(9), { offset: 9, position: 300 });
  throws(() => OffsetIndex.decode(0, bytes.subarray(0, 12), 400), IndexCorruptError);
  throws(() => OffsetIndex.decode(0, bytes, 300), IndexCorruptError);
  throws(
    () =>
      OffsetIndex.decode(0, new Uint8Array([...bytes.subarray(8), ...bytes.subarray(0, 8)]), 400),
    IndexCorruptError,
  );
});

Deno.test("the time index keeps only rising timestamps and answers where to start scanning", () => {
  const index = new TimeIndex(0);
  strictEqual(index.maybeAppend(1_000, 0), true);
  strictEqual(index.maybeAppend(1_000, 5), false);
  strictEqual(index.maybeAppend(2_000, 8), true);
  strictEqual(index.lookup(500), 0);
  strictEqual(index.lookup(1_500), 0);
  strictEqual(index.lookup(2_500), 8);
  const decoded = TimeIndex.decode(0, index.encode());
  deepStrictEqual(decoded.lastEntry(), { timestampMs: 2_000, offset: 8 });
  throws(() => TimeIndex.decode(0, index.encode().subarray(0, 13)), IndexCorruptError);
});

Deno.test("indexes start without entry arrays and grow on append without touching each other", () => {
  const empty = new OffsetIndex(0);
  deepStrictEqual(empty.lookup(50), { offset: 0, position: 0 });
  strictEqual(empty.encode().length, 0);
  const a = new OffsetIndex(0);
  const b = new OffsetIndex(1_000);
  for (let i = 1; i <= 40; i++) a.append(i * 10, i * 100);
  b.append(1_005, 7);
  strictEqual(a.entryCount, 40);
  deepStrictEqual(a.lookup(395), { offset: 390, position: 3_900 });
  deepStrictEqual(b.lookup(2_000), { offset: 1_005, position: 7 });
  strictEqual(empty.entryCount, 0);
  deepStrictEqual(empty.lookup(50), { offset: 0, position: 0 });
  deepStrictEqual(OffsetIndex.decode(0, a.encode(), 4_001).lookup(395), a.lookup(395));
});
