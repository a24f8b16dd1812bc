/**
 * Kafka record batch v2: the fixed header, CRC-32C, the records codec and the
 * compression codecs.
 *
 * @module
 */

export * from "./corrupt_batch_error.ts";
export * from "./crc32c.ts";
export * from "./header.ts";
export * from "./limits.ts";
