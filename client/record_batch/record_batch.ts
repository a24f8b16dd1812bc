/**
 * Encoding and decoding whole record batches v2: header, CRC-32C, records,
 * compression. The asynchronous functions load compression codecs on demand;
 * the synchronous ones are for the hot path and handle uncompressed batches
 * always, and compressed ones once the codec is loaded
 * ({@linkcode loadCompressionCodecs}).
 *
 * @module
 */

import type { CompressionCodec } from "../compression/codec.ts";
import { codecByCode, codecByName } from "../compression/codecs.ts";
import { CorruptBatchError } from "./corrupt_batch_error.ts";
import {
  ATTRIBUTE_CONTROL,
  ATTRIBUTE_TIMESTAMP_TYPE,
  ATTRIBUTE_TRANSACTIONAL,
  BATCH_FIELD_OFFSETS,
  BATCH_HEADER_BYTES,
  BATCH_OVERHEAD_BYTES,
  type BatchHeader,
  batchSizeBytes,
  compression,
  COMPRESSION_CODES,
  type CompressionName,
  computeBatchCrc,
  MAGIC_V2,
  readBatchHeader,
  splitBatches,
  type TimestampType,
  timestampType,
  verifyBatchCrc,
} from "./header.ts";
import { BATCH_BYTES_MAX, DECOMPRESSED_BYTES_MAX } from "./limits.ts";
import { type BatchRecord, decodeRecords, encodeRecords, type RecordInput } from "./records.ts";
import { assertIntegerInRange, writeInt64 } from "./_int64.ts";

/** Kafka's value for "no producer id / epoch / sequence". */
const NO_PRODUCER = -1;
/** Kafka's value for a batch without records' timestamps. */
const NO_TIMESTAMP = -1;
const INT16_MIN = -0x8000;
const INT16_MAX = 0x7fff;
const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;

/** What to put in a batch. Only `records` is required. */
export interface EncodeRecordBatchOptions {
  /** The records, given offset deltas 0, 1, 2, … in order unless they set `offsetDelta`. */
  records: readonly RecordInput[];
  /**
   * The batch's lastOffsetDelta (default: the last record's offset delta). A
   * compacted batch may keep a larger one than its last surviving record's.
   */
  lastOffsetDelta?: number;
  /** Compression codec for the records section (default "none"). */
  compression?: CompressionName;
  /** Offset of the first record (default 0; the broker assigns the real one). */
  baseOffset?: number;
  /** Partition leader epoch (default -1, as producers send). */
  partitionLeaderEpoch?: number;
  /** Idempotent producer id (default -1: none). */
  producerId?: number;
  /** Idempotent producer epoch (default -1: none). */
  producerEpoch?: number;
  /** Sequence number of the first record (default -1: none). */
  baseSequence?: number;
  /** Timestamp type bit (default "CreateTime"). */
  timestampType?: TimestampType;
  /** Sets the transactional bit (default false). */
  transactional?: boolean;
  /** Sets the control bit: the records are transaction markers (default false). */
  control?: boolean;
  /**
   * Timestamp deltas are relative to this, and records without a timestamp
   * get it. Default: the first record's timestamp, or the current time if the
   * first record has none.
   */
  baseTimestamp?: number;
}

/** A decoded batch: its header and its records. */
export interface DecodedRecordBatch {
  /** The batch's fixed header. */
  header: BatchHeader;
  /** The batch's records, offsets and timestamps resolved. */
  records: BatchRecord[];
}

function resolveTimestamps(options: EncodeRecordBatchOptions): {
  timestamps: number[];
  baseTimestamp: number;
} {
  const { records } = options;
  if (records.length === 0) return { timestamps: [], baseTimestamp: NO_TIMESTAMP };
  const baseTimestamp = options.baseTimestamp ?? records[0].timestamp ?? Date.now();
  const timestamps = records.map((r) => r.timestamp ?? baseTimestamp);
  for (const t of timestamps) {
    // Deltas from the base must be safe integers too, or the varlong would round.
    if (!Number.isSafeInteger(t) || !Number.isSafeInteger(t - baseTimestamp)) {
      throw new RangeError(`timestamp ${t} is not a safe integer relative to ${baseTimestamp}`);
    }
  }
  if (!Number.isSafeInteger(baseTimestamp)) {
    throw new RangeError(`baseTimestamp ${baseTimestamp} is not a safe integer`);
  }
  return { timestamps, baseTimestamp };
}

