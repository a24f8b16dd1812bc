import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { CorruptBatchError } from "../record_batch/corrupt_batch_error.ts";
import { DECOMPRESSED_BYTES_MAX } from "../record_batch/limits.ts";
import { computeBatchCrc } from "../record_batch/header.ts";
import { decodeRecordBatch, encodeRecordBatch } from "../record_batch/record_batch.ts";
import type { CompressionCodec } from "./codec.ts";
import { codecByCode, codecByName, loadCompressionCodecs } from "./codecs.ts";
import { gzipCodec } from "./gzip.ts";
import { lz4Codec } from "./lz4.ts";
import { snappyCodec } from "./snappy.ts";
import { zstdCodec } from "./zstd.ts";
import * as snappyWasm from "snappy-wasm";

const CODECS: CompressionCodec[] = [gzipCodec, snappyCodec, lz4Codec, zstdCodec];
const TESTDATA = new URL("./testdata/", import.meta.url);

/** The input the reference fixtures in testdata/ were made from (see testdata/README.md). */
function fixtureInput(): Uint8Array {
  const lines: string[] = [];
  for (let i = 0; i < 2500; i++) lines.push(`line ${i % 37} of the Strom compression fixture\n`);
  const text = new TextEncoder().encode(lines.join(""));
  const out = new Uint8Array(text.length + 256);
  out.set(text);
  for (let i = 0; i < 256; i++) out[text.length + i] = i;
  return out;
}

function assertCorrupt(fn: () => unknown, pattern?: RegExp): void {
  throws(fn, (error: unknown) => {
    ok(error instanceof CorruptBatchError, `expected CorruptBatchError, got ${error}`);
    if (pattern) ok(pattern.test(error.message), `${error.message} ~ ${pattern}`);
    return true;
  });
}

Deno.test("every codec round trips arbitrary bytes", async () => {
  await loadCompressionCodecs();
  fc.assert(
    fc.property(
      fc.constantFrom(...CODECS),
      fc.oneof(
        fc.uint8Array({ maxLength: 3000 }),
        fc.string().map((s) => new TextEncoder().encode(s.repeat(50))),
      ),
      (codec, bytes) => {
        deepStrictEqual(codec.decompress(codec.compress(bytes), bytes.length), bytes);
      },
    ),
    { seed: 99, numRuns: 200 },
  );
});

Deno.test("every codec round trips an input larger than its block sizes", async () => {
  await loadCompressionCodecs();
  const input = new Uint8Array(300_000).map((_, i) => (i * 31) % 251 ^ (i >> 9));
  for (const codec of CODECS) {
    deepStrictEqual(codec.decompress(codec.compress(input), input.length), input);
  }
});

Deno.test("codecs are found by Kafka id and name", () => {
  deepStrictEqual([1, 2, 3, 4].map((code) => codecByCode(code)?.name), [
    "gzip",
    "snappy",
    "lz4",
    "zstd",
  ]);
  strictEqual(codecByCode(0), undefined);
  strictEqual(codecByCode(5), undefined);
  strictEqual(codecByName("zstd").code, 4);
});

Deno.test("lz4 writes an LZ4 frame (magic 0x184D2204) and reads frames from the reference lz4 tool", async () => {
  const packed = lz4Codec.compress(new Uint8Array(100));
  strictEqual(new DataView(packed.buffer, packed.byteOffset).getUint32(0, true), 0x184d2204);
  const input = fixtureInput();
  for (const name of ["reference_default.lz4", "reference_linked_64k_checksums.lz4"]) {
    const frame = await Deno.readFile(new URL(name, TESTDATA));
    deepStrictEqual(lz4Codec.decompress(frame, input.length), input, name);
  }
});

Deno.test("zstd reads frames from the reference zstd tool, with and without a content size", async () => {
  await zstdCodec.load();
  const input = fixtureInput();
  for (const name of ["reference_streamed.zst", "reference_content_size.zst"]) {
    const frame = await Deno.readFile(new URL(name, TESTDATA));
    deepStrictEqual(zstdCodec.decompress(frame, input.length), input, name);
  }
});

Deno.test("zstd decodes concatenated frames", async () => {
  await zstdCodec.load();
  const a = zstdCodec.compress(new Uint8Array([1, 2, 3]));
  const b = zstdCodec.compress(new Uint8Array([4, 5]));
  deepStrictEqual(
    zstdCodec.decompress(new Uint8Array([...a, ...b]), 10),
    new Uint8Array([1, 2, 3, 4, 5]),
  );
});

Deno.test("snappy writes xerial framing, as Kafka's Java client does, and also reads raw snappy", async () => {
  await snappyCodec.load();
  const packed = snappyCodec.compress(new TextEncoder().encode("hello"));
  deepStrictEqual([...packed.subarray(0, 16)], [
    0x82,
    83,
    78,
    65,
    80,
    80,
    89,
    0,
    0,
    0,
    0,
    1,
    0,
    0,
    0,
    1,
  ]);
  const raw = snappyWasm.compress_raw(new TextEncoder().encode("raw raw raw raw"));
  strictEqual(new TextDecoder().decode(snappyCodec.decompress(raw, 100)), "raw raw raw raw");
});

