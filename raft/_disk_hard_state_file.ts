/**
 * The hard state file: term, vote and commit under one checksum.
 *
 * ```
 * offset 0  4 bytes  magic "SRHS"
 * offset 4  u32      CRC-32C of bytes 8 .. 32
 * offset 8  u64      term   (two little-endian u32 halves)
 * offset 16 u64      vote
 * offset 24 u64      commit
 * ```
 *
 * @module
 */

import type { HardState } from "./types.ts";
import { crc32c } from "./_disk_crc32c.ts";

/** The hard state's file name in the storage directory. */
export const HARD_STATE_FILE_NAME = "hard_state";

const MAGIC = [0x53, 0x52, 0x48, 0x53]; // "SRHS"
const FILE_BYTES = 32;
const TWO_POW_32 = 0x1_0000_0000;

/** Encodes a hard state file. */
export function encodeHardStateFile(hardState: HardState): Uint8Array {
  const bytes = new Uint8Array(FILE_BYTES);
  const view = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  [hardState.term, hardState.vote, hardState.commit].forEach((value, i) => {
    view.setUint32(8 + i * 8, value % TWO_POW_32, true);
    view.setUint32(12 + i * 8, Math.floor(value / TWO_POW_32), true);
  });
  view.setUint32(4, crc32c(bytes.subarray(8)), true);
  return bytes;
}

/** Decodes a hard state file; answers why it is invalid as a string if it is. */
export function decodeHardStateFile(bytes: Uint8Array): HardState | string {
  if (bytes.length !== FILE_BYTES) return `file is ${bytes.length} bytes, expected ${FILE_BYTES}`;
  if (MAGIC.some((byte, i) => bytes[i] !== byte)) return "bad magic";
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (crc32c(bytes.subarray(8)) !== view.getUint32(4, true)) return "checksum mismatch";
  const [term, vote, commit] = [0, 1, 2].map((i) =>
    view.getUint32(8 + i * 8, true) + view.getUint32(12 + i * 8, true) * TWO_POW_32
  );
  return { term, vote, commit };
}
