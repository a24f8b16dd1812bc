/**
 * The consumer, with manual assignment: the application says which
 * partitions to read (`assign`), from where (`seek`), and reads records with
 * `for await` or batch by batch with `run({ eachBatch })`. Each partition
 * is fetched ahead by its own long-poll loop within a memory bound.
 *
 * Group mode (the consumer-groups issue) builds on the same pieces: a group
 * member calls {@link Consumer.assign} with the partitions the coordinator
 * hands it and commits {@link Consumer.position}s; nothing else here needs
 * to change for it.
 *
 * @module
 */

import type { CallOptions, Connection } from "../connection/connection.ts";
import { CLIENT_DEFAULTS } from "../defaults.ts";
import { StromError } from "../errors.ts";
import type { ConsumerRecord, FetchContext, OffsetResetPolicy } from "./partition_fetcher.ts";
import { PartitionFetcher } from "./partition_fetcher.ts";
import { Wakeup } from "./wakeup.ts";
import { GroupMember } from "./group_member.ts";
import type { GroupMemberHost, GroupMemberOptions, OffsetToCommit } from "./group_member.ts";

export type { ConsumerRecord, OffsetResetPolicy };

/** Options of {@link Consumer}; defaults in {@link CLIENT_DEFAULTS}. */
export interface ConsumerOptions {
  /** Where a partition without a position starts, and what happens when its offset is out of range (default "latest", as in Kafka). */
  readonly autoOffsetReset?: OffsetResetPolicy;
  /** Bytes per partition per fetch, and the most prefetched per partition (default 1 MiB). */
  readonly fetchBytesMax?: number;
  /** Prefetched bytes across all partitions (default 16 MiB). */
  readonly bufferBytesMax?: number;
  /** Long-poll wait at the end of a partition (default 500 ms). */
  readonly fetchWaitMsMax?: number;
  /** Bytes a fetch waits for (default 1). */
  readonly fetchBytesMin?: number;
  /** Partitions one consumer may be assigned (default 10,000). */
  readonly partitionsMax?: number;
  /** The consumer group; required by {@link Consumer.subscribe}. */
  readonly groupId?: string;
  /** Static membership id (group mode). */
  readonly instanceId?: GroupMemberOptions["instanceId"];
  /** Group mode: should match the brokers' group session timeout (default 10 s). */
  readonly sessionTimeoutMs?: number;
  /** Group mode: how long revoking partitions may take (default 60 s). */
  readonly rebalanceTimeoutMs?: number;
  /** Group mode: commit what was processed every `autoCommitIntervalMs` (default true). */
  readonly autoCommit?: boolean;
  /** Group mode: auto-commit period (default 5 s). */
  readonly autoCommitIntervalMs?: number;
  /** Group mode: called with partitions this consumer now owns. */
  readonly onPartitionsAssigned?: GroupMemberOptions["onPartitionsAssigned"];
  /** Group mode: called with partitions this consumer gives up, once their deliveries finished. */
  readonly onPartitionsRevoked?: GroupMemberOptions["onPartitionsRevoked"];
  /** Group mode: called with the offsets of each commit the coordinator accepted. */
  readonly onOffsetsCommitted?: GroupMemberOptions["onOffsetsCommitted"];
}

/** A topic partition. */
export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/** A partition to assign, optionally with where to start. */
export interface PartitionAssignment extends TopicPartition {
  /** An offset, or "earliest"/"latest"; default: autoOffsetReset. */
  readonly offset?: number | "earliest" | "latest";
}

/** One partition's records handed to `eachBatch`. */
export interface ConsumerBatch extends TopicPartition {
  readonly records: readonly ConsumerRecord[];
  /** The partition's high watermark when the records were fetched. */
  readonly highWatermark: number;
}

/** Options of {@link Consumer.run}. */
export interface RunOptions {
  /** Called with each partition's records in order; the next batch of the partition waits for it. */
  readonly eachBatch: (batch: ConsumerBatch) => void | Promise<void>;
  /** Records per call at most (default 500, Kafka's max.poll.records). */
  readonly batchRecordsMax?: number;
  /** Ends the run. */
  readonly signal?: AbortSignal;
}

/** Kafka's max.poll.records. */
const BATCH_RECORDS_MAX_DEFAULT = 500;

