/**
 * LZ4 (codec 3): the LZ4 frame format, as Kafka uses since message format v1.
 * Compression through `lz4js` (one frame, 4 MiB maximum block size, so any
 * batch below 4 MiB is a single independent block, which Kafka's Java reader
 * requires); decompression through Strom's own bounds-checked frame reader.
 *
 * @module
 */

// @ts-types="./_lz4js.d.ts"
import * as lz4js from "lz4js";
import type { CompressionCodec } from "./codec.ts";
import { decompressLz4Frame } from "./_lz4_frame.ts";

/**
 * The LZ4 codec (Kafka codec id 3).
 *
 * @example
 * ```ts
 * import { lz4Codec } from "@strom/client";
 *
 * const packed = lz4Codec.compress(new Uint8Array(1000));
 * console.log(lz4Codec.decompress(packed, 1000).length); // 1000
 * ```
 */
export const lz4Codec: CompressionCodec = {
  name: "lz4",
  code: 3,
  isLoaded: () => true,
  load: () => Promise.resolve(),
  compress(bytes) {
    return lz4js.compress(bytes);
  },
  decompress(bytes, maxBytes) {
    return decompressLz4Frame(bytes, maxBytes);
  },
};
