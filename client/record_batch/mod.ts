/**
 * Kafka record batch v2: the fixed header, CRC-32C, the records codec and
 * whole-batch encode/decode.
 *
 * @module
 */

export * from "./corrupt_batch_error.ts";
export * from "./crc32c.ts";
export * from "./header.ts";
export * from "./limits.ts";
export type { BatchRecord, RecordHeader, RecordInput } from "./records.ts";
export * from "./record_batch.ts";
export * from "../compression/mod.ts";
