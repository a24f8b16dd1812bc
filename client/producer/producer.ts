/**
 * The producer: batches records per partition, compresses each batch, sends
 * it to the partition's leader as a binary record batch, and resolves every
 * record's `send()` with its partition and offset.
 *
 * Idempotence (on by default, as in Kafka 3): the producer gets an id from
 * `POST /v1/producers` and numbers each partition's records; at most five
 * batches per partition are in flight; after a retriable failure the
 * partition waits until nothing is in flight and re-sends the same batches
 * (same bytes, same sequences) in order, one at a time until they are
 * answered, so the broker appends each batch once and in order. A batch the
 * broker refused as out of sequence was not appended; if the producer's own
 * earlier batches explain the gap it is simply re-sent, otherwise the
 * producer takes a new producer id and renumbers (Kafka's epoch bump).
 *
 * @module
 */

import type { CallOptions, Connection } from "../connection/connection.ts";
import { partitionPath } from "../connection/leader_request.ts";
import { backoffDelayMs, isRetriable, sleep } from "../connection/retry.ts";
import type { LeaderLocation } from "../connection/metadata_cache.ts";
import { CLIENT_DEFAULTS } from "../defaults.ts";
import { StromError } from "../errors.ts";
import type { CompressionName } from "../record_batch/header.ts";
import { BATCH_HEADER_BYTES } from "../record_batch/header.ts";
import { encodeRecordBatch } from "../record_batch/record_batch.ts";
import type { RecordHeader } from "../record_batch/records.ts";
import { BufferMemory } from "./buffer_memory.ts";
import { partitionForKey } from "./partitioner.ts";
import type { PendingRecord, RecordMetadata } from "./producer_batch.ts";
import { ProducerBatch, recordSizeBytes } from "./producer_batch.ts";
import { StickyPartitioner } from "./sticky_partitioner.ts";

/** Kafka's acknowledgement levels; `-1` and `"-1"` mean `"all"`. */
export type AcksOption = "all" | "0" | "1" | 0 | 1 | -1 | "-1";

/** Options of {@link Producer}; every one has a default in {@link CLIENT_DEFAULTS}. */
export interface ProducerOptions {
  /** How many replicas must have a record before it counts as sent (default "all"). */
  readonly acks?: AcksOption;
  /** Codec applied to each batch (default "none"). */
  readonly compression?: CompressionName;
  /** A partition's batch is sent once it holds this many bytes (default 16 KiB). */
  readonly batchBytes?: number;
  /** How long a batch waits for more records (default 5 ms). */
  readonly lingerMs?: number;
  /** Exactly-once appends per partition (default true; needs acks "all"). */
  readonly idempotent?: boolean;
  /** Memory for records not yet answered (default 32 MiB); send() waits when it is used up. */
  readonly bufferBytesMax?: number;
  /** Largest record (default 1 MiB). */
  readonly recordBytesMax?: number;
  /** send() calls that may wait for memory at once (default 10,000). */
  readonly sendsWaitingMax?: number;
  /** How long send() waits for memory (default 60 s). */
  readonly bufferWaitMsMax?: number;
  /** Time from send() to its final answer, retries included (default 120 s). */
  readonly deliveryTimeoutMs?: number;
  /**
   * Batches in flight per partition: default 5 (the most) with idempotence,
   * 1 without. A producer's requests are concurrent HTTP/2 streams and may
   * reach the leader in any order; the leader puts an idempotent producer's
   * batches back in sequence order, but without sequence numbers more than
   * one batch in flight may reorder a partition's records.
   */
  readonly inFlightBatchesPerPartitionMax?: number;
  /** How long the leader may wait for replication (default 30 s). */
  readonly ackTimeoutMs?: number;
}

/** A header value: text, bytes or null. */
export type HeaderValue = string | Uint8Array | null;

