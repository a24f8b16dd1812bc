/**
 * Gzip (codec 1) through `node:zlib`.
 *
 * Chosen over `CompressionStream`/`DecompressionStream` because it is
 * synchronous (so batch decoding needs no promise per batch) and because
 * `maxOutputLength` bounds inflation inside zlib itself, which refuses a
 * decompression bomb without first buffering it (see the bench for speed).
 *
 * @module
 */

import { gunzipSync, gzipSync } from "node:zlib";
import { CorruptBatchError } from "../record_batch/corrupt_batch_error.ts";
import type { CompressionCodec } from "./codec.ts";

/** zlib level 6 is both zlib's default and what Kafka's Java producer uses. */
const GZIP_LEVEL = 6;

function asUint8Array(buffer: Uint8Array): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/**
 * The gzip codec (Kafka codec id 1).
 *
 * @example
 * ```ts
 * import { gzipCodec } from "@strom/client";
 *
 * const packed = gzipCodec.compress(new Uint8Array(1000));
 * console.log(gzipCodec.decompress(packed, 1000).length); // 1000
 * ```
 */
export const gzipCodec: CompressionCodec = {
  name: "gzip",
  code: 1,
  isLoaded: () => true,
  load: () => Promise.resolve(),
  compress(bytes) {
    return asUint8Array(gzipSync(bytes, { level: GZIP_LEVEL }));
  },
  decompress(bytes, maxBytes) {
    try {
      return asUint8Array(gunzipSync(bytes, { maxOutputLength: Math.max(1, maxBytes) }));
    } catch (error) {
      const tooLarge = (error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE";
      throw new CorruptBatchError(
        tooLarge
          ? `gzip records inflate past the ${maxBytes}-byte limit`
          : `gzip records are malformed: ${(error as Error).message}`,
      );
    }
  },
};
