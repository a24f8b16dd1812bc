/**
 * Named maxima of the record batch codec, in one place.
 *
 * @module
 */

/**
 * Largest whole batch (12-byte prefix included) the codec accepts, in bytes.
 * Kafka's default `message.max.bytes` is about 1 MiB; brokers enforce their own
 * configured limit below this hard ceiling, which exists so that a corrupt
 * length field can never make a reader wait for or allocate gigabytes.
 *
 * @example
 * ```ts
 * import { BATCH_BYTES_MAX } from "@strom/client";
 * console.log(`batches up to ${BATCH_BYTES_MAX} bytes`);
 * ```
 */
export const BATCH_BYTES_MAX = 64 * 1024 * 1024;

/**
 * Largest decompressed records section the decoder produces, in bytes. A
 * compressed batch that would inflate past this is refused as CORRUPT_MESSAGE
 * (a decompression bomb) instead of exhausting memory.
 *
 * @example
 * ```ts
 * import { DECOMPRESSED_BYTES_MAX } from "@strom/client";
 * console.log(`records sections up to ${DECOMPRESSED_BYTES_MAX} bytes`);
 * ```
 */
export const DECOMPRESSED_BYTES_MAX = 64 * 1024 * 1024;

/**
 * Most headers one record may carry. Each header costs at least two bytes on
 * the wire, so the byte limits already bound it; this keeps a single record
 * from turning into millions of tiny objects.
 *
 * @example
 * ```ts
 * import { RECORD_HEADERS_MAX } from "@strom/client";
 * console.log(`up to ${RECORD_HEADERS_MAX} headers per record`);
 * ```
 */
export const RECORD_HEADERS_MAX = 65_536;
