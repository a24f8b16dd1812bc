import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import {
  BATCH_HEADER_BYTES,
  batchSizeBytes,
  compression,
  computeBatchCrc,
  CorruptBatchError,
  isControl,
  isTransactional,
  readBatchHeader,
  scanValidBatches,
  setBaseOffset,
  setLogAppendTime,
  setPartitionLeaderEpoch,
  splitBatches,
  timestampType,
  verifyBatchCrc,
} from "./header.ts";

/** Builds a header-only batch (no records) field by field, independently of the encoder. */
function headerOnlyBatch(attributes = 0, extraRecordBytes = 0): Uint8Array {
  const bytes = new Uint8Array(BATCH_HEADER_BYTES + extraRecordBytes);
  const view = new DataView(bytes.buffer);
  view.setBigInt64(0, 1000n);
  view.setInt32(8, bytes.length - 12);
  view.setInt32(12, 7);
  view.setInt8(16, 2);
  view.setInt16(21, attributes);
  view.setInt32(23, 4);
  view.setBigInt64(27, 1_700_000_000_000n);
  view.setBigInt64(35, 1_700_000_000_500n);
  view.setBigInt64(43, 99n);
  view.setInt16(51, 3);
  view.setInt32(53, 17);
  view.setInt32(57, 0);
  view.setUint32(17, computeBatchCrc(bytes));
  return bytes;
}

function assertCorrupt(fn: () => unknown, pattern: RegExp): void {
  throws(fn, (error: unknown) => {
    ok(error instanceof CorruptBatchError, `expected CorruptBatchError, got ${error}`);
    strictEqual(error.code, "CORRUPT_MESSAGE");
    ok(pattern.test(error.message), `message ${JSON.stringify(error.message)} ~ ${pattern}`);
    return true;
  });
}

Deno.test("readBatchHeader() reads every field of a hand-built header", () => {
  const batch = headerOnlyBatch(0x14);
  const header = readBatchHeader(batch);
  deepStrictEqual(header, {
    baseOffset: 1000,
    batchLength: 49,
    partitionLeaderEpoch: 7,
    magic: 2,
    crc: computeBatchCrc(batch),
    attributes: 0x14,
    lastOffsetDelta: 4,
    baseTimestamp: 1_700_000_000_000,
    maxTimestamp: 1_700_000_000_500,
    producerId: 99,
    producerEpoch: 3,
    baseSequence: 17,
    recordCount: 0,
  });
  strictEqual(batchSizeBytes(header), 61);
  strictEqual(compression(header.attributes), 4);
  ok(isTransactional(header.attributes));
  ok(!isControl(header.attributes));
  strictEqual(timestampType(header.attributes), "CreateTime");
  verifyBatchCrc(batch);
});

Deno.test("readBatchHeader() reads at a position inside a larger buffer", () => {
  const batch = headerOnlyBatch();
  const padded = new Uint8Array(batch.length + 5);
  padded.set(batch, 5);
  strictEqual(readBatchHeader(padded, 5).baseOffset, 1000);
});

Deno.test("readBatchHeader() refuses fewer than 61 bytes", () => {
  assertCorrupt(() => readBatchHeader(new Uint8Array(60)), /needs 61 bytes but only 60/);
  assertCorrupt(() => readBatchHeader(headerOnlyBatch(), 1), /only 60 remain/);
  assertCorrupt(() => readBatchHeader(headerOnlyBatch(), 100), /only 0 remain/);
});

Deno.test("readBatchHeader() refuses a magic other than 2", () => {
  const batch = headerOnlyBatch();
  batch[16] = 1;
  assertCorrupt(() => readBatchHeader(batch), /magic 1.*at byte 16/);
});

Deno.test("readBatchHeader() refuses a batchLength out of range", () => {
  const batch = headerOnlyBatch();
  new DataView(batch.buffer).setInt32(8, 48);
  assertCorrupt(() => readBatchHeader(batch), /batchLength 48 is outside/);
  new DataView(batch.buffer).setInt32(8, 0x7fffffff);
  assertCorrupt(() => readBatchHeader(batch), /batchLength 2147483647/);
  new DataView(batch.buffer).setInt32(8, -1);
  assertCorrupt(() => readBatchHeader(batch), /batchLength -1/);
});

