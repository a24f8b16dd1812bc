/**
 * The chaos workload: idempotent producers (acks=all) writing unique values
 * round robin over a topic's partitions, and a consumer reading every
 * partition from the start, each recording what it saw in the history.
 *
 * Outcomes: an acknowledged send is `ok` with its offset; a send the
 * producer refused before sending anything (a record over `recordBytesMax`,
 * sent on purpose now and then) is a definite `fail`; every other error is
 * `unknown`, because an idempotent producer may have had an attempt appended
 * before it gave up (timeouts, lost connections, delivery timeout).
 *
 * @module
 */

import { Strom, StromError } from "@strom/client";
import type { Consumer, Producer } from "@strom/client";
import type { HistoryOp } from "./history.ts";
import type { History } from "./history.ts";
import { requestJson } from "../_harness/http.ts";

/** The consumer group of the workload's group-mode consumer. */
export const CHAOS_GROUP = "chaos-group";
/** How often the group's committed offsets are observed. */
export const COMMITTED_EVERY_MS = 1_000;

/** Sends one producer keeps unanswered at most. */
export const SENDS_IN_FLIGHT_MAX = 16;
/** Pause between sends of one producer: keeps a 2-core machine responsive. */
export const SEND_INTERVAL_MS = 8;
/** One send in this many is an oversized record the producer must refuse. */
export const OVERSIZED_EVERY = 500;
/** The producer's per-record limit; the oversized value exceeds it. */
const RECORD_BYTES_MAX = 64 * 1024;
/** Most history operations one run keeps in memory. */
export const WORKLOAD_OPS_MAX = 5_000_000;

/** Counters shown in the progress line. */
export interface WriteTally {
  acked: number;
  failed: number;
  unknown: number;
  polled: number;
  /** Records the group-mode consumer polled, and committed offsets observed. */
  groupPolled: number;
  committedSeen: number;
}

/** Client settings shared by the workload's connections. */
export const CLIENT_OPTIONS = {
  requestTimeoutMs: 4_000,
  retryBackoffMs: 50,
  retryBackoffMsMax: 500,
} as const;

/** Producers and a consumer against one topic, recording a {@link History}. */
export class Workload {
  readonly ops: HistoryOp[] = [];
  readonly tally: WriteTally = {
    acked: 0,
    failed: 0,
    unknown: 0,
    polled: 0,
    groupPolled: 0,
    committedSeen: 0,
  };
  readonly #stopProducing = new AbortController();
  readonly #stopConsuming = new AbortController();
  readonly #clients: Strom[] = [];
  #producers: Promise<void>[] = [];
  #consumer: Promise<void> | undefined;
  #groupConsumer: Promise<void> | undefined;
  #commits: Promise<void> | undefined;
  #producedUntilMs = 0;
  /** Values polled so far, and acknowledged values not polled yet (the recovery window's goal). */
  readonly #polled = new Set<string>();
  readonly #ackedUnpolled = new Set<string>();

  constructor(
    readonly brokers: readonly string[],
    readonly topic: string,
    readonly partitions: number,
    readonly producers: number,
  ) {}

  /** Starts producing and consuming. */
  start(): void {
    for (let i = 0; i < this.producers; i++) this.#producers.push(this.#produce(i));
    this.#consumer = this.#consume();
    this.#groupConsumer = this.#groupConsume();
    this.#commits = this.#observeCommits();
  }

  /** Acknowledged values the consumer has not polled yet. */
  get ackedUnpolled(): number {
    return this.#ackedUnpolled.size;
  }

  /** When the last producer stopped: writes acknowledged after it are none. */
  get producedUntilMs(): number {
    return this.#producedUntilMs;
  }

