/**
 * The fixed 61-byte header of a Kafka record batch v2 (magic 2), all fields
 * big-endian:
 *
 * | byte | field                | type   | covered by CRC |
 * |-----:|----------------------|--------|:--------------:|
 * |    0 | baseOffset           | int64  | no             |
 * |    8 | batchLength          | int32  | no             |
 * |   12 | partitionLeaderEpoch | int32  | no             |
 * |   16 | magic (= 2)          | int8   | no             |
 * |   17 | crc (CRC-32C)        | uint32 | no             |
 * |   21 | attributes           | int16  | yes            |
 * |   23 | lastOffsetDelta      | int32  | yes            |
 * |   27 | baseTimestamp        | int64  | yes            |
 * |   35 | maxTimestamp         | int64  | yes            |
 * |   43 | producerId           | int64  | yes            |
 * |   51 | producerEpoch        | int16  | yes            |
 * |   53 | baseSequence         | int32  | yes            |
 * |   57 | recordCount          | int32  | yes            |
 * |   61 | records…             |        | yes            |
 *
 * Because the base offset and leader epoch sit before the CRC'd range, a
 * broker assigns offsets and stamps epochs by patching bytes in place.
 *
 * Offsets, timestamps and producer ids are JS `number`s: safe integers up to
 * 2^53 - 1. Bytes holding a larger value are refused as CORRUPT_MESSAGE.
 *
 * @module
 */

import { CorruptBatchError } from "./corrupt_batch_error.ts";
import { crc32c } from "./crc32c.ts";
import { BATCH_BYTES_MAX } from "./limits.ts";
import { readInt64Safe, writeInt64 } from "./_int64.ts";

export { CorruptBatchError };

/**
 * Size of the fixed batch header, in bytes.
 *
 * @example
 * ```ts
 * import { BATCH_HEADER_BYTES } from "@strom/client";
 * console.log(BATCH_HEADER_BYTES); // 61
 * ```
 */
export const BATCH_HEADER_BYTES = 61;

/**
 * Bytes before the part that `batchLength` counts: baseOffset (8) and
 * batchLength (4). A whole batch is `BATCH_OVERHEAD_BYTES + batchLength` bytes.
 *
 * @example
 * ```ts
 * import { BATCH_OVERHEAD_BYTES } from "@strom/client";
 * console.log(BATCH_OVERHEAD_BYTES); // 12
 * ```
 */
export const BATCH_OVERHEAD_BYTES = 12;

/**
 * The only batch format version Strom reads and writes.
 *
 * @example
 * ```ts
 * import { MAGIC_V2 } from "@strom/client";
 * console.log(MAGIC_V2); // 2
 * ```
 */
export const MAGIC_V2 = 2;

/** Byte positions of the header fields within a batch. */
export const BATCH_FIELD_OFFSETS = {
  baseOffset: 0,
  batchLength: 8,
  partitionLeaderEpoch: 12,
  magic: 16,
  crc: 17,
  attributes: 21,
  lastOffsetDelta: 23,
  baseTimestamp: 27,
  maxTimestamp: 35,
  producerId: 43,
  producerEpoch: 51,
  baseSequence: 53,
  recordCount: 57,
  records: 61,
} as const;

/** Smallest legal batchLength: a header with no records. */
const BATCH_LENGTH_MIN = BATCH_HEADER_BYTES - BATCH_OVERHEAD_BYTES;
/** Largest legal batchLength, from the codec-wide batch size ceiling. */
const BATCH_LENGTH_MAX = BATCH_BYTES_MAX - BATCH_OVERHEAD_BYTES;

/** Attribute bits 0–2: compression codec. */
const ATTRIBUTE_COMPRESSION_MASK = 0x07;
/** Attribute bit 3: timestamp type (0 CreateTime, 1 LogAppendTime). */
export const ATTRIBUTE_TIMESTAMP_TYPE = 0x08;
/** Attribute bit 4: the batch is part of a transaction. */
export const ATTRIBUTE_TRANSACTIONAL = 0x10;
/** Attribute bit 5: the batch holds control records (transaction markers). */
export const ATTRIBUTE_CONTROL = 0x20;

/**
 * Compression codec ids as stored in attribute bits 0–2.
 *
 * @example
 * ```ts
 * import { COMPRESSION_CODES } from "@strom/client";
 * console.log(COMPRESSION_CODES.zstd); // 4
 * ```
 */
export const COMPRESSION_CODES = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;

