import { deepStrictEqual, ok, rejects, strictEqual, throws } from "node:assert/strict";
import fc from "fast-check";
import {
  compression,
  CorruptBatchError,
  isControl,
  isTransactional,
  readBatchHeader,
  setBaseOffset,
  setLogAppendTime,
  timestampType,
} from "./header.ts";
import {
  decodeRecordBatch,
  decodeRecordBatches,
  decodeRecordBatchSync,
  encodeRecordBatch,
  encodeRecordBatchSync,
} from "./record_batch.ts";
import type { RecordInput } from "./records.ts";
import { loadCompressionCodecs } from "../compression/codecs.ts";

const text = new TextEncoder();
const CODECS = ["none", "gzip", "snappy", "lz4", "zstd"] as const;

const recordArbitrary: fc.Arbitrary<RecordInput> = fc.record({
  key: fc.option(fc.uint8Array({ maxLength: 40 }), { nil: null }),
  value: fc.option(fc.uint8Array({ maxLength: 300 }), { nil: null }),
  headers: fc.array(
    fc.record({
      key: fc.string({ unit: "grapheme", maxLength: 12 }),
      value: fc.option(fc.uint8Array({ maxLength: 20 }), { nil: null }),
    }),
    { maxLength: 3 },
  ),
  timestamp: fc.integer({ min: 0, max: 2 ** 45 }),
});

Deno.test("a batch round trips through encode and decode for arbitrary records and codecs", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(recordArbitrary, { minLength: 1, maxLength: 20 }),
      fc.constantFrom(...CODECS),
      fc.integer({ min: 0, max: 2 ** 50 }),
      fc.integer({ min: -1, max: 2 ** 40 }),
      async (records, codec, baseOffset, producerId) => {
        const batch = await encodeRecordBatch({
          records,
          compression: codec,
          baseOffset,
          producerId,
          producerEpoch: 3,
          baseSequence: 100,
          partitionLeaderEpoch: 9,
        });
        const { header, records: decoded } = await decodeRecordBatch(batch);
        strictEqual(header.recordCount, records.length);
        strictEqual(header.lastOffsetDelta, records.length - 1);
        strictEqual(header.baseOffset, baseOffset);
        strictEqual(header.producerId, producerId);
        strictEqual(header.baseTimestamp, records[0].timestamp);
        strictEqual(header.maxTimestamp, Math.max(...records.map((r) => r.timestamp!)));
        strictEqual(compression(header.attributes), ["none", ...CODECS.slice(1)].indexOf(codec));
        deepStrictEqual(
          decoded,
          records.map((r, i) => ({
            offset: baseOffset + i,
            timestamp: r.timestamp,
            key: r.key,
            value: r.value,
            headers: r.headers!.map((h) => ({ key: h.key, value: h.value })),
          })),
        );
      },
    ),
    { seed: 20240601, numRuns: 150 },
  );
});

Deno.test("encodeRecordBatch() lays out an uncompressed batch byte for byte as Kafka does", async () => {
  const batch = await encodeRecordBatch({
    records: [{ key: text.encode("k"), value: text.encode("v"), timestamp: 1000 }],
    baseOffset: 5,
  });
  const hex = (bytes: Uint8Array) =>
    [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  strictEqual(
    hex(batch),
    "0000000000000005" + // baseOffset
      "0000003a" + // batchLength = 70 - 12
      "ffffffff" + // partitionLeaderEpoch -1
      "02" + // magic
      hex(batch.subarray(17, 21)) + // crc (checked below)
      "0000" + // attributes
      "00000000" + // lastOffsetDelta
      "00000000000003e8" + // baseTimestamp 1000
      "00000000000003e8" + // maxTimestamp
      "ffffffffffffffff" + // producerId -1
      "ffff" + // producerEpoch -1
      "ffffffff" + // baseSequence -1
      "00000001" + // recordCount
      "10" + // record length 8 (zigzag 16)
      "00" + // attributes
      "00" + // timestampDelta 0
      "00" + // offsetDelta 0
      "02" + "6b" + // key length 1, "k"
      "02" + "76" + // value length 1, "v"
      "00", // no headers
  );
  // CRC-32C of bytes 21.. (the kafkajs cross-check confirms it independently).
  strictEqual(readBatchHeader(batch).crc, 0x716a6189);
});

Deno.test("records without timestamps take the batch's base timestamp", async () => {
  const batch = await encodeRecordBatch({
    records: [{ value: null }, { value: null, timestamp: 50 }],
    baseTimestamp: 40,
  });
  const { header, records } = await decodeRecordBatch(batch);
  deepStrictEqual(records.map((r) => r.timestamp), [40, 50]);
  strictEqual(header.baseTimestamp, 40);
  strictEqual(header.maxTimestamp, 50);
});

Deno.test("attribute bits for transactional, control and LogAppendTime batches are set and read", async () => {
  const batch = await encodeRecordBatch({
    records: [{ value: null, timestamp: 10 }],
    transactional: true,
    control: true,
    timestampType: "LogAppendTime",
    compression: "lz4",
  });
  const { attributes } = readBatchHeader(batch);
  ok(isTransactional(attributes));
  ok(isControl(attributes));
  strictEqual(timestampType(attributes), "LogAppendTime");
  strictEqual(compression(attributes), 3);
});

Deno.test("records of a LogAppendTime batch report the broker's append time", async () => {
  const batch = await encodeRecordBatch({
    records: [{ value: null, timestamp: 10 }, { value: null, timestamp: 20 }],
    compression: "gzip",
  });
  setBaseOffset(batch, 700);
  setLogAppendTime(batch, 99_000);
  const { records } = await decodeRecordBatch(batch);
  deepStrictEqual(records.map((r) => [r.offset, r.timestamp]), [[700, 99_000], [701, 99_000]]);
});

Deno.test("an empty batch encodes and decodes", async () => {
  const batch = await encodeRecordBatch({ records: [] });
  const { header, records } = await decodeRecordBatch(batch);
  strictEqual(header.recordCount, 0);
  strictEqual(header.maxTimestamp, -1);
  deepStrictEqual(records, []);
});

Deno.test("decodeRecordBatches() decodes concatenated batches of different codecs", async () => {
  const parts = await Promise.all(
    CODECS.map((codec, i) =>
      encodeRecordBatch({
        records: [{ value: text.encode(codec) }],
        compression: codec,
        baseOffset: i,
      })
    ),
  );
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (all.set(p, at), at + p.length), 0);
  const decoded = await decodeRecordBatches(all);
  deepStrictEqual(
    decoded.map((b) => [b.records[0].offset, new TextDecoder().decode(b.records[0].value!)]),
    CODECS.map((codec, i) => [i, codec]),
  );
});

