/**
 * The CRC checks of the broker's storage (every append, and the recovery
 * scan), with the fastest CRC-32C this process can load.
 *
 * Every appended batch's CRC-32C is checked before it is acknowledged; for
 * large batches that check costs as much as writing the batch into the page
 * cache. The client's `crc32c` uses `@node-rs/crc32` (the `crc32c` crate,
 * SSE4.2 `crc32` instruction): about 7 GB/s on the CI VM's AMD EPYC, where
 * that instruction is not pipelined, so interleaving three streams does not
 * help. `aws-crt`'s checksums (aws-checksums: carry-less multiply folding)
 * measured 18–28 GB/s on 1 MiB in the same process (broker/storage/README.md).
 *
 * `aws-crt` is a large package, so it stays out of `@strom/client`; the broker
 * loads it when the permissions its loader needs are already granted (it
 * reads its binary's path, calls `ldd --version` to tell glibc from musl, and
 * loads a native addon), checks it against the standard check value, and
 * otherwise falls back to the client's `verifyBatchCrc`. No permission prompt
 * ever appears.
 *
 * @module
 */

import {
  BATCH_FIELD_OFFSETS,
  batchSizeBytes,
  CorruptBatchError,
  readBatchHeader,
  verifyBatchCrc,
} from "@strom/client";

/** A CRC-32C function: bytes in, unsigned CRC out. */
type Crc32c = (bytes: Uint8Array) => number;

/** Below this many CRC'd bytes the client's code is as fast (a native call costs ~0.1–0.4 µs). */
const FAST_CRC_BYTES_MIN = 512;
/** Permissions aws-crt's loader needs; checked, never requested. */
const LOADER_PERMISSIONS = ["env", "ffi", "read", "sys", "run"] as const;

async function loadAwsCrtCrc32c(): Promise<Crc32c | null> {
  try {
    for (const name of LOADER_PERMISSIONS) {
      if (Deno.permissions.querySync({ name }).state !== "granted") return null;
    }
    const checksums = await import("aws-crt/dist/native/checksums.js");
    const native = checksums.crc32c as (data: Uint8Array, previous?: number) => number;
    const call = (bytes: Uint8Array) => native(bytes) >>> 0;
    // Trust it only if it agrees with the standard check value.
    return call(new TextEncoder().encode("123456789")) === 0xe3069283 ? call : null;
  } catch {
    // Any platform, permission or loader problem: the client's CRC is correct too.
    return null;
  }
}

const fastCrc32c: Crc32c | null = await loadAwsCrtCrc32c();

/** Which CRC-32C checks appended batches: `"aws-crt"`, or `"client"` (the client's crc32c). */
export function batchCrcBackend(): "aws-crt" | "client" {
  return fastCrc32c === null ? "client" : "aws-crt";
}

/**
 * Checks the stored CRC-32C of the batch at the start of `batch`, like the
 * client's `verifyBatchCrc` (same errors, same messages), with the fastest
 * CRC available.
 *
 * @throws {CorruptBatchError} If the header is invalid, the batch is
 *   truncated, or the CRC does not match.
 */
export function verifyBatchCrcFast(batch: Uint8Array): void {
  if (fastCrc32c === null || batch.length < FAST_CRC_BYTES_MIN) {
    verifyBatchCrc(batch);
    return;
  }
  const header = readBatchHeader(batch);
  const size = batchSizeBytes(header);
  if (batch.length < size) {
    throw new CorruptBatchError(
      `batch is truncated: batchLength says ${size} bytes but only ${batch.length} are present`,
      batch.length,
    );
  }
  const actual = fastCrc32c(batch.subarray(BATCH_FIELD_OFFSETS.attributes, size));
  if (actual !== header.crc) {
    throw new CorruptBatchError(
      `CRC mismatch: stored 0x${header.crc.toString(16).padStart(8, "0")}, computed 0x${
        actual.toString(16).padStart(8, "0")
      }`,
      BATCH_FIELD_OFFSETS.crc,
    );
  }
}
