/**
 * One assigned partition inside the consumer: a loop that long-polls the
 * partition's leader for binary record batches, decodes them and keeps the
 * records (at or after the fetch offset) until the reader takes them. It
 * fetches ahead only while its own buffer is under `fetchBytesMax` and the
 * consumer's total is under `bufferBytesMax`.
 *
 * @module
 */

import { listPartitionOffset } from "../admin/admin.ts";
import type { Connection } from "../connection/connection.ts";
import { partitionPath, withLeader } from "../connection/leader_request.ts";
import { backoffDelayMs, isRetriable, sleep } from "../connection/retry.ts";
import { StromError } from "../errors.ts";
import { isControl, splitBatches } from "../record_batch/header.ts";
import { decodeRecordBatch } from "../record_batch/record_batch.ts";
import type { RecordHeader } from "../record_batch/records.ts";
import type { Wakeup } from "./wakeup.ts";

/** A consumed record. */
export interface ConsumerRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** ms since the epoch (CreateTime, or LogAppendTime when the topic uses it). */
  readonly timestamp: number;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers: readonly RecordHeader[];
}

/** Where a partition starts when it has no position: Kafka's auto.offset.reset. */
export type OffsetResetPolicy = "earliest" | "latest" | "none";

/** What every fetcher of one consumer shares. */
export interface FetchContext {
  readonly conn: Connection;
  readonly fetchBytesMax: number;
  readonly fetchBytesMin: number;
  readonly fetchWaitMsMax: number;
  readonly bufferBytesMax: number;
  readonly autoOffsetReset: OffsetResetPolicy;
  /** Bytes buffered across the consumer's partitions. */
  bufferedBytes: number;
  /** Notified when records arrive or a fetcher has an error for the reader. */
  readonly dataReady: Wakeup;
  /** Notified when buffer memory is freed, a partition resumes, or the consumer closes. */
  readonly spaceFreed: Wakeup;
}

/** Fixed bytes counted per buffered record beyond key, value and headers. */
const RECORD_OVERHEAD_BYTES = 64;
const BATCH_MEDIA_TYPE = "application/vnd.strom.batch";

/** The fetch loop and buffer of one partition. */
export class PartitionFetcher {
  readonly topic: string;
  readonly partition: number;
  /** Next offset the reader gets; undefined until the reset policy resolved it. */
  position: number | undefined;
  /** High watermark from the last fetch answer (-1 before the first). */
  highWatermark = -1;
  paused = false;
  /** A failure the reader should see (thrown once by the consumer). */
  error: unknown;
  readonly #ctx: FetchContext;
  /** Next offset to fetch: position plus what is buffered. */
  #fetchOffset: number | undefined;
  #reset: "earliest" | "latest" | undefined;
  readonly #buffer: { record: ConsumerRecord; bytes: number }[] = [];
  #bufferedBytes = 0;
  /** Bumped on seek and stop, so that answers to older fetches are dropped. */
  #generation = 0;
  #abort: AbortController | undefined;
  #stopped = false;
  readonly #stopSignal = new AbortController();
  #loop: Promise<void> | undefined;

  constructor(
    ctx: FetchContext,
    topic: string,
    partition: number,
    offset: number | "earliest" | "latest" | undefined,
  ) {
    this.#ctx = ctx;
    this.topic = topic;
    this.partition = partition;
    this.#setStart(offset);
  }

  /** Records buffered for the reader. */
  get buffered(): number {
    return this.#buffer.length;
  }

