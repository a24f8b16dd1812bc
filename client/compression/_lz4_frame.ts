/**
 * A strict reader of the LZ4 frame format (lz4 frame spec v1.6), used to
 * decompress Kafka's codec 3 without trusting the input: every length is
 * checked against the bytes present, every match offset against the bytes
 * already produced, and the output size is computed in a first pass so it can
 * be refused before anything is allocated. lz4js, which Strom uses to
 * compress, reads out of bounds and writes past its buffer on malformed input,
 * so it is not used here.
 *
 * @module
 */

import { CorruptBatchError } from "../record_batch/corrupt_batch_error.ts";

/** The LZ4 frame magic number, little-endian on the wire. */
export const LZ4_FRAME_MAGIC = 0x184d2204;
const FLG_VERSION_MASK = 0xc0;
const FLG_VERSION_01 = 0x40;
const FLG_BLOCK_CHECKSUM = 0x10;
const FLG_CONTENT_SIZE = 0x08;
const FLG_CONTENT_CHECKSUM = 0x04;
const FLG_RESERVED = 0x02;
const FLG_DICTIONARY_ID = 0x01;
const BLOCK_UNCOMPRESSED = 0x80000000;
/** Largest block by the BD byte's "block maximum size" field (4: 64 KiB … 7: 4 MiB). */
const BLOCK_BYTES_MAX_BY_ID: Record<number, number> = {
  4: 64 * 1024,
  5: 256 * 1024,
  6: 1024 * 1024,
  7: 4 * 1024 * 1024,
};
const MIN_MATCH = 4;
/** Below this many bytes a plain loop beats `set`/`copyWithin` call overhead (measured). */
const SHORT_COPY_BYTES = 32;

interface Lz4Block {
  start: number;
  end: number;
  compressed: boolean;
}

function corrupt(what: string, at: number): CorruptBatchError {
  return new CorruptBatchError(`lz4 frame: ${what} (byte ${at} of the compressed records)`);
}

function readU32le(bytes: Uint8Array, pos: number): number {
  return (bytes[pos] | (bytes[pos + 1] << 8) | (bytes[pos + 2] << 16) | (bytes[pos + 3] << 24)) >>>
    0;
}

function parseFrame(bytes: Uint8Array): { blocks: Lz4Block[]; blockBytesMax: number } {
  if (bytes.length < 7) throw corrupt(`only ${bytes.length} bytes, too short for a frame`, 0);
  if (readU32le(bytes, 0) !== LZ4_FRAME_MAGIC) throw corrupt("wrong magic number", 0);
  const flg = bytes[4];
  if ((flg & FLG_VERSION_MASK) !== FLG_VERSION_01) throw corrupt("unsupported frame version", 4);
  if (flg & (FLG_RESERVED | FLG_DICTIONARY_ID)) {
    throw corrupt("reserved bit or dictionary id set", 4);
  }
  const blockBytesMax = BLOCK_BYTES_MAX_BY_ID[(bytes[5] >> 4) & 0x07];
  if (blockBytesMax === undefined || (bytes[5] & 0x8f) !== 0) {
    throw corrupt("invalid block maximum size byte", 5);
  }
  // Descriptor: FLG, BD, optional 8-byte content size, then the header checksum byte.
  let pos = 6 + (flg & FLG_CONTENT_SIZE ? 8 : 0) + 1;
  const blockChecksumBytes = flg & FLG_BLOCK_CHECKSUM ? 4 : 0;
  const blocks: Lz4Block[] = [];
  while (true) {
    if (bytes.length - pos < 4) throw corrupt("truncated before the end mark", pos);
    const word = readU32le(bytes, pos);
    pos += 4;
    if (word === 0) break;
    const size = word & ~BLOCK_UNCOMPRESSED & 0x7fffffff;
    if (size > blockBytesMax) throw corrupt(`block of ${size} bytes exceeds its maximum`, pos - 4);
    if (bytes.length - pos < size + blockChecksumBytes) throw corrupt("truncated block", pos);
    blocks.push({ start: pos, end: pos + size, compressed: (word & BLOCK_UNCOMPRESSED) === 0 });
    pos += size + blockChecksumBytes;
  }
  pos += flg & FLG_CONTENT_CHECKSUM ? 4 : 0;
  if (pos !== bytes.length) {
    throw corrupt(
      `${bytes.length - pos} unexpected bytes after the frame`,
      Math.min(pos, bytes.length),
    );
  }
  return { blocks, blockBytesMax };
}

/**
 * Decodes one LZ4 block from `src[start..end)`. With `out` null it only
 * validates and returns how many bytes the block produces; otherwise it
 * writes them at `out[produced..]`. `produced` bytes precede it in the output,
 * which matches may reference (linked blocks).
 */
function decodeBlock(
  src: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array | null,
  produced: number,
): number {
  let pos = start;
  let dst = produced;
  while (true) {
    if (pos >= end) throw corrupt("block ends without a final literal run", pos);
    const token = src[pos++];
    let literals = token >>> 4;
    if (literals === 15) {
      let byte = 255;
      while (byte === 255) {
        if (pos >= end) throw corrupt("truncated literal length", pos);
        byte = src[pos++];
        literals += byte;
      }
    }
    if (literals > end - pos) throw corrupt("literal run overruns the block", pos);
    if (out !== null) {
      // Short runs are cheaper to copy by hand than through a subarray view.
      if (literals < SHORT_COPY_BYTES) {
        for (let i = 0; i < literals; i++) out[dst + i] = src[pos + i];
      } else {
        out.set(src.subarray(pos, pos + literals), dst);
      }
    }
    pos += literals;
    dst += literals;
    if (pos === end) return dst - produced;
    if (end - pos < 2) throw corrupt("truncated match offset", pos);
    const offset = src[pos] | (src[pos + 1] << 8);
    pos += 2;
    if (offset === 0 || offset > dst) {
      throw corrupt(`match offset ${offset} is out of range`, pos - 2);
    }
    let length = (token & 0x0f) + MIN_MATCH;
    if ((token & 0x0f) === 15) {
      let byte = 255;
      while (byte === 255) {
        if (pos >= end) throw corrupt("truncated match length", pos);
        byte = src[pos++];
        length += byte;
      }
    }
    if (out !== null) {
      if (offset >= length && length >= SHORT_COPY_BYTES) {
        out.copyWithin(dst, dst - offset, dst - offset + length);
      } else {
        for (let i = 0; i < length; i++) out[dst + i] = out[dst - offset + i];
      }
    }
    dst += length;
  }
}

/**
 * Decompresses one LZ4 frame, refusing output past `maxBytes`.
 *
 * @throws {CorruptBatchError} On any malformation or if the output would be too large.
 */
export function decompressLz4Frame(bytes: Uint8Array, maxBytes: number): Uint8Array {
  const { blocks, blockBytesMax } = parseFrame(bytes);
  let total = 0;
  for (const block of blocks) {
    const size = block.compressed
      ? decodeBlock(bytes, block.start, block.end, null, total)
      : block.end - block.start;
    if (size > blockBytesMax) {
      throw corrupt(`block inflates past ${blockBytesMax} bytes`, block.start);
    }
    total += size;
    if (total > maxBytes) {
      throw new CorruptBatchError(`lz4 records inflate past the ${maxBytes}-byte limit`);
    }
  }
  const out = new Uint8Array(total);
  let produced = 0;
  for (const block of blocks) {
    if (block.compressed) {
      produced += decodeBlock(bytes, block.start, block.end, out, produced);
    } else {
      out.set(bytes.subarray(block.start, block.end), produced);
      produced += block.end - block.start;
    }
  }
  return out;
}