function validateOptions(options: EncodeRecordBatchOptions): void {
  assertIntegerInRange("baseOffset", options.baseOffset ?? 0, 0, Number.MAX_SAFE_INTEGER);
  assertIntegerInRange(
    "partitionLeaderEpoch",
    options.partitionLeaderEpoch ?? -1,
    INT32_MIN,
    INT32_MAX,
  );
  assertIntegerInRange(
    "producerId",
    options.producerId ?? NO_PRODUCER,
    -1,
    Number.MAX_SAFE_INTEGER,
  );
  assertIntegerInRange("producerEpoch", options.producerEpoch ?? NO_PRODUCER, INT16_MIN, INT16_MAX);
  assertIntegerInRange("baseSequence", options.baseSequence ?? NO_PRODUCER, INT32_MIN, INT32_MAX);
  assertIntegerInRange("record count", options.records.length, 0, INT32_MAX);
  if (!Number.isSafeInteger((options.baseOffset ?? 0) + options.records.length)) {
    throw new RangeError("baseOffset plus the record count overflows the safe integer range");
  }
}

function resolveOffsetDeltas(options: EncodeRecordBatchOptions): {
  offsetDeltas: number[] | undefined;
  lastOffsetDelta: number;
} {
  const { records } = options;
  let offsetDeltas: number[] | undefined;
  if (records.some((r) => r.offsetDelta !== undefined)) {
    offsetDeltas = records.map((r, i) => r.offsetDelta ?? i);
    offsetDeltas.forEach((delta, i) => {
      const min = i === 0 ? 0 : offsetDeltas![i - 1] + 1;
      assertIntegerInRange(`record ${i} offsetDelta`, delta, min, INT32_MAX);
    });
  }
  const last = records.length === 0 ? 0 : offsetDeltas?.[records.length - 1] ?? records.length - 1;
  const lastOffsetDelta = options.lastOffsetDelta ?? last;
  assertIntegerInRange("lastOffsetDelta", lastOffsetDelta, last, INT32_MAX);
  if (!Number.isSafeInteger((options.baseOffset ?? 0) + lastOffsetDelta)) {
    throw new RangeError("baseOffset plus lastOffsetDelta overflows the safe integer range");
  }
  return { offsetDeltas, lastOffsetDelta };
}

/** Encodes the uncompressed records section and the header facts derived from it. */
function prepare(options: EncodeRecordBatchOptions) {
  validateOptions(options);
  const { offsetDeltas, lastOffsetDelta } = resolveOffsetDeltas(options);
  const { timestamps, baseTimestamp } = resolveTimestamps(options);
  let maxTimestamp = NO_TIMESTAMP;
  for (const t of timestamps) if (t > maxTimestamp) maxTimestamp = t;
  const records = encodeRecords(options.records, timestamps, baseTimestamp, offsetDeltas);
  return { records, baseTimestamp, maxTimestamp, lastOffsetDelta };
}

