/**
 * Kafka's record batch compression codecs: gzip (1), snappy (2), lz4 (3) and
 * zstd (4), each bounded against decompression bombs.
 *
 * @module
 */

export * from "./codec.ts";
export * from "./codecs.ts";
export * from "./gzip.ts";
export * from "./lz4.ts";
export * from "./snappy.ts";
export * from "./zstd.ts";