Deno.test("every codec refuses output past its limit", async () => {
  await loadCompressionCodecs();
  const input = new Uint8Array(100_000);
  for (const codec of CODECS) {
    assertCorrupt(() => codec.decompress(codec.compress(input), input.length - 1), /limit/);
  }
});

Deno.test("every codec reports truncated or garbage input as CorruptBatchError", async () => {
  await loadCompressionCodecs();
  const input = fixtureInput();
  for (const codec of CODECS) {
    const packed = codec.compress(input);
    for (const cut of [0, 1, 5, 17, packed.length >> 1, packed.length - 1]) {
      assertCorrupt(() => codec.decompress(packed.subarray(0, cut), input.length));
    }
    assertCorrupt(() => codec.decompress(new Uint8Array(64).fill(0xff), input.length));
  }
});

/** Wraps a compressed records section in a valid batch header claiming `recordCount` records. */
function batchAround(codecId: number, records: Uint8Array, recordCount = 1): Uint8Array {
  const batch = new Uint8Array(61 + records.length);
  const view = new DataView(batch.buffer);
  view.setInt32(8, batch.length - 12);
  view.setInt32(12, -1);
  view.setInt8(16, 2);
  view.setInt16(21, codecId);
  view.setInt32(23, Math.max(0, recordCount - 1));
  view.setInt32(57, recordCount);
  batch.set(records, 61);
  view.setUint32(17, computeBatchCrc(batch));
  return batch;
}

async function assertBombRefused(batch: Uint8Array, pattern = /limit|inflate/): Promise<void> {
  let error: unknown = null;
  try {
    await decodeRecordBatch(batch);
  } catch (e) {
    error = e;
  }
  ok(error instanceof CorruptBatchError, `expected CorruptBatchError, got ${error}`);
  ok(pattern.test(error.message), error.message);
}

Deno.test("a gzip decompression bomb is refused at DECOMPRESSED_BYTES_MAX", async () => {
  const bomb = gzipSync(new Uint8Array(DECOMPRESSED_BYTES_MAX + 1), { level: 9 });
  await assertBombRefused(batchAround(1, bomb));
});

Deno.test("a snappy decompression bomb is refused before anything is allocated", async () => {
  // Raw snappy claiming 64 MiB + 1 from a few bytes.
  const claim = DECOMPRESSED_BYTES_MAX + 1;
  const raw = [
    0x80 | (claim & 0x7f),
    0x80 | ((claim >> 7) & 0x7f),
    0x80 | ((claim >> 14) & 0x7f),
    claim >> 21,
    0,
  ];
  await assertBombRefused(batchAround(2, new Uint8Array(raw)));
});

Deno.test("an lz4 decompression bomb is refused before anything is allocated", async () => {
  // 17 blocks of 4 MiB each, every block one literal and one long match.
  const matchLength = 4 * 1024 * 1024 - 2;
  let extra = matchLength - 4 - 15;
  const blockBody: number[] = [0x1f, 0x41, 0x01, 0x00];
  for (; extra >= 255; extra -= 255) blockBody.push(255);
  blockBody.push(extra, 0x10, 0x41);
  const frame: number[] = [0x04, 0x22, 0x4d, 0x18, 0x40, 0x70, 0x00];
  for (let i = 0; i < 17; i++) {
    const n = blockBody.length;
    frame.push(n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, 0, ...blockBody);
  }
  frame.push(0, 0, 0, 0);
  await assertBombRefused(batchAround(3, new Uint8Array(frame)));
});

Deno.test("a zstd decompression bomb is refused", async () => {
  // A frame without a content size holding 520 RLE blocks of 128 KiB each (65 MiB).
  const frame: number[] = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58];
  for (let i = 0; i < 520; i++) {
    const header = (i === 519 ? 1 : 0) | (1 << 1) | (128 * 1024 << 3);
    frame.push(header & 0xff, (header >> 8) & 0xff, (header >> 16) & 0xff, 0x00);
  }
  await assertBombRefused(batchAround(4, new Uint8Array(frame)));
  // And one stating a 1 TiB content size its blocks cannot hold.
  const stated = [0x28, 0xb5, 0x2f, 0xfd, 0xc0, 0x58, 0, 0, 0, 0, 0, 1, 0, 0, 0x01, 0x00, 0x00];
  await assertBombRefused(batchAround(4, new Uint8Array(stated)), /content size 1099511627776/);
});

Deno.test("a batch just under the limit still decodes", async () => {
  const value = new Uint8Array(1024 * 1024);
  const batch = await encodeRecordBatch({ records: [{ value }], compression: "zstd" });
  strictEqual((await decodeRecordBatch(batch)).records[0].value!.length, value.length);
});