/**
 * Reads records from assigned partitions. Get one from `strom.consumer(options)`.
 *
 * @example
 * ```ts ignore
 * import { Strom } from "@strom/client";
 * const strom = new Strom({ brokers: "http://127.0.0.1:9092" });
 * const consumer = strom.consumer({ autoOffsetReset: "earliest" });
 * consumer.assign([{ topic: "orders", partition: 0 }]);
 * for await (const record of consumer) {
 *   console.log(record.offset, new TextDecoder().decode(record.value!));
 *   if (record.offset >= 9) break;
 * }
 * await consumer.close();
 * await strom.close();
 * ```
 */
export class Consumer implements AsyncIterable<ConsumerRecord> {
  readonly #ctx: FetchContext;
  readonly #partitionsMax: number;
  #fetchers: PartitionFetcher[] = [];
  #cursor = 0;
  #closed = false;
  readonly #onClose: (() => void) | undefined;
  readonly #options: ConsumerOptions;
  #group: GroupMember | undefined;
  /**
   * The batch last handed to the application, until it asks for more (then
   * it is completed). Group mode revokes a partition only once its batch is
   * no longer in flight, and auto-commit commits only completed batches.
   */
  #inFlight: OffsetToCommit | undefined;
  readonly #inFlightDone = new Wakeup();
  /** Per partition, the offset after the last completed batch. */
  readonly #completed = new Map<string, OffsetToCommit>();
  /** Per partition, the offset after the last record handed out. */
  readonly #delivered = new Map<string, OffsetToCommit>();

