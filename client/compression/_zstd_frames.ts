/**
 * Walks the frames and block headers of zstd data (RFC 8878) without
 * decompressing, to learn each frame's extent and an upper bound of its output.
 * That bound is what lets the decoder refuse a decompression bomb before the
 * WebAssembly decoder allocates, and size its buffer when the frame does not
 * state its content size (Kafka's Java producer streams, so it usually does not).
 *
 * @module
 */

import { CorruptBatchError } from "../record_batch/corrupt_batch_error.ts";

const ZSTD_MAGIC = 0xfd2fb528;
const SKIPPABLE_MAGIC_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
/** A compressed block never regenerates more than 128 KiB (RFC 8878 §3.1.1.2.4). */
const BLOCK_BYTES_MAX = 128 * 1024;
const BLOCK_TYPE_RLE = 1;
const BLOCK_TYPE_COMPRESSED = 2;
const BLOCK_TYPE_RESERVED = 3;

/** One zstd frame: where it is and at most how many bytes it produces. */
export interface ZstdFrame {
  start: number;
  end: number;
  /** The frame's stated content size, or null if it does not state one. */
  contentBytes: number | null;
  /** An upper bound of the frame's output in bytes. */
  outputBytesMax: number;
  /** A lower bound of the frame's output: its raw and RLE blocks, which are exact. */
  outputBytesMin: number;
}

function corrupt(what: string, at: number): CorruptBatchError {
  return new CorruptBatchError(`zstd data: ${what} (byte ${at} of the compressed records)`);
}

function readLittleEndian(bytes: Uint8Array, pos: number, size: number): number {
  let value = 0;
  for (let i = size - 1; i >= 0; i--) value = value * 256 + bytes[pos + i];
  return value;
}

/**
 * Lists the zstd frames in `bytes` (skipping skippable frames).
 *
 * @throws {CorruptBatchError} If the frames or block headers are malformed or truncated.
 */
export function zstdFrames(bytes: Uint8Array): ZstdFrame[] {
  const frames: ZstdFrame[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    if (bytes.length - pos < 4) throw corrupt("truncated frame magic", pos);
    const magic = readLittleEndian(bytes, pos, 4);
    if ((magic & SKIPPABLE_MAGIC_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      if (bytes.length - pos < 8) throw corrupt("truncated skippable frame", pos);
      const size = readLittleEndian(bytes, pos + 4, 4);
      if (size > bytes.length - pos - 8) throw corrupt("truncated skippable frame", pos);
      pos += 8 + size;
      continue;
    }
    if (magic !== ZSTD_MAGIC) throw corrupt("wrong frame magic number", pos);
    const frame = readFrame(bytes, pos);
    frames.push(frame);
    pos = frame.end;
  }
  if (frames.length === 0) throw corrupt("no zstd frame", 0);
  return frames;
}

function readFrame(bytes: Uint8Array, start: number): ZstdFrame {
  let pos = start + 4;
  if (pos >= bytes.length) throw corrupt("truncated frame header", pos);
  const descriptor = bytes[pos++];
  if (descriptor & 0x08) throw corrupt("reserved frame header bit set", pos - 1);
  const contentSizeFlag = descriptor >> 6;
  const singleSegment = (descriptor & 0x20) !== 0;
  const hasChecksum = (descriptor & 0x04) !== 0;
  const dictionaryIdBytes = [0, 1, 2, 4][descriptor & 0x03];
  const contentSizeBytes = [singleSegment ? 1 : 0, 2, 4, 8][contentSizeFlag];
  const headerRest = (singleSegment ? 0 : 1) + dictionaryIdBytes + contentSizeBytes;
  if (bytes.length - pos < headerRest) throw corrupt("truncated frame header", pos);
  pos += headerRest - contentSizeBytes;
  let contentBytes: number | null = null;
  if (contentSizeBytes > 0) {
    contentBytes = readLittleEndian(bytes, pos, contentSizeBytes) +
      (contentSizeBytes === 2 ? 256 : 0);
    pos += contentSizeBytes;
  }
  let outputBytesMax = 0;
  let outputBytesMin = 0;
  while (true) {
    if (bytes.length - pos < 3) throw corrupt("truncated block header", pos);
    const header = readLittleEndian(bytes, pos, 3);
    pos += 3;
    const last = (header & 1) !== 0;
    const type = (header >> 1) & 0x03;
    const size = header >>> 3;
    if (type === BLOCK_TYPE_RESERVED) throw corrupt("reserved block type", pos - 3);
    if (size > BLOCK_BYTES_MAX) throw corrupt(`block size ${size} over 128 KiB`, pos - 3);
    const stored = type === BLOCK_TYPE_RLE ? 1 : size;
    if (bytes.length - pos < stored) throw corrupt("truncated block", pos);
    pos += stored;
    outputBytesMax += type === BLOCK_TYPE_COMPRESSED ? BLOCK_BYTES_MAX : size;
    outputBytesMin += type === BLOCK_TYPE_COMPRESSED ? 0 : size;
    if (last) break;
  }
  if (hasChecksum) {
    if (bytes.length - pos < 4) throw corrupt("truncated content checksum", pos);
    pos += 4;
  }
  if (contentBytes !== null) {
    if (contentBytes > outputBytesMax || contentBytes < outputBytesMin) {
      throw corrupt(`content size ${contentBytes} does not match its blocks`, start);
    }
    outputBytesMax = outputBytesMin = contentBytes;
  }
  return { start, end: pos, contentBytes, outputBytesMax, outputBytesMin };
}
