/**
 * The snapshot file: a snapshot's metadata and data under one checksum.
 *
 * ```
 * offset 0  4 bytes  magic "SRSN"
 * offset 4  u32      CRC-32C of bytes 8 .. end of file
 * offset 8  u32      format version (1)
 * offset 12 u32      metadata length in bytes
 * offset 16 ...      metadata as UTF-8 JSON {index, term, voters, learners}
 * then      ...      snapshot data to the end of the file
 * ```
 *
 * @module
 */

import type { Snapshot } from "./types.ts";
import { crc32c } from "./_disk_crc32c.ts";

const MAGIC = [0x53, 0x52, 0x53, 0x4e]; // "SRSN"
const VERSION = 1;
const HEADER_BYTES = 16;

/** The file name of the snapshot at `index`; names sort by index. */
export function snapshotFileName(index: number): string {
  return `snapshot-${String(index).padStart(20, "0")}.snap`;
}

/** The index in a snapshot file name, or `undefined` if `name` is not one. */
export function parseSnapshotFileName(name: string): number | undefined {
  const match = /^snapshot-(\d{20})\.snap$/.exec(name);
  return match ? Number(match[1]) : undefined;
}

/** Encodes a snapshot file. */
export function encodeSnapshotFile(snapshot: Snapshot): Uint8Array {
  const meta = new TextEncoder().encode(JSON.stringify({
    index: snapshot.meta.index,
    term: snapshot.meta.term,
    voters: snapshot.meta.config.voters,
    learners: snapshot.meta.config.learners,
  }));
  const bytes = new Uint8Array(HEADER_BYTES + meta.length + snapshot.data.length);
  const view = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  view.setUint32(8, VERSION, true);
  view.setUint32(12, meta.length, true);
  bytes.set(meta, HEADER_BYTES);
  bytes.set(snapshot.data, HEADER_BYTES + meta.length);
  view.setUint32(4, crc32c(bytes.subarray(8)), true);
  return bytes;
}

function isIdList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((id) => Number.isSafeInteger(id) && id > 0);
}

/** Decodes a snapshot file; answers why it is invalid as a string if it is. */
export function decodeSnapshotFile(bytes: Uint8Array): Snapshot | string {
  if (bytes.length < HEADER_BYTES) return `file is ${bytes.length} bytes, shorter than a header`;
  if (MAGIC.some((byte, i) => bytes[i] !== byte)) return "bad magic";
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const expectedCrc = view.getUint32(4, true);
  const actualCrc = crc32c(bytes.subarray(8));
  if (expectedCrc !== actualCrc) {
    return `checksum mismatch (stored ${expectedCrc.toString(16)}, computed ${
      actualCrc.toString(16)
    })`;
  }
  const version = view.getUint32(8, true);
  if (version !== VERSION) return `unsupported format version ${version}`;
  const metaBytes = view.getUint32(12, true);
  if (HEADER_BYTES + metaBytes > bytes.length) return "metadata runs past the end of the file";
  let meta: Record<string, unknown>;
  try {
    meta = JSON.parse(
      new TextDecoder().decode(bytes.subarray(HEADER_BYTES, HEADER_BYTES + metaBytes)),
    );
  } catch {
    return "metadata is not JSON";
  }
  const { index, term, voters, learners } = meta;
  if (
    !Number.isSafeInteger(index) || !Number.isSafeInteger(term) || !isIdList(voters) ||
    !isIdList(learners)
  ) {
    return "metadata lacks index, term, voters or learners";
  }
  return {
    meta: { index: index as number, term: term as number, config: { voters, learners } },
    data: bytes.slice(HEADER_BYTES + metaBytes),
  };
}