/** A record to send. */
export interface ProducerRecord {
  readonly topic: string;
  /** Records with the same key go to the same partition (Kafka's murmur2 partitioner). */
  readonly key?: string | Uint8Array | null;
  /** The value; text is sent as UTF-8; null is a tombstone. */
  readonly value: string | Uint8Array | null;
  /** Headers as an object or as an ordered list (keys may repeat). */
  readonly headers?:
    | Readonly<Record<string, HeaderValue>>
    | readonly { key: string; value: HeaderValue }[];
  /** Send to this partition instead of choosing one. */
  readonly partition?: number;
  /** CreateTime in ms since the epoch (default now). */
  readonly timestamp?: number;
}

/** A record whose value is any JSON value, for {@link Producer.sendJson}. */
export type JsonProducerRecord = Omit<ProducerRecord, "value"> & { readonly value: unknown };

export type { RecordMetadata };

const TEXT = new TextEncoder();
/** Kafka wraps sequence numbers at 2^31. */
const SEQUENCE_MODULUS = 2 ** 31;

/** Errors that say the partition's leader is gone or elsewhere: a new leader may appear soon. */
const LEADER_LOST_CODES: ReadonlySet<string> = new Set([
  "NOT_LEADER_OR_FOLLOWER",
  "FENCED_LEADER_EPOCH",
  "LEADER_NOT_AVAILABLE",
  "NETWORK_EXCEPTION",
  "SHUTTING_DOWN",
]);
/** Batches per producer a partition leader remembers for duplicate detection (Kafka's 5). */
const BROKER_PRODUCER_WINDOW_BATCHES = 5;
/** How often a partition that lost its leader looks for a new one in the metadata. */
const LEADER_WATCH_INTERVAL_MS = 50;

interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  open: ProducerBatch | undefined;
  lingerTimer: ReturnType<typeof setTimeout> | undefined;
  /** Sealed batches not yet answered, in send order. */
  readonly queue: ProducerBatch[];
  inFlight: number;
  /** After a failure: send nothing until in-flight batches settle and `retryAtMs` passes. */
  blocked: boolean;
  retryAtMs: number;
  retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Whether a watch for a new leader runs (at most one per partition). */
  leaderWatch: boolean;
  /** Batches sealed so far (the next batch's ordinal). */
  sealed: number;
  /** The producer id the next sequence belongs to. */
  sequencePid: number;
  nextSequence: number;
}

interface Admission {
  readonly record: ProducerRecord;
  readonly pending: PendingRecord;
  readonly signal: AbortSignal | undefined;
}

interface ProducerIdentity {
  readonly producerId: number;
  readonly producerEpoch: number;
}

/**
 * Sends records to Strom. Get one from `strom.producer(options)`.
 *
 * @example
 * ```ts ignore
 * import { Strom } from "@strom/client";
 * const strom = new Strom({ brokers: "http://127.0.0.1:9092" });
 * const producer = strom.producer({ compression: "zstd" });
 * const { partition, offset } = await producer.send({ topic: "orders", key: "user-1", value: "hi" });
 * await producer.sendJson({ topic: "orders", value: { id: 7, total: 12.5 } });
 * console.log(partition, offset);
 * await producer.close();
 * await strom.close();
 * ```
 */
export class Producer {
  readonly #conn: Connection;
  readonly #acks: "all" | "0" | "1";
  readonly #idempotent: boolean;
  readonly #compression: CompressionName;
  readonly #batchBytes: number;
  readonly #lingerMs: number;
  readonly #recordBytesMax: number;
  readonly #deliveryTimeoutMs: number;
  readonly #inFlightMax: number;
  readonly #ackTimeoutMs: number;
  readonly #memory: BufferMemory;
  readonly #sticky: StickyPartitioner;
  /** Every partition's state, for flush, close and retries. */
  readonly #partitions: PartitionState[] = [];
  /** The same states by topic, then partition: send() finds its state without building a key. */
  readonly #byTopic = new Map<string, PartitionState[]>();
  #identity: ProducerIdentity | undefined;
  #identityLoad: Promise<void> | undefined;
  #identityStale = false;
  /** Records sent but not yet answered; flush() waits for zero. */
  #outstanding = 0;
  #idleWaiters: (() => void)[] = [];
  #closed = false;
  /** Sends not yet in a batch, in call order. Invariant: length ≤ sendsWaitingMax. */
  readonly #admissions: Admission[] = [];
  #admitting = false;
  readonly #sendsWaitingMax: number;
  #onClose: (() => void) | undefined;