Deno.test("readBatchHeader() refuses unknown codecs, negative counts and unsafe int64s", () => {
  assertCorrupt(() => readBatchHeader(headerOnlyBatch(5)), /unknown compression codec 5/);
  const negative = headerOnlyBatch();
  new DataView(negative.buffer).setInt32(57, -1);
  assertCorrupt(() => readBatchHeader(negative), /recordCount -1/);
  const unsafe = headerOnlyBatch();
  new DataView(unsafe.buffer).setBigInt64(43, 2n ** 53n);
  assertCorrupt(() => readBatchHeader(unsafe), /producerId is outside the safe integer range/);
  const negativeOffset = headerOnlyBatch();
  new DataView(negativeOffset.buffer).setBigInt64(0, -5n);
  assertCorrupt(() => readBatchHeader(negativeOffset), /baseOffset -5 is negative/);
});

Deno.test("verifyBatchCrc() detects a flipped bit in the CRC'd range", () => {
  const batch = headerOnlyBatch(0, 3);
  batch[62] ^= 0x10;
  assertCorrupt(() => verifyBatchCrc(batch), /CRC mismatch/);
});

Deno.test("verifyBatchCrc() refuses a truncated batch", () => {
  const batch = headerOnlyBatch(0, 10);
  assertCorrupt(() => verifyBatchCrc(batch.subarray(0, 65)), /truncated/);
});

Deno.test("setBaseOffset() and setPartitionLeaderEpoch() patch in place without breaking the CRC", () => {
  const batch = headerOnlyBatch();
  setBaseOffset(batch, 2 ** 53 - 1 - 4);
  setPartitionLeaderEpoch(batch, -1);
  verifyBatchCrc(batch);
  const header = readBatchHeader(batch);
  strictEqual(header.baseOffset, 2 ** 53 - 1 - 4);
  strictEqual(header.partitionLeaderEpoch, -1);
  throws(() => setBaseOffset(batch, -1), RangeError);
  throws(() => setBaseOffset(batch, 2 ** 53), RangeError);
  throws(() => setPartitionLeaderEpoch(batch, 2 ** 31), RangeError);
  assertCorrupt(() => setBaseOffset(new Uint8Array(10), 1), /needs 61 bytes/);
});

Deno.test("setLogAppendTime() sets the timestamp type and max timestamp and re-signs the CRC", () => {
  const batch = headerOnlyBatch(0x02);
  setLogAppendTime(batch, 1_800_000_000_000);
  verifyBatchCrc(batch);
  const header = readBatchHeader(batch);
  strictEqual(timestampType(header.attributes), "LogAppendTime");
  strictEqual(compression(header.attributes), 2);
  strictEqual(header.maxTimestamp, 1_800_000_000_000);
  const corrupt = headerOnlyBatch();
  corrupt[30] ^= 1;
  assertCorrupt(() => setLogAppendTime(corrupt, 1), /CRC mismatch/);
});

Deno.test("splitBatches() returns views of each concatenated batch", () => {
  const a = headerOnlyBatch(0, 4);
  const b = headerOnlyBatch(0, 0);
  const both = new Uint8Array(a.length + b.length);
  both.set(a);
  both.set(b, a.length);
  const parts = splitBatches(both);
  deepStrictEqual(parts.map((p) => p.length), [a.length, b.length]);
  strictEqual(parts[1].buffer, both.buffer);
  deepStrictEqual(splitBatches(new Uint8Array(0)), []);
});

Deno.test("splitBatches() refuses a partial trailing batch", () => {
  const a = headerOnlyBatch(0, 4);
  const torn = new Uint8Array(a.length * 2 - 1);
  torn.set(a);
  torn.set(a.subarray(0, a.length - 1), a.length);
  assertCorrupt(() => splitBatches(torn), /partial trailing batch.*at byte 65/);
});

Deno.test("scanValidBatches() stops at the first torn or corrupt batch", () => {
  const a = headerOnlyBatch(0, 4);
  const buffer = new Uint8Array(a.length * 3);
  buffer.set(a);
  buffer.set(a, a.length);
  buffer.set(a, a.length * 2);
  deepStrictEqual(scanValidBatches(buffer).validBytes, buffer.length);
  strictEqual(scanValidBatches(buffer).error, null);
  buffer[a.length + 30] ^= 1;
  const scan = scanValidBatches(buffer);
  strictEqual(scan.batches.length, 1);
  strictEqual(scan.validBytes, a.length);
  ok(scan.error instanceof CorruptBatchError);
  const torn = scanValidBatches(buffer.subarray(0, a.length + 20));
  strictEqual(torn.validBytes, a.length);
});