  constructor(connection: Connection, options: ConsumerOptions = {}, onClose?: () => void) {
    const d = CLIENT_DEFAULTS.consumer;
    const reset = options.autoOffsetReset ?? "latest";
    if (!["earliest", "latest", "none"].includes(reset)) {
      throw new StromError(
        "INVALID_CONFIG",
        `autoOffsetReset must be "earliest", "latest" or "none", got ${reset}`,
      );
    }
    this.#ctx = {
      conn: connection,
      fetchBytesMax: options.fetchBytesMax ?? d.fetchBytesMax,
      fetchBytesMin: options.fetchBytesMin ?? d.fetchBytesMin,
      fetchWaitMsMax: options.fetchWaitMsMax ?? d.fetchWaitMsMax,
      bufferBytesMax: options.bufferBytesMax ?? d.bufferBytesMax,
      autoOffsetReset: reset,
      bufferedBytes: 0,
      dataReady: new Wakeup(),
      spaceFreed: new Wakeup(),
    };
    this.#partitionsMax = options.partitionsMax ?? d.partitionsMax;
    this.#onClose = onClose;
    this.#options = options;
  }

  /**
   * Group mode: joins `groupId` and reads the partitions of `topics` (names,
   * or a regex matching whole names) the group coordinator assigns to this
   * consumer, starting at the group's committed offsets. Calling it again
   * changes the subscription.
   */
  subscribe(topics: readonly string[] | RegExp): void {
    this.#checkOpen();
    const groupId = this.#options.groupId;
    if (groupId === undefined) {
      throw new StromError("INVALID_CONFIG", "subscribe() needs a groupId in the consumer options");
    }
    if (!(topics instanceof RegExp) && (!Array.isArray(topics) || topics.length === 0)) {
      throw new StromError(
        "INVALID_REQUEST",
        "subscribe() takes a list of topic names or a RegExp",
      );
    }
    if (this.#group) {
      this.#group.resubscribe(topics);
      return;
    }
    if (this.#fetchers.length > 0) {
      throw new StromError(
        "INVALID_REQUEST",
        "this consumer has manual assignments; it cannot subscribe",
      );
    }
    const o = this.#options;
    this.#group = new GroupMember(this.#ctx.conn, this.#groupHost(), {
      groupId,
      ...(o.instanceId === undefined ? {} : { instanceId: o.instanceId }),
      ...(o.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: o.sessionTimeoutMs }),
      ...(o.rebalanceTimeoutMs === undefined ? {} : { rebalanceTimeoutMs: o.rebalanceTimeoutMs }),
      ...(o.autoCommit === undefined ? {} : { autoCommit: o.autoCommit }),
      ...(o.autoCommitIntervalMs === undefined
        ? {}
        : { autoCommitIntervalMs: o.autoCommitIntervalMs }),
      ...(o.onPartitionsAssigned ? { onPartitionsAssigned: o.onPartitionsAssigned } : {}),
      ...(o.onPartitionsRevoked ? { onPartitionsRevoked: o.onPartitionsRevoked } : {}),
      ...(o.onOffsetsCommitted ? { onOffsetsCommitted: o.onOffsetsCommitted } : {}),
    }, topics);
    this.#group.start();
  }

  /** Group mode: the group membership (member id, epoch, owned partitions), once subscribed. */
  get group(): GroupMember | undefined {
    return this.#group;
  }

  /**
   * Group mode: commits the given offsets, or else the position after every
   * record handed to the application so far (call it after processing them).
   */
  async commit(offsets?: readonly OffsetToCommit[]): Promise<void> {
    if (!this.#group) {
      throw new StromError("INVALID_REQUEST", "commit() is for group mode; subscribe() first");
    }
    await this.#group.commit(offsets ?? "delivered");
  }

  /** Bytes prefetched across all partitions. Invariant: at most bufferBytesMax plus one fetch per partition. */
  get bufferedBytes(): number {
    return this.#ctx.bufferedBytes;
  }

  /**
   * Reads exactly these partitions from now on. Partitions already assigned
   * keep their position unless an offset is given; others stop.
   */
  assign(partitions: readonly PartitionAssignment[]): void {
    this.#checkOpen();
    if (this.#group) {
      throw new StromError(
        "INVALID_REQUEST",
        "this consumer is subscribed to a group; it cannot assign()",
      );
    }
    this.#assign(partitions);
  }

  #assign(partitions: readonly PartitionAssignment[]): void {
    if (partitions.length > this.#partitionsMax) {
      throw new StromError(
        "INVALID_REQUEST",
        `${partitions.length} partitions exceed partitionsMax (${this.#partitionsMax})`,
      );
    }
    const next: PartitionFetcher[] = [];
    for (const a of partitions) {
      if (!Number.isInteger(a.partition) || a.partition < 0) {
        throw new StromError("INVALID_REQUEST", `partition must be an integer ≥ 0`);
      }
      // A partition listed twice is assigned once; the later entry's offset wins.
      const listed = next.find((f) => f.topic === a.topic && f.partition === a.partition);
      const existing = listed ?? this.#find(a);
      if (existing) {
        if (a.offset !== undefined) existing.seek(a.offset);
        if (!listed) next.push(existing);
      } else {
        next.push(new PartitionFetcher(this.#ctx, a.topic, a.partition, a.offset));
      }
    }
    const removed = this.#fetchers.filter((f) => !next.includes(f));
    this.#fetchers = next;
    for (const f of removed) {
      this.#completed.delete(tpKey(f));
      this.#delivered.delete(tpKey(f));
    }
    for (const f of removed) void f.stop();
    for (const f of next) f.start();
  }

  /** The assigned partitions. */
  assignment(): TopicPartition[] {
    return this.#fetchers.map((f) => ({ topic: f.topic, partition: f.partition }));
  }

  /** Moves an assigned partition to `offset` (or its earliest/latest offset). */
  seek(target: TopicPartition & { offset: number | "earliest" | "latest" }): void {
    this.#checkOpen();
    this.#assigned(target).seek(target.offset);
  }

  /** The next offset the application gets from a partition (undefined until known). */
  position(tp: TopicPartition): number | undefined {
    return this.#assigned(tp).position;
  }

  /** Stops fetching and yielding these partitions until resumed. */
  pause(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.#assigned(tp).paused = true;
  }

  /** Resumes paused partitions. */
  resume(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.#assigned(tp).paused = false;
    this.#ctx.spaceFreed.notify();
    this.#ctx.dataReady.notify();
  }

  /** The paused partitions. */
  paused(): TopicPartition[] {
    return this.#fetchers.filter((f) => f.paused).map((f) => ({
      topic: f.topic,
      partition: f.partition,
    }));
  }

  /** Iterates records one by one until the consumer is closed (or the loop breaks). */
  async *[Symbol.asyncIterator](): AsyncIterator<ConsumerRecord> {
    while (true) {
      const batch = await this.nextBatch({ recordsMax: 1 });
      if (!batch) return;
      yield batch.records[0];
    }
  }

  /**
   * The next records of one partition (round robin over partitions), waiting
   * until some arrive; undefined once the consumer is closed or the signal
   * aborts. Throws a partition's fetch error (once).
   */
  async nextBatch(
    options: Pick<CallOptions, "signal"> & { recordsMax?: number } = {},
  ): Promise<ConsumerBatch | undefined> {
    const max = options.recordsMax ?? BATCH_RECORDS_MAX_DEFAULT;
    this.#completeInFlight();
    while (!this.#closed && !options.signal?.aborted) {
      const n = this.#fetchers.length;
      for (let i = 0; i < n; i++) {
        const f = this.#fetchers[(this.#cursor + i) % n];
        if (f.error !== undefined) {
          const error = f.error;
          f.error = undefined;
          throw error;
        }
        if (f.paused || f.buffered === 0) continue;
        this.#cursor = (this.#cursor + i + 1) % n;
        const records = f.take(max);
        const last = records[records.length - 1];
        if (last) {
          const next = { topic: f.topic, partition: f.partition, offset: last.offset + 1 };
          this.#inFlight = next;
          this.#delivered.set(tpKey(f), next);
        }
        return { topic: f.topic, partition: f.partition, records, highWatermark: f.highWatermark };
      }
      await this.#waitForData(options.signal);
    }
    return undefined;
  }

  /**
   * Calls `eachBatch` with each partition's records until the consumer is
   * closed or `signal` aborts. A throwing handler ends the run with its error.
   */
  async run(options: RunOptions): Promise<void> {
    const recordsMax = options.batchRecordsMax ?? BATCH_RECORDS_MAX_DEFAULT;
    while (true) {
      const batch = await this.nextBatch({
        recordsMax,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      if (!batch) return;
      await options.eachBatch(batch);
    }
  }

  /** Stops every fetch; iteration and run() end. */
  async close(): Promise<void> {
    if (this.#closed) return;
    // The application is done with what it was handed: commit it and leave the group.
    this.#completeInFlight();
    await this.#group?.close();
    this.#closed = true;
    const fetchers = this.#fetchers;
    this.#fetchers = [];
    this.#ctx.dataReady.notify();
    await Promise.all(fetchers.map((f) => f.stop()));
    this.#onClose?.();
  }

  #completeInFlight(): void {
    const done = this.#inFlight;
    if (done === undefined) return;
    this.#inFlight = undefined;
    if (this.#find(done)) this.#completed.set(tpKey(done), done);
    this.#inFlightDone.notify();
  }

  #groupHost(): GroupMemberHost {
    return {
      setPartitions: (partitions) => {
        if (!this.#closed) this.#assign(partitions);
      },
      waitDelivered: async (partitions, timeoutMs) => {
        const keys = new Set(partitions.map(tpKey));
        const deadline = Date.now() + timeoutMs;
        while (this.#inFlight && keys.has(tpKey(this.#inFlight)) && Date.now() < deadline) {
          let timer: ReturnType<typeof setTimeout> | undefined;
          await Promise.race([
            this.#inFlightDone.wait(),
            new Promise((resolve) => timer = setTimeout(resolve, 100)),
          ]);
          clearTimeout(timer);
        }
      },
      offsets: (which) => [...(which === "completed" ? this.#completed : this.#delivered).values()],
    };
  }

  #waitForData(signal: AbortSignal | undefined): Promise<void> {
    const wait = this.#ctx.dataReady.wait();
    if (!signal) return wait;
    return new Promise<void>((resolve) => {
      const onAbort = () => resolve();
      signal.addEventListener("abort", onAbort, { once: true });
      wait.then(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      });
    });
  }

  #find(tp: TopicPartition): PartitionFetcher | undefined {
    return this.#fetchers.find((f) => f.topic === tp.topic && f.partition === tp.partition);
  }

  #assigned(tp: TopicPartition): PartitionFetcher {
    const f = this.#find(tp);
    if (!f) {
      throw new StromError(
        "INVALID_REQUEST",
        `${tp.topic}-${tp.partition} is not assigned to this consumer; assign() it first`,
      );
    }
    return f;
  }

  #checkOpen(): void {
    if (this.#closed) throw new StromError("CLIENT_CLOSED", "the consumer is closed");
  }
}

function tpKey(tp: TopicPartition): string {
  return `${tp.topic}\u0000${tp.partition}`;
}
