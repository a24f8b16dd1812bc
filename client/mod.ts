/**
 * Strom's client package: the Kafka record batch v2 codec and compression
 * codecs (used by the broker as well), and later the producer, consumer and
 * admin clients.
 *
 * @example Encode and decode a batch
 * ```ts
 * import { decodeRecordBatch, encodeRecordBatch } from "@strom/client";
 *
 * const batch = await encodeRecordBatch({
 *   records: [{ key: null, value: new TextEncoder().encode("hello") }],
 *   compression: "zstd",
 * });
 * const { records } = await decodeRecordBatch(batch);
 * console.log(new TextDecoder().decode(records[0].value!)); // "hello"
 * ```
 *
 * @module
 */

export * from "./record_batch/mod.ts";
export * from "./errors.ts";
export * from "./http/h2_client.ts";
export * from "./producer/partitioner.ts";
