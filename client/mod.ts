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
export * from "./strom.ts";
export * from "./defaults.ts";
export * from "./connection/connection.ts";
export * from "./connection/metadata_cache.ts";
export * from "./connection/leader_request.ts";
export * from "./connection/retry.ts";
export * from "./admin/admin.ts";
export * from "./producer/producer.ts";
export * from "./producer/producer_batch.ts";
export * from "./producer/buffer_memory.ts";
export * from "./producer/sticky_partitioner.ts";
export * from "./consumer/consumer.ts";
export * from "./consumer/partition_fetcher.ts";
export * from "./consumer/wakeup.ts";
export * from "./consumer/group_member.ts";