  /** Stops sending and waits for every send in flight to settle. */
  async stopProducing(): Promise<void> {
    this.#stopProducing.abort();
    await Promise.all(this.#producers);
    this.#producedUntilMs = Date.now();
  }

  /** Stops the consumer and closes every client. */
  async stopConsuming(): Promise<void> {
    this.#stopConsuming.abort();
    await Promise.all([this.#consumer, this.#groupConsumer, this.#commits]);
    await Promise.all(this.#clients.map((c) => c.close()));
  }

  /** Stops everything (idempotent; for finally blocks). */
  async stop(): Promise<void> {
    await this.stopProducing();
    await this.stopConsuming();
  }

  #record(op: HistoryOp): void {
    if (this.ops.length >= WORKLOAD_OPS_MAX) {
      throw new Error(`history over ${WORKLOAD_OPS_MAX} operations; shorten the run`);
    }
    this.ops.push(op);
  }

  #client(): Strom {
    const strom = new Strom({ brokers: [...this.brokers], ...CLIENT_OPTIONS });
    this.#clients.push(strom);
    return strom;
  }

  async #produce(index: number): Promise<void> {
    const name = `producer-${index}`;
    const producer: Producer = this.#client().producer({
      acks: "all",
      idempotent: true,
      deliveryTimeoutMs: 12_000,
      ackTimeoutMs: 3_000,
      lingerMs: 2,
      recordBytesMax: RECORD_BYTES_MAX,
    });
    const inFlight = new Set<Promise<void>>();
    const signal = this.#stopProducing.signal;
    for (let n = 0; !signal.aborted; n++) {
      const partition = (n + index) % this.partitions;
      const value = `${name}:${n}`;
      const oversized = n % OVERSIZED_EVERY === OVERSIZED_EVERY - 1;
      const invokeMs = Date.now();
      const sent = producer.send({
        topic: this.topic,
        partition,
        value: oversized ? value + " ".repeat(RECORD_BYTES_MAX) : value,
      }).then(
        (meta) => {
          this.tally.acked++;
          if (!this.#polled.has(value)) this.#ackedUnpolled.add(value);
          this.#record({
            type: "produce",
            process: name,
            topic: this.topic,
            partition,
            value,
            invokeMs,
            completeMs: Date.now(),
            outcome: "ok",
            offset: meta.offset,
          });
        },
        (error) => {
          const definite = oversized && error instanceof StromError &&
            error.code === "MESSAGE_TOO_LARGE";
          if (definite) this.tally.failed++;
          else this.tally.unknown++;
          this.#record({
            type: "produce",
            process: name,
            topic: this.topic,
            partition,
            value,
            invokeMs,
            completeMs: Date.now(),
            outcome: definite ? "fail" : "unknown",
          });
        },
      );
      inFlight.add(sent);
      sent.finally(() => inFlight.delete(sent));
      if (inFlight.size >= SENDS_IN_FLIGHT_MAX) await Promise.race(inFlight);
      await new Promise((r) => setTimeout(r, SEND_INTERVAL_MS));
    }
    await Promise.all(inFlight);
    await producer.close();
  }

  /** A group-mode consumer with auto-commit: rebalances become assign markers. */
  async #groupConsume(): Promise<void> {
    const name = "group-consumer-0";
    const consumer: Consumer = this.#client().consumer({
      groupId: CHAOS_GROUP,
      autoOffsetReset: "earliest",
      fetchWaitMsMax: 200,
      autoCommit: true,
      autoCommitIntervalMs: 1_000,
      onPartitionsAssigned: (partitions) => {
        const timeMs = Date.now();
        for (const { topic, partition } of partitions) {
          this.#record({
            type: "assign",
            consumer: name,
            topic,
            partition,
            timeMs,
            reason: "rebalance",
          });
        }
      },
    });
    consumer.subscribe([this.topic]);
    await this.#pollLoop(name, consumer, false);
  }

  /** Observes the group's committed offsets now and then (any broker forwards to the coordinator). */
  async #observeCommits(): Promise<void> {
    const signal = this.#stopConsuming.signal;
    let next = 0;
    while (!signal.aborted) {
      await new Promise((r) => setTimeout(r, COMMITTED_EVERY_MS));
      const url = this.brokers[next++ % this.brokers.length];
      const invokeMs = Date.now();
      const answer = await requestJson(
        `${url}/v1/groups/${CHAOS_GROUP}/offsets?topic=${encodeURIComponent(this.topic)}`,
        { timeoutMs: 2_000 },
      );
      const completeMs = Date.now();
      if (answer.status !== 200 || !Array.isArray(answer.body?.offsets)) continue;
      for (const o of answer.body.offsets) {
        if (o?.topic !== this.topic || !Number.isSafeInteger(o.offset) || o.offset < 0) continue;
        this.tally.committedSeen++;
        this.#record({
          type: "committed",
          group: CHAOS_GROUP,
          topic: this.topic,
          partition: o.partition,
          offset: o.offset,
          invokeMs,
          completeMs,
        });
      }
    }
  }

  async #consume(): Promise<void> {
    const name = "consumer-0";
    const consumer: Consumer = this.#client().consumer({
      autoOffsetReset: "earliest",
      fetchWaitMsMax: 200,
    });
    const timeMs = Date.now();
    for (let partition = 0; partition < this.partitions; partition++) {
      this.#record({
        type: "assign",
        consumer: name,
        topic: this.topic,
        partition,
        timeMs,
        reason: "rebalance",
        offset: 0,
      });
    }
    consumer.assign(
      Array.from({ length: this.partitions }, (_, partition) => ({
        topic: this.topic,
        partition,
        offset: 0,
      })),
    );
    await this.#pollLoop(name, consumer, true);
  }

  /** Polls until stopped, recording each batch; `tracksAcks` feeds the recovery window. */
  async #pollLoop(name: string, consumer: Consumer, tracksAcks: boolean): Promise<void> {
    const signal = this.#stopConsuming.signal;
    const decoder = new TextDecoder();
    try {
      while (!signal.aborted) {
        let batch;
        try {
          batch = await consumer.nextBatch({ signal });
        } catch {
          // A partition's fetch error (leader moving, node down): the fetcher retries by itself.
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        if (!batch) break;
        if (tracksAcks) this.tally.polled += batch.records.length;
        else this.tally.groupPolled += batch.records.length;
        const records = batch.records.map((r) =>
          [r.offset, decoder.decode(r.value ?? new Uint8Array())] as const
        );
        for (const [, value] of records) {
          if (!tracksAcks) break;
          this.#polled.add(value);
          this.#ackedUnpolled.delete(value);
        }
        this.#record({
          type: "poll",
          consumer: name,
          topic: batch.topic,
          partition: batch.partition,
          timeMs: Date.now(),
          records,
        });
      }
    } finally {
      await consumer.close();
    }
  }
}