  constructor(connection: Connection, options: ProducerOptions = {}, onClose?: () => void) {
    const d = CLIENT_DEFAULTS.producer;
    this.#conn = connection;
    this.#onClose = onClose;
    this.#acks = normalizeAcks(options.acks ?? "all");
    if (options.idempotent === true && this.#acks !== "all") {
      throw new StromError(
        "INVALID_CONFIG",
        `idempotence needs acks "all" (got acks ${options.acks}); set idempotent: false to use acks ${options.acks}`,
      );
    }
    this.#idempotent = options.idempotent ?? this.#acks === "all";
    this.#compression = options.compression ?? "none";
    this.#batchBytes = positive("batchBytes", options.batchBytes ?? d.batchBytes);
    this.#lingerMs = nonNegative("lingerMs", options.lingerMs ?? d.lingerMs);
    this.#recordBytesMax = positive("recordBytesMax", options.recordBytesMax ?? d.recordBytesMax);
    this.#deliveryTimeoutMs = positive(
      "deliveryTimeoutMs",
      options.deliveryTimeoutMs ?? d.deliveryTimeoutMs,
    );
    this.#inFlightMax = positive(
      "inFlightBatchesPerPartitionMax",
      options.inFlightBatchesPerPartitionMax ??
        (this.#idempotent ? d.inFlightBatchesPerPartitionMax : 1),
    );
    if (this.#idempotent && this.#inFlightMax > 5) {
      throw new StromError(
        "INVALID_CONFIG",
        `idempotence allows at most 5 batches in flight per partition, got ${this.#inFlightMax}`,
      );
    }
    this.#ackTimeoutMs = positive("ackTimeoutMs", options.ackTimeoutMs ?? d.ackTimeoutMs);
    this.#sendsWaitingMax = positive(
      "sendsWaitingMax",
      options.sendsWaitingMax ?? d.sendsWaitingMax,
    );
    this.#memory = new BufferMemory({
      bytesMax: positive("bufferBytesMax", options.bufferBytesMax ?? d.bufferBytesMax),
      // Only the admission loop waits for memory; the queue of sends is bounded above.
      waitersMax: 1,
      waitMsMax: positive("bufferWaitMsMax", options.bufferWaitMsMax ?? d.bufferWaitMsMax),
    });
    this.#sticky = new StickyPartitioner(connection.random);
  }

  /** Whether batches carry a producer id and sequence numbers. */
  get idempotent(): boolean {
    return this.#idempotent;
  }

  /** Buffer memory held by unanswered records, and send() calls waiting for memory. */
  get bufferStats(): { usedBytes: number; bytesMax: number; sendsWaiting: number } {
    return {
      usedBytes: this.#memory.usedBytes,
      bytesMax: this.#memory.bytesMax,
      sendsWaiting: this.#admissions.length,
    };
  }

  /**
   * Sends one record; resolves once the broker acknowledged it (per `acks`)
   * with its partition and offset. Waits for buffer memory when it is used
   * up (back-pressure); rejects with a {@link StromError} when the record
   * cannot be delivered within `deliveryTimeoutMs` or the broker refuses it.
   */
  async send(record: ProducerRecord, options: Pick<CallOptions, "signal"> = {}): Promise<
    RecordMetadata
  > {
    this.#checkOpen();
    const input = toRecordInput(record);
    const sizeBytes = recordSizeBytes(input);
    if (sizeBytes + BATCH_HEADER_BYTES > this.#recordBytesMax) {
      throw new StromError(
        "MESSAGE_TOO_LARGE",
        `the record is about ${sizeBytes} bytes, more than recordBytesMax (${this.#recordBytesMax})`,
      );
    }
    if (sizeBytes > this.#memory.bytesMax) {
      throw new StromError(
        "MESSAGE_TOO_LARGE",
        `a record of ${sizeBytes} bytes cannot fit in the producer's buffer of ${this.#memory.bytesMax} bytes; raise bufferBytesMax`,
      );
    }
    if (this.#admissions.length >= this.#sendsWaitingMax) {
      throw new StromError(
        "BUFFER_EXHAUSTED",
        `${this.#admissions.length} sends already wait for buffer memory (sendsWaitingMax); await earlier sends before sending more`,
      );
    }
    const { promise, resolve, reject } = Promise.withResolvers<RecordMetadata>();
    // Counted from here so that flush() also waits for sends still waiting for memory.
    this.#outstanding++;
    this.#admissions.push({
      record,
      pending: { input, sizeBytes, resolve, reject },
      signal: options.signal,
    });
    if (!this.#admitting) void this.#admit();
    return await promise;
  }

  /**
   * Moves sends into batches strictly in call order: a later send never
   * overtakes an earlier one waiting for metadata or memory, so records of one
   * partition keep the order of their send() calls.
   */
  async #admit(): Promise<void> {
    this.#admitting = true;
    while (this.#admissions.length > 0) {
      const next = this.#admissions[0];
      try {
        next.signal?.throwIfAborted();
        this.#checkOpen();
        const topic = next.record.topic;
        const count = this.#conn.metadata.partitionCountCached(topic) ??
          await this.#conn.metadata.partitionCount(
            topic,
            next.signal ? { signal: next.signal } : {},
          );
        const key = next.pending.input.key ?? null;
        let partition = this.#choosePartition(next.record, key, count);
        if (
          next.record.partition === undefined && key === null &&
          this.#wouldStartBatch(topic, partition, next.pending.sizeBytes)
        ) {
          // Kafka's abortOnNewBatch: a sticky record that does not fit the open batch seals it,
          // which moves the sticky partition on, and goes to the new partition. Appending it
          // to the old one would start a one-record batch there that lingers (and costs a
          // request and a replication round trip of its own) while the rest go elsewhere.
          this.#seal(this.#state(topic, partition));
          partition = this.#choosePartition(next.record, key, count);
        }
        if (!this.#memory.tryReserve(next.pending.sizeBytes)) {
          await this.#memory.reserve(next.pending.sizeBytes, next.signal);
        }
        if (this.#closed) {
          this.#memory.release(next.pending.sizeBytes);
          this.#checkOpen();
        }
        this.#admissions.shift();
        this.#append(topic, partition, next.pending);
      } catch (e) {
        this.#admissions.shift();
        next.pending.reject(e);
        this.#settled(1);
      }
    }
    this.#admitting = false;
  }

  /** Sends a record whose value is serialised as JSON. */
  sendJson(record: JsonProducerRecord, options: Pick<CallOptions, "signal"> = {}): Promise<
    RecordMetadata
  > {
    return this.send({ ...record, value: JSON.stringify(record.value) }, options);
  }

  /** Sends every batch now and resolves once every record sent so far has its answer. */
  async flush(): Promise<void> {
    for (const p of this.#partitions) this.#seal(p);
    if (this.#outstanding === 0) return;
    await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Flushes, then refuses further sends. Records still waiting for memory fail with CLIENT_CLOSED. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Sends still waiting for memory fail with CLIENT_CLOSED as the admission loop reaches them.
    this.#memory.rejectAll(new StromError("CLIENT_CLOSED", "the producer was closed"));
    await this.flush();
    for (const p of this.#partitions) {
      clearTimeout(p.lingerTimer);
      clearTimeout(p.retryTimer);
    }
    this.#onClose?.();
  }

  #checkOpen(): void {
    if (this.#closed) {
      throw new StromError("CLIENT_CLOSED", "the producer is closed; create a new one to send");
    }
  }

  #choosePartition(record: ProducerRecord, key: Uint8Array | null, count: number): number {
    if (record.partition !== undefined) {
      if (!Number.isInteger(record.partition) || record.partition < 0) {
        throw new StromError("INVALID_REQUEST", `partition must be an integer ≥ 0`);
      }
      if (record.partition >= count) {
        throw new StromError(
          "UNKNOWN_TOPIC_OR_PARTITION",
          `topic '${record.topic}' has ${count} partition(s); partition ${record.partition} does not exist`,
        );
      }
      return record.partition;
    }
    if (key !== null) return partitionForKey(key, count);
    return this.#sticky.partition(record.topic, count);
  }

  #state(topic: string, partition: number): PartitionState {
    let states = this.#byTopic.get(topic);
    if (!states) {
      states = [];
      this.#byTopic.set(topic, states);
    }
    let p = states[partition];
    if (!p) {
      p = {
        topic,
        partition,
        open: undefined,
        lingerTimer: undefined,
        queue: [],
        inFlight: 0,
        blocked: false,
        leaderWatch: false,
        sealed: 0,
        retryAtMs: 0,
        retryTimer: undefined,
        sequencePid: -1,
        nextSequence: 0,
      };
      states[partition] = p;
      this.#partitions.push(p);
    }
    return p;
  }

  /** Whether a record of `sizeBytes` would not fit the open batch of `topic`/`partition` (and seal it). */
  #wouldStartBatch(topic: string, partition: number, sizeBytes: number): boolean {
    const open = this.#byTopic.get(topic)?.[partition]?.open;
    return open !== undefined && open.records.length > 0 &&
      open.sizeBytes + sizeBytes > this.#batchBytes;
  }

  #append(topic: string, partition: number, record: PendingRecord): void {
    const p = this.#state(topic, partition);
    if (
      p.open && p.open.records.length > 0 && p.open.sizeBytes + record.sizeBytes > this.#batchBytes
    ) {
      this.#seal(p);
    }
    if (!p.open) {
      const batch = new ProducerBatch(topic, partition, Date.now() + this.#deliveryTimeoutMs);
      p.open = batch;
      if (this.#lingerMs === 0) {
        // linger 0 sends at once, yet records of the same synchronous burst share a batch (as
        // Kafka's sender thread does). A 0 ms timer would cost ~1 ms: Deno's timers tick in ms.
        queueMicrotask(() => {
          if (p.open === batch) this.#seal(p);
        });
      } else p.lingerTimer = setTimeout(() => this.#seal(p), this.#lingerMs);
    }
    p.open.add(record);
    // A flush() is waiting: do not let a record that arrives meanwhile linger.
    if (p.open.sizeBytes >= this.#batchBytes || this.#idleWaiters.length > 0) this.#seal(p);
  }

  /** Closes the open batch of `p` and queues it for sending. */
  #seal(p: PartitionState): void {
    const batch = p.open;
    if (!batch) return;
    clearTimeout(p.lingerTimer);
    p.lingerTimer = undefined;
    p.open = undefined;
    batch.state = "ready";
    batch.ordinal = p.sealed++;
    p.queue.push(batch);
    const count = this.#conn.metadata.partitionCountCached(p.topic);
    if (count !== undefined) this.#sticky.batchSealed(p.topic, p.partition, count);
    this.#drain(p);
  }

  /** Sends what may be sent now from `p`'s queue, in order. */
  #drain(p: PartitionState): void {
    if (p.blocked) {
      if (p.inFlight > 0) return;
      const waitMs = p.retryAtMs - Date.now();
      if (waitMs > 0) {
        if (p.retryTimer === undefined) {
          p.retryTimer = setTimeout(() => {
            p.retryTimer = undefined;
            this.#drain(p);
          }, waitMs);
        }
        return;
      }
      p.blocked = false;
    }
    this.#expireUnsent(p);
    // After a retry, one batch at a time until the retried ones are answered, as Kafka does.
    const limit = p.queue.some((b) => b.retried) ? 1 : this.#inFlightMax;
    const oldest = p.queue[0];
    for (const batch of p.queue) {
      if (p.inFlight >= limit) return;
      if (batch.state !== "ready") continue;
      // A broker remembers a producer's last BROKER_PRODUCER_WINDOW_BATCHES batches; a retry of
      // the oldest unanswered batch must still be inside that window, or it is refused and
      // re-sent as new (a duplicate). So a batch is sent only while it is within the window of
      // the oldest unanswered one, counting batches answered meanwhile (the chaos suite saw
      // three hung batches retried after three later ones were acknowledged).
      if (this.#idempotent && batch.ordinal - oldest.ordinal >= BROKER_PRODUCER_WINDOW_BATCHES) {
        return;
      }
      if (batch.bytes === undefined && this.#idempotent) {
        const identity = this.#currentIdentity();
        if (!identity) return; // #loadIdentity drains every partition once it has an id.
        // Batches under an older producer id must settle before new ones follow them.
        if (p.queue.some((b) => b.state === "inflight" && b.producerId !== identity.producerId)) {
          return;
        }
        this.#number(p, batch, identity);
      }
      batch.state = "inflight";
      p.inFlight++;
      void this.#send(p, batch);
    }
  }

  /** Fails never-sent batches whose delivery deadline passed (a stalled partition). */
  #expireUnsent(p: PartitionState): void {
    const now = Date.now();
    for (const batch of [...p.queue]) {
      if (batch.state === "ready" && batch.attempts === 0 && now >= batch.deadlineMs) {
        this.#fail(p, batch, deliveryTimeout(batch, undefined));
      }
    }
  }

  #number(p: PartitionState, batch: ProducerBatch, identity: ProducerIdentity): void {
    if (p.sequencePid !== identity.producerId) {
      p.sequencePid = identity.producerId;
      p.nextSequence = 0;
    }
    batch.producerId = identity.producerId;
    batch.producerEpoch = identity.producerEpoch;
    batch.baseSequence = p.nextSequence;
    p.nextSequence = (p.nextSequence + batch.records.length) % SEQUENCE_MODULUS;
  }

  #currentIdentity(): ProducerIdentity | undefined {
    if (this.#identity && !this.#identityStale) return this.#identity;
    this.#identityLoad ??= this.#loadIdentity();
    return undefined;
  }

  async #loadIdentity(): Promise<void> {
    for (let attempt = 1;; attempt++) {
      try {
        this.#identity = await this.#conn.anyBroker<ProducerIdentity>({
          method: "POST",
          path: "/v1/producers",
          body: {},
        });
        this.#identityStale = false;
        break;
      } catch (e) {
        if (this.#outstanding === 0) break;
        if (!isRetriable(e)) {
          for (const p of this.#partitions) this.#failUnnumbered(p, e);
          break;
        }
        // Without an id nothing can be sent: fail what is past its deadline, keep trying for the rest.
        for (const p of this.#partitions) this.#failExpired(p, e);
        await new Promise((r) => setTimeout(r, backoffDelayMs(attempt, this.#backoff())));
      }
    }
    this.#identityLoad = undefined;
    for (const p of this.#partitions) this.#drain(p);
  }

  #failUnnumbered(p: PartitionState, error: unknown): void {
    for (const batch of [...p.queue]) {
      if (batch.state === "ready" && batch.bytes === undefined) this.#fail(p, batch, error);
    }
  }

  #failExpired(p: PartitionState, cause: unknown): void {
    const now = Date.now();
    for (const batch of [...p.queue]) {
      if (batch.state === "ready" && now >= batch.deadlineMs) {
        this.#fail(p, batch, deliveryTimeout(batch, cause));
      }
    }
  }

  async #send(p: PartitionState, batch: ProducerBatch): Promise<void> {
    batch.attempts++;
    let leader: LeaderLocation | undefined;
    try {
      batch.bytes ??= await encodeRecordBatch({
        records: batch.records.map((r) => r.input),
        compression: this.#compression,
        producerId: batch.producerId,
        producerEpoch: batch.producerEpoch,
        baseSequence: batch.baseSequence,
      });
      leader = await this.#conn.metadata.leader(p.topic, p.partition);
      const res = await this.#conn.request(leader.url, {
        method: "POST",
        path: `${
          partitionPath(p.topic, p.partition)
        }/records?acks=${this.#acks}&timeoutMs=${this.#ackTimeoutMs}`,
        headers: { "content-type": "application/vnd.strom.batch" },
        body: batch.bytes,
        timeoutMs: this.#conn.requestTimeoutMs + (this.#acks === "all" ? this.#ackTimeoutMs : 0),
      });
      const body = parseJson(res.body);
      if (res.status < 200 || res.status >= 300) throw StromError.fromBody(body, res.status);
      const answer = body as { baseOffset: number; logAppendTime?: number };
      this.#complete(p, batch, answer.baseOffset, answer.logAppendTime ?? -1);
    } catch (e) {
      this.#onError(p, batch, e, leader);
    } finally {
      p.inFlight--;
      this.#drain(p);
    }
  }

  #onError(
    p: PartitionState,
    batch: ProducerBatch,
    e: unknown,
    leader: LeaderLocation | undefined,
  ): void {
    const error = e instanceof StromError
      ? e
      : e instanceof RangeError
      ? new StromError("INVALID_RECORD", e.message, { cause: e })
      : new StromError("UNKNOWN_SERVER_ERROR", String(e), { cause: e });
    if (error.code === "NOT_LEADER_OR_FOLLOWER" && error.leader) {
      this.#conn.metadata.noteLeader(p.topic, p.partition, error.leader);
    } else if (error.retriable || error.code === "UNKNOWN_TOPIC_OR_PARTITION") {
      this.#conn.metadata.invalidate(p.topic);
    }
    let retry = isRetriable(error);
    if (error.code === "UNKNOWN_TOPIC_OR_PARTITION") {
      retry = batch.unknownTopicRetries++ < 3;
    }
    if (error.code === "OUT_OF_ORDER_SEQUENCE_NUMBER" && this.#idempotent) {
      // Refused, so not appended. If an earlier batch of ours is still unanswered or being
      // re-sent, that explains the gap: re-send as is. Otherwise the broker lost track of the
      // sequence (an earlier batch failed for good): renumber under a new producer id.
      if (p.queue.indexOf(batch) === 0) {
        if (batch.producerId === this.#identity?.producerId) this.#identityStale = true;
        batch.bytes = undefined;
      }
      retry = true;
    }
    if (retry && Date.now() < batch.deadlineMs) {
      batch.state = "ready";
      batch.retried = true;
      p.blocked = true;
      p.retryAtMs = Math.max(
        p.retryAtMs,
        Date.now() + backoffDelayMs(batch.attempts, this.#backoff()),
      );
      if (leader !== undefined && LEADER_LOST_CODES.has(error.code)) {
        this.#watchForNewLeader(p, leader);
      }
      return;
    }
    this.#fail(p, batch, retry ? deliveryTimeout(batch, error) : error);
    // A sequence was used up by a batch the broker may or may not have: start a fresh one.
    if (this.#idempotent && batch.producerId === this.#identity?.producerId) {
      this.#identityStale = true;
    }
  }

  /**
   * After losing the leader `failed`, looks for a newer one every
   * LEADER_WATCH_INTERVAL_MS until the backoff would retry anyway, and
   * retries at once when one appears (Kafka's KIP-951 idea: a retry to a new
   * leader need not wait out a backoff meant for the old one). Without it a
   * failover takes the session timeout rounded up to the next step of the
   * exponential backoff (100, 300, 700, 1,500, 2,500 ms after the failure).
   */
  #watchForNewLeader(p: PartitionState, failed: LeaderLocation): void {
    if (p.leaderWatch) return;
    p.leaderWatch = true;
    void (async () => {
      try {
        while (
          p.blocked && !this.#closed && Date.now() + LEADER_WATCH_INTERVAL_MS < p.retryAtMs
        ) {
          await sleep(LEADER_WATCH_INTERVAL_MS);
          const now = await this.#conn.metadata.leader(p.topic, p.partition, { refresh: true })
            .catch(() => undefined);
          if (now !== undefined && now.leaderEpoch > failed.leaderEpoch && p.blocked) {
            p.retryAtMs = Date.now();
            clearTimeout(p.retryTimer);
            p.retryTimer = undefined;
            this.#drain(p);
            return;
          }
        }
      } finally {
        p.leaderWatch = false;
      }
    })();
  }

  #backoff() {
    return {
      backoffMs: this.#conn.retryBackoffMs,
      backoffMsMax: this.#conn.retryBackoffMsMax,
      random: this.#conn.random,
    };
  }

  #complete(p: PartitionState, batch: ProducerBatch, baseOffset: number, appendTime: number): void {
    this.#finish(p, batch);
    batch.records.forEach((r, i) =>
      r.resolve({
        topic: p.topic,
        partition: p.partition,
        offset: baseOffset < 0 ? -1 : baseOffset + i,
        timestamp: appendTime > 0 ? appendTime : r.input.timestamp,
      })
    );
  }

  #fail(p: PartitionState, batch: ProducerBatch, error: unknown): void {
    this.#finish(p, batch);
    for (const r of batch.records) r.reject(error);
  }

  #finish(p: PartitionState, batch: ProducerBatch): void {
    batch.state = "done";
    const i = p.queue.indexOf(batch);
    if (i >= 0) p.queue.splice(i, 1);
    this.#memory.release(batch.reservedBytes);
    this.#settled(batch.records.length);
  }

  #settled(records: number): void {
    this.#outstanding -= records;
    if (this.#outstanding === 0) { for (const w of this.#idleWaiters.splice(0)) w(); }
  }
}

