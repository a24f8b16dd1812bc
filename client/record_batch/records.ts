/**
 * The records section of a batch v2: each record is
 *
 * ```
 * length: varint            bytes after this field
 * attributes: int8          unused, 0
 * timestampDelta: varlong   from the batch's baseTimestamp
 * offsetDelta: varint       from the batch's baseOffset
 * keyLength: varint         -1 for a null key
 * key: bytes
 * valueLength: varint       -1 for a null value
 * value: bytes
 * headerCount: varint
 * headers: [keyLength: varint, key: UTF-8, valueLength: varint (-1 null), value: bytes]
 * ```
 *
 * @module
 */

import { CorruptBatchError } from "./corrupt_batch_error.ts";
import { RECORD_HEADERS_MAX } from "./limits.ts";
import { sizeOfVarint, sizeOfVarlong, VarintReader, writeVarint, writeVarlong } from "./_varint.ts";

/**
 * A record header. Keys are strings (UTF-8 on the wire, never null); values
 * are bytes or null.
 */
export interface RecordHeader {
  /** Header name. */
  key: string;
  /** Header value, or null. */
  value: Uint8Array | null;
}

/**
 * A decoded record. `key`, `value` and header values are views into the
 * decoded (or decompressed) batch bytes, not copies.
 */
export interface BatchRecord {
  /** Absolute offset: the batch's baseOffset plus the record's offset delta. */
  offset: number;
  /** ms since the epoch: CreateTime from the record, or the batch's LogAppendTime. */
  timestamp: number;
  /** Record key, or null. */
  key: Uint8Array | null;
  /** Record value, or null (a tombstone on compacted topics). */
  value: Uint8Array | null;
  /** Headers in wire order; keys may repeat. */
  headers: RecordHeader[];
}

/** A record to encode. Its offset is its position in the batch. */
export interface RecordInput {
  /** Record key; absent or null for none. */
  key?: Uint8Array | null;
  /** Record value, or null. */
  value: Uint8Array | null;
  /** Headers; absent for none. */
  headers?: readonly RecordHeader[];
  /** CreateTime in ms since the epoch; defaults to the batch's base timestamp. */
  timestamp?: number;
  /**
   * Offset minus the batch's baseOffset; defaults to the record's index.
   * Set it to keep offset gaps, as a compacted batch does; deltas must
   * strictly increase through the batch.
   */
  offsetDelta?: number;
}

/** Smallest encoded record: a 1-byte length and six 1-byte fields. */
export const RECORD_BYTES_MIN = 7;
const TEXT_ENCODER = new TextEncoder();
const TEXT_DECODER = new TextDecoder("utf-8", { fatal: true });

/**
 * Encodes records with the given offset deltas (default 0, 1, 2, …) and
 * timestamp deltas from `baseTimestamp`. Callers pass resolved timestamps and
 * validated offset deltas.
 */
export function encodeRecords(
  records: readonly RecordInput[],
  timestamps: readonly number[],
  baseTimestamp: number,
  offsetDeltas?: readonly number[],
): Uint8Array {
  // First pass: sizes (and UTF-8 header keys, kept for the second pass).
  const bodySizes = new Array<number>(records.length);
  const headerKeys: Uint8Array[][] = new Array(records.length);
  let total = 0;
  for (let i = 0; i < records.length; i++) {
    const record = records[i];
    const keys = (record.headers ?? []).map((h) => TEXT_ENCODER.encode(h.key));
    headerKeys[i] = keys;
    let size = 1 + sizeOfVarlong(timestamps[i] - baseTimestamp) +
      sizeOfVarint(offsetDeltas?.[i] ?? i) +
      sizeOfBytes(record.key ?? null) + sizeOfBytes(record.value);
    const headers = record.headers ?? [];
    size += sizeOfVarint(headers.length);
    for (let h = 0; h < headers.length; h++) {
      size += sizeOfVarint(keys[h].length) + keys[h].length + sizeOfBytes(headers[h].value);
    }
    bodySizes[i] = size;
    total += sizeOfVarint(size) + size;
  }
  const out = new Uint8Array(total);
  let pos = 0;
  for (let i = 0; i < records.length; i++) {
    const record = records[i];
    pos = writeVarint(out, pos, bodySizes[i]);
    out[pos++] = 0;
    pos = writeVarlong(out, pos, timestamps[i] - baseTimestamp);
    pos = writeVarint(out, pos, offsetDeltas?.[i] ?? i);
    pos = writeBytes(out, pos, record.key ?? null);
    pos = writeBytes(out, pos, record.value);
    const headers = record.headers ?? [];
    pos = writeVarint(out, pos, headers.length);
    for (let h = 0; h < headers.length; h++) {
      pos = writeBytes(out, pos, headerKeys[i][h]);
      pos = writeBytes(out, pos, headers[h].value);
    }
  }
  return out;
}

function sizeOfBytes(bytes: Uint8Array | null): number {
  return bytes === null ? 1 : sizeOfVarint(bytes.length) + bytes.length;
}