function assemble(
  options: EncodeRecordBatchOptions,
  codec: CompressionCodec | undefined,
  recordsSection: Uint8Array,
  facts: { baseTimestamp: number; maxTimestamp: number; lastOffsetDelta: number },
): Uint8Array {
  const { baseTimestamp, maxTimestamp, lastOffsetDelta } = facts;
  const size = BATCH_HEADER_BYTES + recordsSection.length;
  if (size > BATCH_BYTES_MAX) {
    throw new RangeError(`batch of ${size} bytes exceeds BATCH_BYTES_MAX (${BATCH_BYTES_MAX})`);
  }
  const batch = new Uint8Array(size);
  const view = new DataView(batch.buffer);
  const at = BATCH_FIELD_OFFSETS;
  let attributes = codec?.code ?? COMPRESSION_CODES.none;
  if (options.timestampType === "LogAppendTime") attributes |= ATTRIBUTE_TIMESTAMP_TYPE;
  if (options.transactional) attributes |= ATTRIBUTE_TRANSACTIONAL;
  if (options.control) attributes |= ATTRIBUTE_CONTROL;
  writeInt64(view, at.baseOffset, options.baseOffset ?? 0);
  view.setInt32(at.batchLength, size - BATCH_OVERHEAD_BYTES);
  view.setInt32(at.partitionLeaderEpoch, options.partitionLeaderEpoch ?? -1);
  view.setInt8(at.magic, MAGIC_V2);
  view.setInt16(at.attributes, attributes);
  view.setInt32(at.lastOffsetDelta, lastOffsetDelta);
  writeInt64(view, at.baseTimestamp, baseTimestamp);
  writeInt64(view, at.maxTimestamp, maxTimestamp);
  writeInt64(view, at.producerId, options.producerId ?? NO_PRODUCER);
  view.setInt16(at.producerEpoch, options.producerEpoch ?? NO_PRODUCER);
  view.setInt32(at.baseSequence, options.baseSequence ?? NO_PRODUCER);
  view.setInt32(at.recordCount, options.records.length);
  batch.set(recordsSection, at.records);
  view.setUint32(at.crc, computeBatchCrc(batch));
  return batch;
}

function codecFor(name: CompressionName | undefined): CompressionCodec | undefined {
  return name === undefined || name === "none" ? undefined : codecByName(name);
}

/**
 * Encodes a record batch v2, compressing the records with the chosen codec
 * (loaded on first use).
 *
 * @throws {RangeError} On out-of-range options or a batch over BATCH_BYTES_MAX.
 *
 * @example Encode two records with zstd
 * ```ts
 * import { encodeRecordBatch, readBatchHeader } from "@strom/client";
 *
 * const text = new TextEncoder();
 * const batch = await encodeRecordBatch({
 *   records: [
 *     { key: text.encode("k1"), value: text.encode("v1"), timestamp: 1_700_000_000_000 },
 *     { key: null, value: text.encode("v2"), headers: [{ key: "trace", value: null }] },
 *   ],
 *   compression: "zstd",
 * });
 * console.log(readBatchHeader(batch).recordCount); // 2
 * ```
 */
export async function encodeRecordBatch(options: EncodeRecordBatchOptions): Promise<Uint8Array> {
  const codec = codecFor(options.compression);
  await codec?.load();
  return encodeRecordBatchSync(options);
}

/**
 * Synchronous {@linkcode encodeRecordBatch}: works for "none", "gzip" and
 * "lz4" always, and for "snappy" and "zstd" once loaded.
 *
 * @throws {Error} If the codec is not loaded yet.
 *
 * @example
 * ```ts
 * import { encodeRecordBatchSync } from "@strom/client";
 *
 * const batch = encodeRecordBatchSync({ records: [{ value: new Uint8Array([1, 2]) }] });
 * console.log(batch.length); // 70
 * ```
 */
export function encodeRecordBatchSync(options: EncodeRecordBatchOptions): Uint8Array {
  const codec = codecFor(options.compression);
  const { records, ...facts } = prepare(options);
  const section = codec === undefined ? records : codec.compress(records);
  return assemble(options, codec, section, facts);
}

function recordsContext(header: BatchHeader, positionBase: number) {
  return {
    baseOffset: header.baseOffset,
    lastOffsetDelta: header.lastOffsetDelta,
    baseTimestamp: header.baseTimestamp,
    logAppendTime: timestampType(header.attributes) === "LogAppendTime"
      ? header.maxTimestamp
      : null,
    recordCount: header.recordCount,
    positionBase,
  };
}

function checkedBatch(bytes: Uint8Array): { header: BatchHeader; batch: Uint8Array } {
  verifyBatchCrc(bytes);
  const header = readBatchHeader(bytes);
  return { header, batch: bytes.subarray(0, batchSizeBytes(header)) };
}