function deliveryTimeout(batch: ProducerBatch, cause: unknown): StromError {
  const why = cause instanceof Error ? `; last error: ${cause.message}` : "";
  return new StromError(
    "REQUEST_TIMED_OUT",
    `${batch.records.length} record(s) for ${batch.topic}-${batch.partition} expired: deliveryTimeoutMs passed after ${batch.attempts} attempt(s)${why}`,
    { cause },
  );
}

function toRecordInput(record: ProducerRecord): PendingRecord["input"] {
  if (typeof record.topic !== "string" || record.topic.length === 0) {
    throw new StromError("INVALID_TOPIC_EXCEPTION", "a record needs a topic");
  }
  return {
    key: bytesOf(record.key ?? null),
    value: bytesOf(record.value),
    headers: headersOf(record.headers),
    timestamp: record.timestamp ?? Date.now(),
  };
}

function bytesOf(v: string | Uint8Array | null | undefined): Uint8Array | null {
  if (v === null || v === undefined) return null;
  return typeof v === "string" ? TEXT.encode(v) : v;
}

function headersOf(headers: ProducerRecord["headers"]): RecordHeader[] {
  if (!headers) return [];
  const list = Array.isArray(headers)
    ? headers as readonly { key: string; value: HeaderValue }[]
    : Object.entries(headers as Record<string, HeaderValue>).map(([key, value]) => ({
      key,
      value,
    }));
  return list.map((h) => ({ key: h.key, value: bytesOf(h.value) }));
}

function normalizeAcks(acks: AcksOption): "all" | "0" | "1" {
  const s = String(acks);
  if (s === "all" || s === "-1") return "all";
  if (s === "0" || s === "1") return s;
  throw new StromError("INVALID_CONFIG", `acks must be 0, 1 or "all", got ${acks}`);
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new StromError("INVALID_CONFIG", `${name} must be a positive number, got ${value}`);
  }
  return value;
}

function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new StromError("INVALID_CONFIG", `${name} must be ≥ 0, got ${value}`);
  }
  return value;
}

function parseJson(body: Uint8Array): unknown {
  try {
    return body.length === 0 ? null : JSON.parse(new TextDecoder().decode(body));
  } catch {
    return null;
  }
}
