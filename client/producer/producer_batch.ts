/**
 * One partition's batch of records inside the producer, from the first
 * record to the broker's answer, and the size estimate the producer's
 * batching and buffer memory use.
 *
 * @module
 */

import { BATCH_HEADER_BYTES } from "../record_batch/header.ts";
import type { RecordInput } from "../record_batch/records.ts";

/** Where a produced record landed. */
export interface RecordMetadata {
  readonly topic: string;
  readonly partition: number;
  /** The record's offset; -1 with acks=0 (the broker does not say). */
  readonly offset: number;
  /** The record's timestamp (CreateTime), or the broker's LogAppendTime. */
  readonly timestamp: number;
}

/** A record waiting in a batch for its answer. */
export interface PendingRecord {
  readonly input: RecordInput & { timestamp: number };
  readonly sizeBytes: number;
  readonly resolve: (metadata: RecordMetadata) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * The life of a batch: `open` (taking records), `ready` (sealed, waiting to
 * be sent or re-sent), `inflight`, `done`.
 */
export type BatchState = "open" | "ready" | "inflight" | "done";

/** Bytes a record adds to a batch beyond key, value and headers (varint fields). */
const RECORD_OVERHEAD_BYTES = 21;

/**
 * The estimated encoded size of a record (uncompressed): what it costs in
 * a batch and in buffer memory.
 *
 * @example
 * ```ts
 * import { recordSizeBytes } from "@strom/client";
 * console.log(recordSizeBytes({ key: null, value: new Uint8Array(100) })); // 121
 * ```
 */
export function recordSizeBytes(record: RecordInput): number {
  let size = RECORD_OVERHEAD_BYTES + (record.key?.length ?? 0) + (record.value?.length ?? 0);
  for (const h of record.headers ?? []) size += 10 + h.key.length * 3 + (h.value?.length ?? 0);
  return size;
}

/** A batch of one partition. */
export class ProducerBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: PendingRecord[] = [];
  /** Estimated encoded size, header included. */
  sizeBytes = BATCH_HEADER_BYTES;
  state: BatchState = "open";
  /** Fails with REQUEST_TIMED_OUT instead of retrying after this time (ms since the epoch). */
  readonly deadlineMs: number;
  /** Encoded bytes, fixed at the first send so that retries carry the same sequence. */
  bytes: Uint8Array | undefined;
  producerId = -1;
  producerEpoch = -1;
  baseSequence = -1;
  /** Sends so far. */
  attempts = 0;
  /** True once a send failed and the batch was queued again. */
  retried = false;
  /** UNKNOWN_TOPIC_OR_PARTITION answers tolerated so far (a topic just created). */
  unknownTopicRetries = 0;
  /** Position among its partition's sealed batches (0, 1, 2, ...): bounds how far ahead a send may run. */
  ordinal = -1;

  constructor(topic: string, partition: number, deadlineMs: number) {
    this.topic = topic;
    this.partition = partition;
    this.deadlineMs = deadlineMs;
  }

  /** Adds a record. */
  add(record: PendingRecord): void {
    this.records.push(record);
    this.sizeBytes += record.sizeBytes;
  }

  /** Buffer memory the batch's records hold. */
  get reservedBytes(): number {
    let n = 0;
    for (const r of this.records) n += r.sizeBytes;
    return n;
  }
}