function writeBytes(out: Uint8Array, pos: number, bytes: Uint8Array | null): number {
  if (bytes === null) return writeVarint(out, pos, -1);
  pos = writeVarint(out, pos, bytes.length);
  out.set(bytes, pos);
  return pos + bytes.length;
}

/** What the records decoder needs from the batch header. */
export interface RecordsContext {
  baseOffset: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
  /** Set for LogAppendTime batches: every record gets this timestamp. */
  logAppendTime: number | null;
  recordCount: number;
  /** Added to positions in error messages (the records' start in the batch), or -1 if decompressed. */
  positionBase: number;
}

/**
 * Decodes exactly `context.recordCount` records filling `bytes[start..end)`.
 *
 * @throws {CorruptBatchError} On any malformation, naming the field and byte.
 */
export function decodeRecords(
  bytes: Uint8Array,
  start: number,
  end: number,
  context: RecordsContext,
): BatchRecord[] {
  const reader = new VarintReader(bytes, start, end);
  const where = (pos: number) =>
    context.positionBase < 0
      ? ` (byte ${pos - start} of the decompressed records)`
      : ` (at byte ${context.positionBase + pos - start})`;
  const fail = (what: string, pos: number): never => {
    throw new CorruptBatchError(`${what}${where(pos)}`);
  };
  const { recordCount } = context;
  // Bound the record count by the bytes before allocating anything for it.
  if (recordCount > (end - start) / RECORD_BYTES_MIN) {
    fail(`recordCount ${recordCount} cannot fit in ${end - start} bytes of records`, start);
  }
  const records = new Array<BatchRecord>(recordCount);
  for (let i = 0; i < recordCount; i++) {
    const recordStart = reader.pos;
    const length = reader.varint();
    if (reader.problem !== null) fail(`record ${i} length is ${reader.problem}`, recordStart);
    if (length < RECORD_BYTES_MIN - 1 || length > end - reader.pos) {
      fail(
        `record ${i} length ${length} does not fit the ${end - reader.pos} bytes left`,
        recordStart,
      );
    }
    const recordEnd = reader.pos + length;
    records[i] = decodeRecord(new VarintReader(bytes, reader.pos + 1, recordEnd), i, context, fail);
    reader.pos = recordEnd;
  }
  if (reader.pos !== end) {
    fail(`${end - reader.pos} unexpected bytes after the last record`, reader.pos);
  }
  return records;
}

function decodeRecord(
  reader: VarintReader,
  index: number,
  context: RecordsContext,
  fail: (what: string, pos: number) => never,
): BatchRecord {
  const field = (name: string, read: () => number): number => {
    const at = reader.pos;
    const value = read();
    if (reader.problem !== null) fail(`record ${index} ${name} is ${reader.problem}`, at);
    return value;
  };
  const bytesField = (name: string): Uint8Array | null => {
    const at = reader.pos;
    const length = field(`${name} length`, () => reader.varint());
    if (length === -1) return null;
    if (length < -1 || length > reader.end - reader.pos) {
      fail(`record ${index} ${name} length ${length} is out of range`, at);
    }
    const bytes = reader.bytes.subarray(reader.pos, reader.pos + length);
    reader.pos += length;
    return bytes;
  };
  const timestampAt = reader.pos;
  const timestampDelta = field("timestampDelta", () => reader.varlong());
  const offsetAt = reader.pos;
  const offsetDelta = field("offsetDelta", () => reader.varint());
  if (offsetDelta < 0 || offsetDelta > context.lastOffsetDelta) {
    fail(
      `record ${index} offsetDelta ${offsetDelta} is outside [0, lastOffsetDelta ${context.lastOffsetDelta}]`,
      offsetAt,
    );
  }
  const timestamp = context.logAppendTime ?? context.baseTimestamp + timestampDelta;
  if (!Number.isSafeInteger(timestamp)) {
    fail(`record ${index} timestamp overflows the safe integer range`, timestampAt);
  }
  const key = bytesField("key");
  const value = bytesField("value");
  const countAt = reader.pos;
  const headerCount = field("header count", () => reader.varint());
  if (
    headerCount < 0 || headerCount > RECORD_HEADERS_MAX || headerCount * 2 > reader.end - reader.pos
  ) {
    fail(`record ${index} header count ${headerCount} is out of range`, countAt);
  }
  const headers = new Array<RecordHeader>(headerCount);
  for (let h = 0; h < headerCount; h++) {
    const keyAt = reader.pos;
    const keyBytes = bytesField(`header ${h} key`);
    if (keyBytes === null) fail(`record ${index} header ${h} key is null`, keyAt);
    let headerKey: string;
    try {
      headerKey = TEXT_DECODER.decode(keyBytes!);
    } catch {
      return fail(`record ${index} header ${h} key is not valid UTF-8`, keyAt);
    }
    headers[h] = { key: headerKey, value: bytesField(`header ${h} value`) };
  }
  if (reader.pos !== reader.end) {
    fail(`record ${index} has ${reader.end - reader.pos} unexpected trailing bytes`, reader.pos);
  }
  return { offset: context.baseOffset + offsetDelta, timestamp, key, value, headers };
}
