/**
 * The seam between the client-facing data routes (`data_routes.ts`) and the
 * replica manager that owns the partition logs. Routes parse and validate
 * HTTP, then call a {@link DataPlane}; the replica manager decides leadership,
 * appends, waits for the high watermark and reads. Keeping this an interface
 * lets the routes be tested against a fake and the replica manager without
 * HTTP. The wire contract is in `./README.md`.
 *
 * Every method throws a `StromError` (from `@strom/client`) for anything the
 * caller did wrong or that the caller may retry: NOT_LEADER_OR_FOLLOWER with a
 * leader hint, UNKNOWN_TOPIC_OR_PARTITION, OFFSET_OUT_OF_RANGE with details,
 * CORRUPT_MESSAGE, NOT_ENOUGH_REPLICAS, REQUEST_TIMED_OUT, ...
 *
 * @module
 */

/** Kafka's acknowledgement levels. */
export type Acks = "0" | "1" | "all";

/** A produce request that reached the partition's leader. */
export interface ProduceRequest {
  readonly topic: string;
  readonly partition: number;
  /** One or more concatenated record batch v2 byte strings, not yet validated. */
  readonly batches: Uint8Array;
  readonly acks: Acks;
  /** How long acks=all may wait for the high watermark to cover the batches. */
  readonly timeoutMs: number;
}

/** Where the produced batches landed. */
export interface ProduceResult {
  /** Base offset of the first batch; -1 for acks=0. */
  readonly baseOffset: number;
  /** Last offset of the last batch; -1 for acks=0. */
  readonly lastOffset: number;
  /** Records appended (or recognised as duplicates). */
  readonly count: number;
  /** The broker's append time when the topic uses LogAppendTime, else -1. */
  readonly logAppendTime: number;
  /** True when an idempotent retry was recognised and nothing was appended. */
  readonly duplicate: boolean;
}

/** A consumer fetch. */
export interface FetchRequest {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** Byte budget; the first batch is returned whole even when larger. */
  readonly maxBytes: number;
  /** How long to long-poll for `minBytes` below the high watermark. */
  readonly maxWaitMs: number;
  readonly minBytes: number;
  /** Aborted when the client goes away; the wait ends early. */
  readonly signal?: AbortSignal;
}

/** Whole stored batches below the high watermark, as stored. */
export interface FetchResult {
  /** Concatenated batches (possibly empty). The first may start before the fetch offset. */
  readonly batches: Uint8Array;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  readonly logEndOffset: number;
  /** The offset after the last record returned, or the fetch offset when none. */
  readonly nextOffset: number;
}

/** Which offset `listOffset` looks up. */
export type OffsetSpec = "earliest" | "latest" | { readonly timestampMs: number };

/** The answer to `listOffset`. */
export interface ListOffsetResult {
  /** null when no record has a timestamp at or after the one asked for. */
  readonly offset: number | null;
  readonly timestamp: number | null;
  readonly leaderEpoch: number;
}

/** What the data routes need from the replica manager. */
export interface DataPlane {
  /** Validates and appends on the leader, answering per `acks`. */
  produce(request: ProduceRequest): Promise<ProduceResult>;
  /** Reads from the leader, long-polling at the high watermark. */
  fetch(request: FetchRequest): Promise<FetchResult>;
  /** Earliest, latest (the high watermark) or first offset at a timestamp. */
  listOffset(topic: string, partition: number, at: OffsetSpec): Promise<ListOffsetResult>;
  /** Per local replica: LEO, HW, epoch and a checksum of the log up to `upTo`. */
  replicaDiagnostics(upTo: number): Promise<unknown>;
}

/** Hands out producer ids (from controller-allocated blocks). */
export interface ProducerIdSource {
  next(): Promise<{ producerId: number; producerEpoch: number }>;
}