Deno.test("the sync functions handle every codec once the codecs are loaded", async () => {
  await loadCompressionCodecs();
  for (const codec of CODECS) {
    const batch = encodeRecordBatchSync({
      records: [{ value: text.encode("x") }],
      compression: codec,
    });
    strictEqual(decodeRecordBatchSync(batch).records.length, 1);
  }
});

Deno.test("encodeRecordBatch() refuses out-of-range options with a RangeError", async () => {
  await rejects(() => encodeRecordBatch({ records: [], baseOffset: -1 }), RangeError);
  await rejects(() => encodeRecordBatch({ records: [], producerEpoch: 40_000 }), RangeError);
  await rejects(
    () => encodeRecordBatch({ records: [{ value: null, timestamp: 0.5 }] }),
    RangeError,
  );
  await rejects(
    () =>
      encodeRecordBatch({
        records: [{ value: null, timestamp: Number.MAX_SAFE_INTEGER }],
        baseTimestamp: -10,
      }),
    RangeError,
  );
});

Deno.test("decodeRecordBatch() names the field and byte of a malformed record", async () => {
  const batch = encodeRecordBatchSync({
    records: [{ key: text.encode("abc"), value: null, timestamp: 0 }],
  });
  // Key length (byte 65) claims 7 bytes where 3 are; re-sign the CRC so the record parser sees it.
  batch[65] = 14;
  const { computeBatchCrc } = await import("./header.ts");
  new DataView(batch.buffer).setUint32(17, computeBatchCrc(batch));
  await rejects(() => decodeRecordBatch(batch), (error: unknown) => {
    ok(error instanceof CorruptBatchError);
    ok(/record 0 key length 7 is out of range \(at byte 65\)/.test(error.message), error.message);
    return true;
  });
});

Deno.test("decodeRecordBatchSync() refuses a batch whose CRC does not match", () => {
  const batch = encodeRecordBatchSync({ records: [{ value: text.encode("abc") }] });
  batch[batch.length - 2] ^= 0x40;
  throws(() => decodeRecordBatchSync(batch), /CRC mismatch/);
});

Deno.test("records may keep offset gaps, as a compacted batch does", async () => {
  const batch = await encodeRecordBatch({
    records: [{ value: null, offsetDelta: 1 }, { value: null, offsetDelta: 4 }],
    baseOffset: 100,
    lastOffsetDelta: 6,
    compression: "snappy",
  });
  const { header, records } = await decodeRecordBatch(batch);
  strictEqual(header.lastOffsetDelta, 6);
  deepStrictEqual(records.map((r) => r.offset), [101, 104]);
  await rejects(
    () =>
      encodeRecordBatch({
        records: [{ value: null, offsetDelta: 2 }, { value: null, offsetDelta: 2 }],
      }),
    /record 1 offsetDelta must be an integer in \[3,/,
  );
  await rejects(
    () => encodeRecordBatch({ records: [{ value: null, offsetDelta: 2 }], lastOffsetDelta: 1 }),
    /lastOffsetDelta/,
  );
});
