/**
 * The on-disk record of one log entry in a segment file.
 *
 * ```
 * offset 0  u32  CRC-32C of bytes 4 .. end of record (length and payload)
 * offset 4  u32  payload length in bytes
 * offset 8  u64  index  (two little-endian u32 halves; indexes stay below 2^53)
 * offset 16 u64  term
 * offset 24 u8   kind   (0 normal, 1 noop, 2 config)
 * offset 25 ...  data
 * ```
 *
 * All integers are little-endian. The CRC covers the length too, so a torn or
 * flipped length field is caught like a torn payload.
 *
 * @module
 */

import type { Entry, EntryKind } from "./types.ts";
import { crc32c } from "./_disk_crc32c.ts";
import { ENTRY_DATA_BYTES_MAX } from "./file_storage_error.ts";

/** Bytes before the payload: CRC and length. */
export const RECORD_HEADER_BYTES = 8;
/** Bytes of the payload before the data: index, term, kind. */
const PAYLOAD_FIXED_BYTES = 17;
const TWO_POW_32 = 0x1_0000_0000;

const KIND_CODES: Readonly<Record<EntryKind, number>> = { normal: 0, noop: 1, config: 2 };
const KINDS: readonly EntryKind[] = ["normal", "noop", "config"];

/** How many bytes {@link writeEntryRecord} writes for `entry`. */
export function entryRecordBytes(entry: Entry): number {
  return RECORD_HEADER_BYTES + PAYLOAD_FIXED_BYTES + entry.data.length;
}

function setU64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value % TWO_POW_32, true);
  view.setUint32(offset + 4, Math.floor(value / TWO_POW_32), true);
}

function getU64(view: DataView, offset: number): number {
  return view.getUint32(offset, true) + view.getUint32(offset + 4, true) * TWO_POW_32;
}

/** Writes the record of `entry` into `bytes` at `offset`; answers the offset after it. */
export function writeEntryRecord(bytes: Uint8Array, offset: number, entry: Entry): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const payloadBytes = PAYLOAD_FIXED_BYTES + entry.data.length;
  view.setUint32(offset + 4, payloadBytes, true);
  setU64(view, offset + 8, entry.index);
  setU64(view, offset + 16, entry.term);
  bytes[offset + 24] = KIND_CODES[entry.kind];
  bytes.set(entry.data, offset + 25);
  const end = offset + RECORD_HEADER_BYTES + payloadBytes;
  view.setUint32(offset, crc32c(bytes.subarray(offset + 4, end)), true);
  return end;
}

/** Encodes `entries` as consecutive records in one buffer. */
export function encodeEntryRecords(entries: readonly Entry[]): Uint8Array {
  let total = 0;
  for (const entry of entries) total += entryRecordBytes(entry);
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const entry of entries) offset = writeEntryRecord(bytes, offset, entry);
  return bytes;
}

/** What {@link decodeSegment} found in a segment file. */
export interface DecodedSegment {
  readonly entries: Entry[];
  /** `offsets[i]` is where the record of `entries[i]` starts. */
  readonly offsets: number[];
  /** The bytes up to the end of the last valid record; anything after is torn or corrupt. */
  readonly validBytes: number;
  /** Why decoding stopped before the end of the file, if it did. */
  readonly problem?: string;
}

/**
 * Decodes the records of a segment whose first entry must be `firstIndex`,
 * stopping at the first record that is torn, fails its CRC, or does not follow
 * its predecessor (index + 1, term not lower).
 */
export function decodeSegment(bytes: Uint8Array, firstIndex: number): DecodedSegment {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entries: Entry[] = [];
  const offsets: number[] = [];
  let offset = 0;
  let expectedIndex = firstIndex;
  let lastTerm = 0;
  const stop = (problem: string): DecodedSegment => ({
    entries,
    offsets,
    validBytes: offset,
    problem: `${problem} at byte ${offset} (expected index ${expectedIndex})`,
  });
  while (offset < bytes.length) {
    if (bytes.length - offset < RECORD_HEADER_BYTES) return stop("torn record header");
    const payloadBytes = view.getUint32(offset + 4, true);
    if (
      payloadBytes < PAYLOAD_FIXED_BYTES ||
      payloadBytes > PAYLOAD_FIXED_BYTES + ENTRY_DATA_BYTES_MAX
    ) {
      return stop(`impossible record length ${payloadBytes}`);
    }
    const end = offset + RECORD_HEADER_BYTES + payloadBytes;
    if (end > bytes.length) return stop("torn record");
    if (crc32c(bytes.subarray(offset + 4, end)) !== view.getUint32(offset, true)) {
      return stop("record CRC mismatch");
    }
    const index = getU64(view, offset + 8);
    const term = getU64(view, offset + 16);
    const kind = KINDS[bytes[offset + 24]];
    if (kind === undefined) return stop(`unknown entry kind ${bytes[offset + 24]}`);
    if (index !== expectedIndex) return stop(`record has index ${index}`);
    if (term < lastTerm || term < 1) return stop(`record has term ${term} after term ${lastTerm}`);
    entries.push({ index, term, kind, data: bytes.slice(offset + 25, end) });
    offsets.push(offset);
    lastTerm = term;
    expectedIndex++;
    offset = end;
  }
  return { entries, offsets, validBytes: offset };
}
