/**
 * The contract every compression codec of a record batch meets.
 *
 * @module
 */

/**
 * One of Kafka's record batch compression codecs. Methods are synchronous
 * once {@linkcode CompressionCodec.load} has resolved; codecs backed by
 * WebAssembly need that first call to instantiate their module.
 *
 * @example Compress and decompress with a codec
 * ```ts
 * import { codecByName } from "@strom/client";
 *
 * const gzip = codecByName("gzip");
 * await gzip.load();
 * const packed = gzip.compress(new TextEncoder().encode("hello hello hello"));
 * console.log(gzip.decompress(packed, 1024).length); // 17
 * ```
 */
export interface CompressionCodec {
  /** Kafka's name for the codec. */
  readonly name: "gzip" | "snappy" | "lz4" | "zstd";
  /** The id stored in attribute bits 0–2 (1 gzip, 2 snappy, 3 lz4, 4 zstd). */
  readonly code: 1 | 2 | 3 | 4;
  /** Whether `compress` and `decompress` can be called now. */
  isLoaded(): boolean;
  /** Loads whatever the codec needs (idempotent; concurrent calls share one load). */
  load(): Promise<void>;
  /** Compresses `bytes` into the wire format Kafka expects for this codec. */
  compress(bytes: Uint8Array): Uint8Array;
  /**
   * Decompresses untrusted `bytes`, producing at most `maxBytes` bytes.
   *
   * @throws {CorruptBatchError} If the input is malformed or would inflate
   *   past `maxBytes`; never any other error for bad input.
   */
  decompress(bytes: Uint8Array, maxBytes: number): Uint8Array;
}