/** A compression codec by name. */
export type CompressionName = keyof typeof COMPRESSION_CODES;
/** A compression codec id: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd. */
export type CompressionCode = (typeof COMPRESSION_CODES)[CompressionName];

const COMPRESSION_NAMES: readonly CompressionName[] = ["none", "gzip", "snappy", "lz4", "zstd"];

/** Whose clock a batch's timestamps come from. */
export type TimestampType = "CreateTime" | "LogAppendTime";

/**
 * The decoded fixed header of one record batch. Invariants once read by
 * {@linkcode readBatchHeader}: magic is 2, 49 ≤ batchLength ≤ BATCH_BYTES_MAX -
 * 12, the compression code is 0–4, baseOffset ≥ 0, lastOffsetDelta ≥ 0,
 * recordCount ≥ 0, and every 64-bit field is a safe integer.
 */
export interface BatchHeader {
  /** Offset of the first record; the broker overwrites it on append. */
  baseOffset: number;
  /** Bytes after the first 12 (from partitionLeaderEpoch to the end). */
  batchLength: number;
  /** Leader epoch of the broker that appended the batch; -1 from producers. */
  partitionLeaderEpoch: number;
  /** Format version; always 2. */
  magic: number;
  /** Stored CRC-32C of bytes 21 to the end of the batch, unsigned. */
  crc: number;
  /** Codec, timestamp type, transactional and control bits. */
  attributes: number;
  /** Offset of the last record minus baseOffset. */
  lastOffsetDelta: number;
  /** Timestamp of the first record, in ms since the epoch (-1 if none). */
  baseTimestamp: number;
  /** Largest record timestamp, or the log append time, in ms since the epoch. */
  maxTimestamp: number;
  /** Idempotent producer id, -1 if none. */
  producerId: number;
  /** Idempotent producer epoch, -1 if none. */
  producerEpoch: number;
  /** Sequence number of the first record, -1 if none. */
  baseSequence: number;
  /** Number of records in the batch. */
  recordCount: number;
}

/**
 * The compression codec id (attribute bits 0–2).
 *
 * @example
 * ```ts
 * import { compression } from "@strom/client";
 * console.log(compression(0x04)); // 4 (zstd)
 * ```
 */
export function compression(attributes: number): CompressionCode {
  return (attributes & ATTRIBUTE_COMPRESSION_MASK) as CompressionCode;
}

/**
 * The codec name for a codec id, e.g. `"gzip"` for 1.
 *
 * @example
 * ```ts
 * import { compressionName } from "@strom/client";
 * console.log(compressionName(2)); // "snappy"
 * ```
 */
export function compressionName(code: CompressionCode): CompressionName {
  return COMPRESSION_NAMES[code];
}

/**
 * Whether attribute bit 4 (transactional) is set.
 *
 * @example
 * ```ts
 * import { isTransactional } from "@strom/client";
 * console.log(isTransactional(0x10)); // true
 * ```
 */
export function isTransactional(attributes: number): boolean {
  return (attributes & ATTRIBUTE_TRANSACTIONAL) !== 0;
}

/**
 * Whether attribute bit 5 (control batch) is set.
 *
 * @example
 * ```ts
 * import { isControl } from "@strom/client";
 * console.log(isControl(0x20)); // true
 * ```
 */
export function isControl(attributes: number): boolean {
  return (attributes & ATTRIBUTE_CONTROL) !== 0;
}

/**
 * The timestamp type from attribute bit 3.
 *
 * @example
 * ```ts
 * import { timestampType } from "@strom/client";
 * console.log(timestampType(0x08)); // "LogAppendTime"
 * ```
 */
