/**
 * Every default and named maximum of the producer, consumer and connection
 * in one place, so that what bounds the client's memory and concurrency can
 * be read on one screen. Each option of `StromOptions`, `ProducerOptions`
 * and `ConsumerOptions` falls back to the value here.
 *
 * @example
 * ```ts
 * import { CLIENT_DEFAULTS } from "@strom/client";
 * console.log(CLIENT_DEFAULTS.producer.lingerMs); // 5
 * ```
 *
 * @module
 */

/** Defaults and maxima of the Strom client. */
export const CLIENT_DEFAULTS = {
  connection: {
    /** Deadline of one request unless the call sets its own. */
    requestTimeoutMs: 30_000,
    /** HTTP/2 streams in flight per broker; more requests queue. */
    inFlightRequestsPerBrokerMax: 100,
    /** Requests queued per broker behind the in-flight ones before failing fast. */
    queuedRequestsPerBrokerMax: 10_000,
    /** Cached topic metadata is refreshed when older than this (Kafka's metadata.max.age.ms). */
    metadataMaxAgeMs: 300_000,
    /** Attempts of a metadata or admin request across brokers before giving up. */
    attemptsMax: 6,
    /** First retry backoff; doubles per attempt up to retryBackoffMsMax, ±20 % jitter. */
    retryBackoffMs: 100,
    /** Largest retry backoff. */
    retryBackoffMsMax: 1_000,
  },
  producer: {
    /** A partition's open batch is sent once its records reach this many bytes. */
    batchBytes: 16_384,
    /** How long an open batch waits for more records before it is sent. */
    lingerMs: 5,
    /** Memory for records not yet acknowledged; send() waits when it is used up. */
    bufferBytesMax: 32 * 1024 * 1024,
    /** Largest single record (key, value and headers), like Kafka's max.request.size. */
    recordBytesMax: 1024 * 1024,
    /** send() calls waiting for buffer memory before further ones fail with BUFFER_EXHAUSTED. */
    sendsWaitingMax: 10_000,
    /** How long send() waits for buffer memory (Kafka's max.block.ms). */
    bufferWaitMsMax: 60_000,
    /** Time from send() to a final answer, retries included (Kafka's delivery.timeout.ms). */
    deliveryTimeoutMs: 120_000,
    /** Batches per partition in flight; idempotence allows at most 5, as in Kafka. */
    inFlightBatchesPerPartitionMax: 5,
    /** How long an acks=all produce may wait for replication, sent as timeoutMs. */
    ackTimeoutMs: 30_000,
  },
  consumer: {
    /** Bytes one fetch may return per partition (the first batch comes whole even if larger). */
    fetchBytesMax: 1024 * 1024,
    /** Prefetched bytes across all partitions; fetching pauses above it. */
    bufferBytesMax: 16 * 1024 * 1024,
    /** How long a fetch long-polls at the high watermark. */
    fetchWaitMsMax: 500,
    /** Bytes a fetch waits for before answering early. */
    fetchBytesMin: 1,
    /** Partitions one consumer may be assigned. */
    partitionsMax: 10_000,
  },
} as const;