  /** Starts the fetch loop. */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** Ends the fetch loop and drops the buffer. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopSignal.abort();
    this.#generation++;
    this.#abort?.abort(new StromError("CLIENT_CLOSED", "the fetcher stopped"));
    this.#clear();
    this.#ctx.spaceFreed.notify();
    await this.#loop;
  }

  /** Moves to `offset` (or the earliest/latest one), dropping buffered records. */
  seek(offset: number | "earliest" | "latest"): void {
    this.#generation++;
    this.#abort?.abort(new StromError("CLIENT_CLOSED", "seek"));
    this.#clear();
    this.error = undefined;
    this.#setStart(offset);
    this.#ctx.spaceFreed.notify();
  }

  /** Takes up to `max` buffered records, advancing the position past them. */
  take(max: number): ConsumerRecord[] {
    const taken = this.#buffer.splice(0, max);
    if (taken.length === 0) return [];
    let bytes = 0;
    for (const t of taken) bytes += t.bytes;
    this.#bufferedBytes -= bytes;
    this.#ctx.bufferedBytes -= bytes;
    this.position = taken[taken.length - 1].record.offset + 1;
    this.#ctx.spaceFreed.notify();
    return taken.map((t) => t.record);
  }

  #setStart(offset: number | "earliest" | "latest" | undefined): void {
    if (typeof offset === "number") {
      if (!Number.isSafeInteger(offset) || offset < 0) {
        throw new StromError("INVALID_REQUEST", `offset must be an integer ≥ 0, got ${offset}`);
      }
      this.position = offset;
      this.#fetchOffset = offset;
      this.#reset = undefined;
    } else {
      this.position = undefined;
      this.#fetchOffset = undefined;
      this.#reset = offset ?? policyOffset(this.#ctx.autoOffsetReset);
    }
  }

  #clear(): void {
    this.#ctx.bufferedBytes -= this.#bufferedBytes;
    this.#bufferedBytes = 0;
    this.#buffer.length = 0;
    if (this.position !== undefined) this.#fetchOffset = this.position;
  }

  #mayFetch(): boolean {
    return !this.#stopped && !this.paused && this.error === undefined &&
      this.#bufferedBytes < this.#ctx.fetchBytesMax &&
      this.#ctx.bufferedBytes < this.#ctx.bufferBytesMax;
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      if (!this.#mayFetch()) {
        await this.#ctx.spaceFreed.wait();
        continue;
      }
      const generation = this.#generation;
      this.#abort = new AbortController();
      try {
        await this.#fetchOnce(generation, this.#abort.signal);
        failures = 0;
      } catch (e) {
        if (this.#stopped || generation !== this.#generation) continue;
        if (e instanceof StromError && e.code === "OFFSET_OUT_OF_RANGE") {
          this.#outOfRange(e);
          continue;
        }
        if (isRetriable(e)) {
          failures++;
          await sleep(backoffDelayMs(failures, this.#backoff()), this.#stopSignal.signal)
            .catch(() => {});
          continue;
        }
        this.error = e;
        this.#ctx.dataReady.notify();
      }
    }
  }

  #outOfRange(e: StromError): void {
    if (this.#ctx.autoOffsetReset === "none") {
      this.error = e;
      this.#ctx.dataReady.notify();
      return;
    }
    this.#clear();
    this.position = undefined;
    this.#fetchOffset = undefined;
    this.#reset = this.#ctx.autoOffsetReset;
  }

  async #fetchOnce(generation: number, signal: AbortSignal): Promise<void> {
    const { conn } = this.#ctx;
    if (this.#fetchOffset === undefined) {
      const at = this.#reset;
      if (at === undefined) {
        throw new StromError(
          "OFFSET_OUT_OF_RANGE",
          `${this.topic}-${this.partition} has no position and autoOffsetReset is "none"; seek() first`,
        );
      }
      const answer = await listPartitionOffset(conn, this.topic, this.partition, at, { signal });
      if (generation !== this.#generation) return;
      const offset = answer.offset ?? 0;
      this.position = offset;
      this.#fetchOffset = offset;
      this.#reset = undefined;
    }
    const fetchOffset = this.#fetchOffset;
    const query = `offset=${fetchOffset}&maxBytes=${this.#ctx.fetchBytesMax}` +
      `&maxWaitMs=${this.#ctx.fetchWaitMsMax}&minBytes=${this.#ctx.fetchBytesMin}`;
    const res = await withLeader(
      conn,
      this.topic,
      this.partition,
      { signal, timeoutMs: conn.requestTimeoutMs + this.#ctx.fetchWaitMsMax },
      async (leader, timeoutMs) => {
        const r = await conn.request(leader.url, {
          path: `${partitionPath(this.topic, this.partition)}/records?${query}`,
          headers: { accept: BATCH_MEDIA_TYPE },
          timeoutMs: timeoutMs + this.#ctx.fetchWaitMsMax,
          signal,
        });
        if (r.status < 200 || r.status >= 300) {
          throw StromError.fromBody(parseJson(r.body), r.status);
        }
        return r;
      },
    );
    const records: { record: ConsumerRecord; bytes: number }[] = [];
    let next = fetchOffset;
    for (const bytes of splitBatches(res.body)) {
      const { header, records: decoded } = await decodeRecordBatch(bytes);
      next = Math.max(next, header.baseOffset + header.lastOffsetDelta + 1);
      if (isControl(header.attributes)) continue;
      for (const r of decoded) {
        // The first batch may start before the fetch offset; Kafka clients skip those records.
        if (r.offset < fetchOffset) continue;
        const record: ConsumerRecord = {
          topic: this.topic,
          partition: this.partition,
          offset: r.offset,
          timestamp: r.timestamp,
          key: r.key,
          value: r.value,
          headers: r.headers,
        };
        records.push({ record, bytes: recordBytes(record) });
      }
    }
    if (generation !== this.#generation || this.#stopped) return;
    const hw = Number(res.headers["x-strom-high-watermark"]);
    if (Number.isFinite(hw)) this.highWatermark = hw;
    for (const r of records) {
      this.#buffer.push(r);
      this.#bufferedBytes += r.bytes;
      this.#ctx.bufferedBytes += r.bytes;
    }
    this.#fetchOffset = next;
    if (records.length > 0) this.#ctx.dataReady.notify();
  }

  #backoff() {
    const { conn } = this.#ctx;
    return {
      backoffMs: conn.retryBackoffMs,
      backoffMsMax: conn.retryBackoffMsMax,
      random: conn.random,
    };
  }
}

function policyOffset(policy: OffsetResetPolicy): "earliest" | "latest" | undefined {
  return policy === "none" ? undefined : policy;
}

function recordBytes(r: ConsumerRecord): number {
  let n = RECORD_OVERHEAD_BYTES + (r.key?.length ?? 0) + (r.value?.length ?? 0);
  for (const h of r.headers) n += h.key.length + (h.value?.length ?? 0);
  return n;
}

function parseJson(body: Uint8Array): unknown {
  try {
    return body.length === 0 ? null : JSON.parse(new TextDecoder().decode(body));
  } catch {
    return null;
  }
}