export function timestampType(attributes: number): TimestampType {
  return (attributes & ATTRIBUTE_TIMESTAMP_TYPE) !== 0 ? "LogAppendTime" : "CreateTime";
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function int64Field(view: DataView, start: number, field: keyof BatchHeader): number {
  const at = start + BATCH_FIELD_OFFSETS[field];
  const value = readInt64Safe(view, at);
  if (value === undefined) {
    throw new CorruptBatchError(`${field} is outside the safe integer range ±(2^53 - 1)`, at);
  }
  return value;
}

/**
 * Reads and validates the 61-byte header of the batch starting at `pos`.
 * Reads only those 61 bytes: it does not check that the whole batch is present
 * nor its CRC (see {@linkcode splitBatches} and {@linkcode verifyBatchCrc}).
 *
 * @param bytes Bytes holding the batch.
 * @param pos Where the batch starts in `bytes` (default 0).
 * @throws {CorruptBatchError} If fewer than 61 bytes remain, magic ≠ 2,
 *   batchLength is out of range, the codec is unknown, or a field is invalid.
 *
 * @example Read the header of an encoded batch
 * ```ts
 * import { encodeRecordBatch, readBatchHeader } from "@strom/client";
 *
 * const batch = await encodeRecordBatch({ records: [{ value: new Uint8Array([1]) }] });
 * console.log(readBatchHeader(batch).recordCount); // 1
 * ```
 */
export function readBatchHeader(bytes: Uint8Array, pos = 0): BatchHeader {
  if (!Number.isInteger(pos) || pos < 0 || bytes.length - pos < BATCH_HEADER_BYTES) {
    throw new CorruptBatchError(
      `batch header needs ${BATCH_HEADER_BYTES} bytes but only ${
        Math.max(0, bytes.length - pos)
      } remain`,
      pos,
    );
  }
  const view = viewOf(bytes);
  const magic = view.getInt8(pos + BATCH_FIELD_OFFSETS.magic);
  if (magic !== MAGIC_V2) {
    throw new CorruptBatchError(
      `unsupported magic ${magic}; only record batch v2 is supported`,
      pos + BATCH_FIELD_OFFSETS.magic,
    );
  }
  const batchLength = view.getInt32(pos + BATCH_FIELD_OFFSETS.batchLength);
  if (batchLength < BATCH_LENGTH_MIN || batchLength > BATCH_LENGTH_MAX) {
    throw new CorruptBatchError(
      `batchLength ${batchLength} is outside [${BATCH_LENGTH_MIN}, ${BATCH_LENGTH_MAX}]`,
      pos + BATCH_FIELD_OFFSETS.batchLength,
    );
  }
  const attributes = view.getInt16(pos + BATCH_FIELD_OFFSETS.attributes);
  const codec = attributes & ATTRIBUTE_COMPRESSION_MASK;
  if (codec > COMPRESSION_CODES.zstd) {
    throw new CorruptBatchError(
      `unknown compression codec ${codec} in attributes`,
      pos + BATCH_FIELD_OFFSETS.attributes,
    );
  }
  const baseOffset = int64Field(view, pos, "baseOffset");
  if (baseOffset < 0) {
    throw new CorruptBatchError(`baseOffset ${baseOffset} is negative`, pos);
  }
  const lastOffsetDelta = view.getInt32(pos + BATCH_FIELD_OFFSETS.lastOffsetDelta);
  if (lastOffsetDelta < 0 || !Number.isSafeInteger(baseOffset + lastOffsetDelta)) {
    throw new CorruptBatchError(
      `lastOffsetDelta ${lastOffsetDelta} is negative or overflows the offset range`,
      pos + BATCH_FIELD_OFFSETS.lastOffsetDelta,
    );
  }
  const recordCount = view.getInt32(pos + BATCH_FIELD_OFFSETS.recordCount);
  if (recordCount < 0) {
    throw new CorruptBatchError(
      `recordCount ${recordCount} is negative`,
      pos + BATCH_FIELD_OFFSETS.recordCount,
    );
  }
  return {
    baseOffset,
    batchLength,
    partitionLeaderEpoch: view.getInt32(pos + BATCH_FIELD_OFFSETS.partitionLeaderEpoch),
    magic,
    crc: view.getUint32(pos + BATCH_FIELD_OFFSETS.crc),
    attributes,
    lastOffsetDelta,
    baseTimestamp: int64Field(view, pos, "baseTimestamp"),
    maxTimestamp: int64Field(view, pos, "maxTimestamp"),
    producerId: int64Field(view, pos, "producerId"),
    producerEpoch: view.getInt16(pos + BATCH_FIELD_OFFSETS.producerEpoch),
    baseSequence: view.getInt32(pos + BATCH_FIELD_OFFSETS.baseSequence),
    recordCount,
  };
}

/**
 * Whole size of a batch in bytes, prefix included.
 *
 * @example
 * ```ts
 * import { batchSizeBytes, encodeRecordBatch, readBatchHeader } from "@strom/client";
 *
 * const batch = await encodeRecordBatch({ records: [{ value: null }] });
 * console.log(batchSizeBytes(readBatchHeader(batch)) === batch.length); // true
 * ```
 */
export function batchSizeBytes(header: Pick<BatchHeader, "batchLength">): number {
  return BATCH_OVERHEAD_BYTES + header.batchLength;
}

/**
 * The CRC-32C a batch should store: over bytes 21 to the end of the batch.
 * `batch` must hold exactly one whole batch.
 *
 * @example
 * ```ts
 * import { computeBatchCrc, encodeRecordBatch, readBatchHeader } from "@strom/client";
 *
 * const batch = await encodeRecordBatch({ records: [{ value: null }] });
 * console.log(computeBatchCrc(batch) === readBatchHeader(batch).crc); // true
 * ```
 */
export function computeBatchCrc(batch: Uint8Array): number {
  return crc32c(batch.subarray(BATCH_FIELD_OFFSETS.attributes));
}

/**
 * Checks the stored CRC-32C of the batch at the start of `batch` against the
 * bytes. Only the batch's own `12 + batchLength` bytes are checked; anything
 * after them is ignored.
 *
 * @throws {CorruptBatchError} If the header is invalid, the batch is
 *   truncated, or the CRC does not match.
 *
 * @example
 * ```ts
 * import { encodeRecordBatch, verifyBatchCrc } from "@strom/client";
 *
 * const batch = await encodeRecordBatch({ records: [{ value: new Uint8Array([7]) }] });
 * verifyBatchCrc(batch); // passes
 * batch[batch.length - 1] ^= 1;
 * try { verifyBatchCrc(batch); } catch (e) { console.log((e as Error).message); }
 * ```
 */
export function verifyBatchCrc(batch: Uint8Array): void {
  const header = readBatchHeader(batch);
  const size = batchSizeBytes(header);
  if (batch.length < size) {
    throw new CorruptBatchError(
      `batch is truncated: batchLength says ${size} bytes but only ${batch.length} are present`,
      batch.length,
    );
  }
  const actual = computeBatchCrc(batch.subarray(0, size));
  if (actual !== header.crc) {
    throw new CorruptBatchError(
      `CRC mismatch: stored 0x${header.crc.toString(16).padStart(8, "0")}, computed 0x${
        actual.toString(16).padStart(8, "0")
      }`,
      BATCH_FIELD_OFFSETS.crc,
    );
  }
}

/**
 * Sets the base offset of the batch at the start of `batch`, in place. The
 * field is outside the CRC'd range, so no re-encoding is needed.
 *
 * @throws {CorruptBatchError} If `batch` is shorter than a batch header.
 * @throws {RangeError} If `baseOffset` is not a safe non-negative integer.
 *
 * @example Assign offsets on append
 * ```ts
 * import { encodeRecordBatch, readBatchHeader, setBaseOffset, verifyBatchCrc } from "@strom/client";
 *
 * const batch = await encodeRecordBatch({ records: [{ value: null }] });
 * setBaseOffset(batch, 42);
 * verifyBatchCrc(batch); // still valid
 * console.log(readBatchHeader(batch).baseOffset); // 42
 * ```
 */
export function setBaseOffset(batch: Uint8Array, baseOffset: number): void {
  if (!Number.isSafeInteger(baseOffset) || baseOffset < 0) {
    throw new RangeError(`baseOffset must be a safe non-negative integer, got ${baseOffset}`);
  }
  assertHeaderPresent(batch);
  writeInt64(viewOf(batch), BATCH_FIELD_OFFSETS.baseOffset, baseOffset);
}

/**
 * Sets the partition leader epoch of the batch at the start of `batch`, in
 * place. The field is outside the CRC'd range, so no re-encoding is needed.
 *
 * @throws {CorruptBatchError} If `batch` is shorter than a batch header.
 * @throws {RangeError} If `epoch` is not an int32.
 *
 * @example
 * ```ts
 * import { encodeRecordBatch, readBatchHeader, setPartitionLeaderEpoch } from "@strom/client";
 *
 * const batch = await encodeRecordBatch({ records: [{ value: null }] });
 * setPartitionLeaderEpoch(batch, 3);
 * console.log(readBatchHeader(batch).partitionLeaderEpoch); // 3
 * ```
 */
export function setPartitionLeaderEpoch(batch: Uint8Array, epoch: number): void {
  if (!Number.isInteger(epoch) || epoch < -0x80000000 || epoch > 0x7fffffff) {
    throw new RangeError(`partition leader epoch must be an int32, got ${epoch}`);
  }
  assertHeaderPresent(batch);
  viewOf(batch).setInt32(BATCH_FIELD_OFFSETS.partitionLeaderEpoch, epoch);
}

/**
 * Marks the batch at the start of `batch` as LogAppendTime with the given
 * broker time: sets attribute bit 3 and maxTimestamp, then rewrites the CRC.
 * The records are untouched (compressed batches stay compressed), as Kafka's
 * broker does for topics with `message.timestamp.type=LogAppendTime`.
 *
 * @throws {CorruptBatchError} If the batch is invalid or its CRC was wrong
 *   already (so a corrupt batch is never given a fresh, valid CRC).
 *
 * @example
 * ```ts
 * import { encodeRecordBatch, readBatchHeader, setLogAppendTime, timestampType } from "@strom/client";
 *
 * const batch = await encodeRecordBatch({ records: [{ value: null }] });
 * setLogAppendTime(batch, 1_700_000_000_000);
 * console.log(timestampType(readBatchHeader(batch).attributes)); // "LogAppendTime"
 * ```
 */
export function setLogAppendTime(batch: Uint8Array, timestampMs: number): void {
  if (!Number.isSafeInteger(timestampMs)) {
    throw new RangeError(`timestampMs must be a safe integer, got ${timestampMs}`);
  }
  verifyBatchCrc(batch);
  const header = readBatchHeader(batch);
  const whole = batch.subarray(0, batchSizeBytes(header));
  const view = viewOf(whole);
  view.setInt16(BATCH_FIELD_OFFSETS.attributes, header.attributes | ATTRIBUTE_TIMESTAMP_TYPE);
  writeInt64(view, BATCH_FIELD_OFFSETS.maxTimestamp, timestampMs);
  view.setUint32(BATCH_FIELD_OFFSETS.crc, computeBatchCrc(whole));
}

function assertHeaderPresent(batch: Uint8Array): void {
  if (batch.length < BATCH_HEADER_BYTES) {
    throw new CorruptBatchError(
      `batch header needs ${BATCH_HEADER_BYTES} bytes but only ${batch.length} are present`,
      0,
    );
  }
}

/**
 * Splits concatenated batches into views (no copies) of each whole batch,
 * validating each header. CRCs are not checked here; see
 * {@linkcode verifyBatchCrc}.
 *
 * @throws {CorruptBatchError} On an invalid header or a partial trailing batch.
 *
 * @example
 * ```ts
 * import { encodeRecordBatch, splitBatches } from "@strom/client";
 *
 * const a = await encodeRecordBatch({ records: [{ value: null }] });
 * const b = await encodeRecordBatch({ records: [{ value: null }, { value: null }] });
 * const both = new Uint8Array([...a, ...b]);
 * console.log(splitBatches(both).length); // 2
 * ```
 */
export function splitBatches(bytes: Uint8Array): Uint8Array[] {
  const batches: Uint8Array[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const size = batchSizeBytes(readBatchHeader(bytes, pos));
    if (bytes.length - pos < size) {
      throw new CorruptBatchError(
        `partial trailing batch: needs ${size} bytes but only ${bytes.length - pos} remain`,
        pos,
      );
    }
    batches.push(bytes.subarray(pos, pos + size));
    pos += size;
  }
  return batches;
}

/** What {@linkcode scanValidBatches} found. */
export interface BatchScan {
  /** Views of the whole, CRC-valid batches at the start of the input. */
  batches: Uint8Array[];
  /** Bytes covered by `batches`: where a torn or corrupt tail begins. */
  validBytes: number;
  /** Why scanning stopped before the end, or null if everything was valid. */
  error: CorruptBatchError | null;
}

/**
 * Walks concatenated batches, verifying each header and CRC, and stops at the
 * first invalid or partial one instead of throwing. This is how a log finds
 * the point to truncate a torn write after a crash.
 *
 * @example Find where a torn tail begins
 * ```ts
 * import { encodeRecordBatch, scanValidBatches } from "@strom/client";
 *
 * const a = await encodeRecordBatch({ records: [{ value: null }] });
 * const torn = new Uint8Array([...a, ...a.subarray(0, 30)]);
 * const scan = scanValidBatches(torn);
 * console.log(scan.validBytes === a.length, scan.error?.code); // true "CORRUPT_MESSAGE"
 * ```
 */
export function scanValidBatches(bytes: Uint8Array): BatchScan {
  const batches: Uint8Array[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    try {
      const rest = bytes.subarray(pos);
      verifyBatchCrc(rest);
      const size = batchSizeBytes(readBatchHeader(rest));
      batches.push(rest.subarray(0, size));
      pos += size;
    } catch (error) {
      if (!(error instanceof CorruptBatchError)) throw error;
      const detail = `invalid batch: ${error.message}; positions are relative to the batch`;
      return { batches, validBytes: pos, error: new CorruptBatchError(detail, pos) };
    }
  }
  return { batches, validBytes: pos, error: null };
}
