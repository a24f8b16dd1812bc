/**
 * Snappy (codec 2) through `snappy-wasm`, in the framing Kafka uses.
 *
 * Kafka's Java client writes snappy through snappy-java's
 * `SnappyOutputStream`, the "xerial" framing: a 16-byte header (magic
 * `\x82SNAPPY\0`, version 1, compatible version 1, both int32 big-endian), then
 * blocks of `int32 BE compressed length` + one raw snappy block of at most 32
 * KiB uncompressed. We write that framing, and read both it and bare raw
 * snappy (which some clients send and snappy-java also accepts).
 *
 * Raw snappy starts with the uncompressed length as a varint; it is checked
 * against the limit, and against snappy's largest possible expansion, before
 * the WebAssembly decoder allocates anything. That also keeps the decoder
 * from ever panicking on an absurd length.
 *
 * @module
 */

import * as snappyWasm from "snappy-wasm";
import { CorruptBatchError } from "../record_batch/corrupt_batch_error.ts";
import type { CompressionCodec } from "./codec.ts";

/** snappy-java's default block size, which Kafka uses. */
const XERIAL_BLOCK_BYTES = 32 * 1024;
const XERIAL_MAGIC = [0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00];
const XERIAL_HEADER_BYTES = 16;
const XERIAL_VERSION = 1;
/**
 * Most output a raw snappy element can produce per input byte: a 3-byte copy
 * of 64 bytes gives 21.3; rounded up so no valid stream is refused.
 */
const SNAPPY_EXPANSION_MAX = 22;

// The ES build's default export instantiates the module; its .d.ts is read as
// CommonJS, which hides that signature, hence the cast.
const initSnappyWasm = snappyWasm.default as unknown as () => Promise<unknown>;
const { compress_raw, decompress_raw } = snappyWasm;

let loading: Promise<void> | null = null;
let loaded = false;

function isXerialFramed(bytes: Uint8Array): boolean {
  if (bytes.length < XERIAL_HEADER_BYTES) return false;
  return XERIAL_MAGIC.every((byte, i) => bytes[i] === byte);
}

/** Reads raw snappy's leading uncompressed-length varint (a uint32), or -1 if malformed. */
function rawUncompressedLength(block: Uint8Array): number {
  let value = 0;
  for (let i = 0; i < 5 && i < block.length; i++) {
    value += (block[i] & 0x7f) * 2 ** (7 * i);
    if (block[i] < 0x80) return value <= 0xffffffff ? value : -1;
  }
  return -1;
}

function decompressRawBlock(block: Uint8Array, budgetBytes: number, at: string): Uint8Array {
  const length = rawUncompressedLength(block);
  if (length < 0) throw new CorruptBatchError(`snappy ${at} has a malformed length prefix`);
  if (length > budgetBytes) {
    throw new CorruptBatchError(
      `snappy ${at} would inflate to ${length} bytes, past the remaining limit of ${budgetBytes}`,
    );
  }
  if (length > block.length * SNAPPY_EXPANSION_MAX) {
    throw new CorruptBatchError(
      `snappy ${at} claims ${length} bytes from ${block.length}, more than snappy can encode`,
    );
  }
  let out: Uint8Array;
  try {
    out = decompress_raw(block);
  } catch (error) {
    throw new CorruptBatchError(`snappy ${at} is malformed: ${(error as Error).message}`);
  }
  if (out.length !== length) {
    throw new CorruptBatchError(`snappy ${at} produced ${out.length} bytes, expected ${length}`);
  }
  return out;
}

function decompressXerial(bytes: Uint8Array, maxBytes: number): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const blocks: Uint8Array[] = [];
  let total = 0;
  let pos = XERIAL_HEADER_BYTES;
  while (pos < bytes.length) {
    if (bytes.length - pos < 4) {
      throw new CorruptBatchError(`snappy block length at byte ${pos} is truncated`);
    }
    const length = view.getInt32(pos);
    pos += 4;
    if (length < 0 || length > bytes.length - pos) {
      throw new CorruptBatchError(
        `snappy block at byte ${pos - 4} claims ${length} bytes but ${bytes.length - pos} remain`,
      );
    }
    const block = decompressRawBlock(
      bytes.subarray(pos, pos + length),
      maxBytes - total,
      `block at byte ${pos}`,
    );
    blocks.push(block);
    total += block.length;
    pos += length;
  }
  if (blocks.length === 1) return blocks[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const block of blocks) {
    out.set(block, at);
    at += block.length;
  }
  return out;
}

function assertLoaded(): void {
  if (!loaded) {
    throw new Error("the snappy codec is not loaded yet: await snappyCodec.load() first");
  }
}

/**
 * The snappy codec (Kafka codec id 2), xerial-framed like Kafka's Java client.
 *
 * @example
 * ```ts
 * import { snappyCodec } from "@strom/client";
 *
 * await snappyCodec.load();
 * const packed = snappyCodec.compress(new Uint8Array(1000));
 * console.log(snappyCodec.decompress(packed, 1000).length); // 1000
 * ```
 */
export const snappyCodec: CompressionCodec = {
  name: "snappy",
  code: 2,
  isLoaded: () => loaded,
  load() {
    loading ??= initSnappyWasm().then(() => {
      loaded = true;
    }, (error: unknown) => {
      loading = null;
      throw new Error(`cannot load the snappy WebAssembly module: ${error}`);
    });
    return loading;
  },
  compress(bytes) {
    assertLoaded();
    const blocks: Uint8Array[] = [];
    let total = XERIAL_HEADER_BYTES;
    for (let pos = 0; pos < bytes.length; pos += XERIAL_BLOCK_BYTES) {
      const block = compress_raw(bytes.subarray(pos, pos + XERIAL_BLOCK_BYTES));
      blocks.push(block);
      total += 4 + block.length;
    }
    const out = new Uint8Array(total);
    const view = new DataView(out.buffer);
    out.set(XERIAL_MAGIC);
    view.setInt32(8, XERIAL_VERSION);
    view.setInt32(12, XERIAL_VERSION);
    let pos = XERIAL_HEADER_BYTES;
    for (const block of blocks) {
      view.setInt32(pos, block.length);
      out.set(block, pos + 4);
      pos += 4 + block.length;
    }
    return out;
  },
  decompress(bytes, maxBytes) {
    assertLoaded();
    if (isXerialFramed(bytes)) return decompressXerial(bytes, maxBytes);
    return decompressRawBlock(bytes, maxBytes, "data");
  },
};