/** Reads every partition of `topic` from its start up to `endOffsets` (the final read). */
export async function finalRead(
  brokers: readonly string[],
  topic: string,
  ends: ReadonlyArray<{ partition: number; logStartOffset: number; highWatermark: number }>,
  timeoutMs: number,
): Promise<History["finalReads"]> {
  const strom = new Strom({ brokers: [...brokers], ...CLIENT_OPTIONS });
  const consumer = strom.consumer({ autoOffsetReset: "earliest", fetchWaitMsMax: 100 });
  const records = new Map<number, Array<readonly [number, string]>>();
  const pending = new Set(
    ends.filter((e) => e.highWatermark > e.logStartOffset).map((e) => e.partition),
  );
  const endOf = new Map(ends.map((e) => [e.partition, e.highWatermark]));
  consumer.assign(ends.map((e) => ({ topic, partition: e.partition, offset: e.logStartOffset })));
  const signal = AbortSignal.timeout(timeoutMs);
  const decoder = new TextDecoder();
  try {
    while (pending.size > 0 && !signal.aborted) {
      let batch;
      try {
        batch = await consumer.nextBatch({ signal });
      } catch {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      if (!batch) break;
      const list = records.get(batch.partition) ?? [];
      for (const r of batch.records) {
        if (r.offset < endOf.get(batch.partition)!) {
          list.push([r.offset, decoder.decode(r.value ?? new Uint8Array())]);
        }
      }
      records.set(batch.partition, list);
      const last = list.at(-1)?.[0] ?? -1;
      if (last + 1 >= endOf.get(batch.partition)!) pending.delete(batch.partition);
    }
  } finally {
    await consumer.close();
    await strom.close();
  }
  if (pending.size > 0) {
    throw new Error(`final read of ${topic} did not reach the end of partition(s) ${[...pending]}`);
  }
  return ends.map((e) => ({
    topic,
    partition: e.partition,
    logStartOffset: e.logStartOffset,
    records: records.get(e.partition) ?? [],
  }));
}