function decodeChecked(
  header: BatchHeader,
  batch: Uint8Array,
  codec: CompressionCodec | undefined,
): DecodedRecordBatch {
  if (codec === undefined) {
    const records = decodeRecords(
      batch,
      BATCH_HEADER_BYTES,
      batch.length,
      recordsContext(header, BATCH_HEADER_BYTES),
    );
    return { header, records };
  }
  let plain: Uint8Array;
  try {
    plain = codec.decompress(batch.subarray(BATCH_HEADER_BYTES), DECOMPRESSED_BYTES_MAX);
  } catch (error) {
    if (error instanceof CorruptBatchError) throw error;
    // Codecs promise CorruptBatchError for bad input; anything else is still the input's fault.
    throw new CorruptBatchError(`${codec.name} records are malformed: ${String(error)}`);
  }
  const records = decodeRecords(plain, 0, plain.length, recordsContext(header, -1));
  return { header, records };
}

/**
 * Decodes the record batch at the start of `bytes` (bytes after it are
 * ignored): validates the header and CRC-32C, decompresses (loading the codec
 * on first use, refusing more than DECOMPRESSED_BYTES_MAX) and decodes every
 * record. Safe on untrusted input.
 *
 * @throws {CorruptBatchError} For any malformed input, saying what and where.
 *
 * @example
 * ```ts
 * import { decodeRecordBatch, encodeRecordBatch } from "@strom/client";
 *
 * const batch = await encodeRecordBatch({
 *   records: [{ value: new TextEncoder().encode("hi") }],
 *   compression: "gzip",
 *   baseOffset: 10,
 * });
 * const { records } = await decodeRecordBatch(batch);
 * console.log(records[0].offset, new TextDecoder().decode(records[0].value!)); // 10 "hi"
 * ```
 */
export async function decodeRecordBatch(bytes: Uint8Array): Promise<DecodedRecordBatch> {
  const { header, batch } = checkedBatch(bytes);
  const codec = codecByCode(compression(header.attributes));
  await codec?.load();
  return decodeChecked(header, batch, codec);
}

/**
 * Synchronous {@linkcode decodeRecordBatch}, for the hot path: uncompressed,
 * gzip and lz4 batches always; snappy and zstd once loaded.
 *
 * @throws {CorruptBatchError} For any malformed input.
 * @throws {Error} If the batch's codec is not loaded yet.
 *
 * @example
 * ```ts
 * import { decodeRecordBatchSync, encodeRecordBatchSync } from "@strom/client";
 *
 * const batch = encodeRecordBatchSync({ records: [{ value: null }, { value: null }] });
 * console.log(decodeRecordBatchSync(batch).records.length); // 2
 * ```
 */
export function decodeRecordBatchSync(bytes: Uint8Array): DecodedRecordBatch {
  const { header, batch } = checkedBatch(bytes);
  const codec = codecByCode(compression(header.attributes));
  if (codec !== undefined && !codec.isLoaded()) {
    throw new Error(
      `the ${codec.name} codec is not loaded: use decodeRecordBatch() or await loadCompressionCodecs()`,
    );
  }
  return decodeChecked(header, batch, codec);
}

/**
 * Decodes every batch in concatenated batch bytes (as a fetch returns them).
 *
 * @throws {CorruptBatchError} For any malformed batch or a partial trailing one.
 *
 * @example
 * ```ts
 * import { decodeRecordBatches, encodeRecordBatch } from "@strom/client";
 *
 * const a = await encodeRecordBatch({ records: [{ value: null }] });
 * const b = await encodeRecordBatch({ records: [{ value: null }], baseOffset: 1 });
 * const batches = await decodeRecordBatches(new Uint8Array([...a, ...b]));
 * console.log(batches.map((x) => x.records[0].offset)); // [0, 1]
 * ```
 */
export async function decodeRecordBatches(bytes: Uint8Array): Promise<DecodedRecordBatch[]> {
  const decoded: DecodedRecordBatch[] = [];
  for (const batch of splitBatches(bytes)) decoded.push(await decodeRecordBatch(batch));
  return decoded;
}
