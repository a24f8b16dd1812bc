/**
 * The replica manager of a broker (Kafka's `ReplicaManager`): it turns the
 * metadata image into local partition replicas — opening (or creating) a
 * log under `<dataDir>/<topic>-<partition>` for every partition this broker
 * replicates, making it leader or follower by the image's leader and leader
 * epoch, and closing and deleting replicas whose topic was deleted or that
 * moved away — and implements the {@link DataPlane} the client routes call.
 *
 * Moving parts, all owned here: one {@link ReplicaFetcher} per leader broker
 * this broker follows; the leader side of follower fetches
 * ({@link ReplicaManager.handleReplicaFetch}, served on the internal
 * listener); a tick for ISR lag checks and purgatory deadlines; and a
 * periodic high watermark checkpoint plus producer state snapshots.
 *
 * Reconciliation runs one image at a time, always the newest: images are
 * cumulative, so skipping an intermediate one loses nothing, and each
 * replica ignores leader epochs older than its own.
 *
 * @module
 */

import type { LeaderHint, StromError } from "@strom/client";
import type {
  DataPlane,
  FetchRequest,
  FetchResult,
  ListOffsetResult,
  OffsetSpec,
  ProduceRequest,
  ProduceResult,
} from "../api/data_plane.ts";
import type { Logger } from "../log.ts";
import type { MetadataImage, PartitionState, TopicImage } from "../metadata/image.ts";
import { topicByName } from "../metadata/image.ts";
import { FETCH_WAIT_MS_MAX } from "../replica/config.ts";
import { answerError } from "../replica/errors.ts";
import type { Disk } from "../storage/disk.ts";
import { joinPath } from "../storage/disk.ts";
import { PartitionLog } from "../storage/partition_log.ts";
import { RealDisk } from "../storage/real_disk.ts";
import { SegmentCache } from "../storage/segment_cache.ts";
import { validateProduceBatches } from "./batch_validation.ts";
import {
  FOLLOWER_HW_PROPAGATION_DELAY_MS,
  HW_CHECKPOINT_INTERVAL_MS,
  LOG_OPENS_CONCURRENT_MAX,
  OPEN_SEGMENT_FILES_MAX,
  REPLICA_FETCH_COLD_WAIT_MS,
  REPLICA_FETCH_PARTITION_BYTES_MAX,
  REPLICA_FETCH_RESPONSE_BYTES_MAX,
  REPLICA_FETCH_WAIT_MS,
  REPLICA_FETCH_WAITERS_MAX,
  REPLICA_FILE_OPS_CONCURRENT_MAX,
  REPLICA_LAG_TIME_MS_MAX_DEFAULT,
  REPLICA_TICK_MS,
  REPLICAS_PER_BROKER_MAX,
  RETENTION_CHECK_INTERVAL_MS,
} from "./config.ts";
import { answerBatchBytes } from "./fetch_wire.ts";
import type {
  ReplicaFetchAnswer,
  ReplicaFetchPartitionAnswer,
  ReplicaFetchPartitionResult,
  ReplicaFetchRequest,
} from "./fetch_wire.ts";
import { partitionKey, readHighWatermarks, writeHighWatermarks } from "./hw_checkpoint.ts";
import { PartitionReplica } from "./partition_replica.ts";
import type { ReplicaContext } from "./partition_replica.ts";
import { ReplicaFetcher } from "./replica_fetcher.ts";
import type { ReplicaFetchTransport } from "./replica_fetcher.ts";
import { TopicConfigsMemo } from "./topic_log_config.ts";
import { AlterPartitionBatcher } from "./alter_partition_batcher.ts";
import type { AlterPartitionsSender } from "./alter_partition_batcher.ts";

export type {
  AlterPartitionRequest,
  AlterPartitionResult,
  AlterPartitionsSender,
} from "./alter_partition_batcher.ts";

/** Options of {@link ReplicaManager}. */
export interface ReplicaManagerOptions {
  readonly localBrokerId: number;
  /** Partition directories go here, as `<topic>-<partition>`. */
  readonly dataDir: string;
  readonly logger: Logger;
  /** Sends follower fetches to a leader broker. */
  readonly transport: ReplicaFetchTransport;
  /**
   * Sends a batch of ISR changes to the active controller (the
   * "alter-partitions" operation); resolves with each one's committed state
   * or refusal, in order. The manager sends one batch at a time.
   */
  readonly alterPartitions: AlterPartitionsSender;
  /** Defaults to the real file system. */
  readonly disk?: Disk;
  /** Wall clock in ms (injected for tests). */
  readonly clock?: () => number;
  /** `replica.lag.time.max.ms`; default {@link REPLICA_LAG_TIME_MS_MAX_DEFAULT}. */
  readonly replicaLagTimeMaxMs?: number;
  /** Long-poll wait of follower fetches; default {@link REPLICA_FETCH_WAIT_MS}. */
  readonly fetchWaitMs?: number;
  /**
   * Long-poll wait of follower fetches of idle partitions; default
   * {@link REPLICA_FETCH_COLD_WAIT_MS} (never below `fetchWaitMs`).
   */
  readonly coldFetchWaitMs?: number;
  /** Tick period; 0 disables the timer (tests call {@link ReplicaManager.tick}). */
  readonly tickMs?: number;
  /** HW checkpoint period; 0 disables the timer. */
  readonly hwCheckpointIntervalMs?: number;
  /** Retention check period; 0 disables the timer. */
  readonly retentionCheckIntervalMs?: number;
}

interface Desired {
  readonly topic: string;
  readonly topicId: string;
  readonly partition: number;
  readonly state: PartitionState;
  readonly configs: Readonly<Record<string, string>>;
}

/** The broker's replicas; see the module doc. */
export class ReplicaManager implements DataPlane {
  readonly localBrokerId: number;
  readonly #options: ReplicaManagerOptions;
  readonly #disk: Disk;
  readonly #clock: () => number;
  readonly #segmentCache = new SegmentCache(OPEN_SEGMENT_FILES_MAX);
  readonly #replicas = new Map<string, PartitionReplica>();
  /** What was last applied to each replica, to skip unchanged partitions. */
  readonly #applied = new Map<string, { state: PartitionState; configs: object }>();
  readonly #topicConfigs = new TopicConfigsMemo();
  /** {@link ReplicaManager.#absentError}'s answers for the image they were made for. */
  #absentErrors: { image: MetadataImage | undefined; byKey: Map<string, StromError> } = {
    image: undefined,
    byKey: new Map(),
  };
  /** Topics as of the image that last reconciled all their local partitions, by id. */
  readonly #reconciledTopics = new Map<string, TopicImage>();
  readonly #fetchers = new Map<number, ReplicaFetcher>();
  readonly #ctx: ReplicaContext;
  readonly #alterBatcher: AlterPartitionBatcher;
  #image: MetadataImage | undefined;
  #reconciledOffset = -1;
  #reconciling: Promise<void> | undefined;
  #checkpointed = new Map<string, number>();
  /**
   * Whether the file may differ from {@link #checkpointed} though no open
   * replica's HW does: an entry removed, the file unreadable at start, or a
   * write in flight or failed.
   */
  #checkpointStale = false;
  #started = false;
  #stopped = false;
  #tickTimer: ReturnType<typeof setInterval> | undefined;
  #checkpointTimer: ReturnType<typeof setInterval> | undefined;
  #retentionTimer: ReturnType<typeof setInterval> | undefined;
  #fetchWaiters = 0;
  #isrCheckedMs = -Infinity;

  constructor(options: ReplicaManagerOptions) {
    this.#options = options;
    this.localBrokerId = options.localBrokerId;
    this.#disk = options.disk ?? new RealDisk();
    this.#clock = options.clock ?? Date.now;
    this.#alterBatcher = new AlterPartitionBatcher(options.alterPartitions, options.logger);
    this.#ctx = {
      localBrokerId: options.localBrokerId,
      clock: this.#clock,
      logger: options.logger,
      replicaLagTimeMaxMs: options.replicaLagTimeMaxMs ?? REPLICA_LAG_TIME_MS_MAX_DEFAULT,
      alterPartition: (replica, intent) =>
        this.#alterBatcher.submit({
          topicId: replica.topicId,
          partition: replica.partition,
          leaderEpoch: intent.leaderEpoch,
          partitionEpoch: intent.partitionEpoch,
          isr: intent.isr,
        }),
      leaderHint: (topic, partition) => this.#leaderHint(topic, partition),
    };
  }

  /** Reads the HW checkpoint and starts the timers. Call before the first image. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await this.#disk.mkdirp(this.#options.dataDir);
    const { highWatermarks, problem } = await readHighWatermarks(this.#disk, this.#options.dataDir);
    if (problem) {
      this.#options.logger.warn("HW checkpoint unreadable; high watermarks restart at 0", {
        problem,
      });
    }
    this.#checkpointed = new Map(highWatermarks);
    // An unreadable file is replaced at the first checkpoint, even if no HW differs from it.
    this.#checkpointStale = problem !== undefined;
    const tickMs = this.#options.tickMs ?? REPLICA_TICK_MS;
    if (tickMs > 0) this.#tickTimer = setInterval(() => this.tick(), tickMs);
    const checkpointMs = this.#options.hwCheckpointIntervalMs ?? HW_CHECKPOINT_INTERVAL_MS;
    if (checkpointMs > 0) {
      this.#checkpointTimer = setInterval(() => {
        this.checkpoint().catch((e) =>
          this.#options.logger.warn("HW checkpoint failed", { error: (e as Error).message })
        );
      }, checkpointMs);
    }
    const retentionMs = this.#options.retentionCheckIntervalMs ?? RETENTION_CHECK_INTERVAL_MS;
    if (retentionMs > 0) {
      this.#retentionTimer = setInterval(() => void this.enforceRetention(), retentionMs);
    }
  }

  /** Deletes segments past each log's retention (time or size), one log at a time. */
  async enforceRetention(): Promise<void> {
    for (const r of [...this.#replicas.values()]) {
      if (r.closed) continue;
      try {
        const result = await r.log.enforceRetention();
        if (result.deletedSegments > 0) {
          this.#options.logger.info("retention deleted segments", {
            partition: r.label,
            segments: result.deletedSegments,
            bytes: result.deletedBytes,
            logStartOffset: result.logStartOffset,
          });
        }
      } catch (e) {
        this.#options.logger.warn("retention failed", {
          partition: r.label,
          error: (e as Error).message,
        });
      }
    }
  }

  /**
   * Takes a new metadata image; resolves once the replicas reflect it (or a
   * newer one). Safe to call from `MetadataQuorum.onImage` without awaiting.
   */
  applyImage(image: MetadataImage): Promise<void> {
    if (this.#image === undefined || image.offset >= this.#image.offset) this.#image = image;
    this.#reconciling ??= this.#reconcileLoop().finally(() => {
      this.#reconciling = undefined;
    });
    return this.#reconciling;
  }

  /** The local replica of a partition, if open. */
  replica(topic: string, partition: number): PartitionReplica | undefined {
    return this.#replicas.get(partitionKey(topic, partition));
  }

  /** Open local replicas. */
  get replicas(): readonly PartitionReplica[] {
    return [...this.#replicas.values()];
  }

  /** AlterPartition requests sent to the controller so far (each may carry many partitions). */
  get alterPartitionBatchesSent(): number {
    return this.#alterBatcher.batchesSent;
  }

  /**
   * Purgatory deadlines every `tickMs` (the timer calls it), and ISR lag
   * checks every tenth of `replica.lag.time.max.ms` (Kafka: every half): with
   * 10,000 replicas the lag check every 50 ms was a tenth of a core.
   */
  tick(): void {
    const now = this.#clock();
    const checkIsr = now - this.#isrCheckedMs >= this.#ctx.replicaLagTimeMaxMs / 10;
    if (checkIsr) this.#isrCheckedMs = now;
    for (const r of this.#replicas.values()) r.tick(now, checkIsr);
  }

  /**
   * Writes the HW checkpoint and the producer state snapshots, each only if
   * it changed since it was last written: an idle broker with 10,000 replicas
   * used to rewrite (and fsync) the same checkpoint every interval, and to
   * queue 10,000 snapshot checks, a large part of its garbage.
   */
  async checkpoint(): Promise<void> {
    let changed = this.#checkpointStale;
    for (const r of this.#replicas.values()) {
      if (this.#checkpointed.get(r.label) === r.highWatermark) continue;
      this.#checkpointed.set(r.label, r.highWatermark);
      changed = true;
    }
    if (changed) {
      // Stale until written: a failed write is tried again at the next interval.
      this.#checkpointStale = true;
      const entries = [...this.#checkpointed].map(([key, highWatermark]) => {
        const cut = key.lastIndexOf("-");
        return { topic: key.slice(0, cut), partition: Number(key.slice(cut + 1)), highWatermark };
      });
      await writeHighWatermarks(this.#disk, this.#options.dataDir, entries);
      this.#checkpointStale = false;
    }
    const due: PartitionReplica[] = [];
    for (const r of this.#replicas.values()) if (r.producerSnapshotDue) due.push(r);
    await forEachConcurrently(
      due,
      REPLICA_FILE_OPS_CONCURRENT_MAX,
      (r) =>
        r.snapshotProducerState().catch((e) =>
          this.#options.logger.warn("producer state snapshot failed", {
            partition: r.label,
            error: (e as Error).message,
          })
        ),
    );
  }

  /**
   * Stops replication: fetchers stop, leaders resign (waiting requests
   * fail with NOT_LEADER_OR_FOLLOWER), logs are flushed and closed, and the
   * HW checkpoint is written.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#tickTimer);
    clearInterval(this.#checkpointTimer);
    clearInterval(this.#retentionTimer);
    this.#alterBatcher.stop();
    await this.#reconciling?.catch(() => {});
    await Promise.all([...this.#fetchers.values()].map((f) => f.stop()));
    this.#fetchers.clear();
    // Bounded: each close opens index and checkpoint files beside the log's own handle, and
    // 10,000 at once ran out of file descriptors.
    await forEachConcurrently(
      [...this.#replicas.values()],
      REPLICA_FILE_OPS_CONCURRENT_MAX,
      (r) =>
        r.close("the broker is stopping").catch((e) =>
          this.#options.logger.warn("closing a partition replica failed", {
            partition: r.label,
            error: (e as Error).message,
          })
        ),
    );
    try {
      await this.checkpoint();
    } catch (e) {
      this.#options.logger.warn("final HW checkpoint failed", { error: (e as Error).message });
    }
  }

  // ---- DataPlane ------------------------------------------------------------

  async produce(request: ProduceRequest): Promise<ProduceResult> {
    const replica = await this.#awaitLeaderReplica(request.topic, request.partition);
    const batches = validateProduceBatches(request.batches, {
      maxMessageBytes: replica.log.config.maxMessageBytes,
    });
    return await replica.produce(batches, request.acks, request.timeoutMs);
  }

  async fetch(request: FetchRequest): Promise<FetchResult> {
    return await (await this.#awaitLeaderReplica(request.topic, request.partition)).fetch(request);
  }

  async listOffset(topic: string, partition: number, at: OffsetSpec): Promise<ListOffsetResult> {
    return await (await this.#awaitLeaderReplica(topic, partition)).listOffset(at);
  }

  async replicaDiagnostics(upTo: number): Promise<{ replicas: Record<string, unknown>[] }> {
    const replicas = [...this.#replicas.values()].sort((a, b) =>
      a.topic === b.topic ? a.partition - b.partition : (a.topic < b.topic ? -1 : 1)
    );
    const out: Record<string, unknown>[] = new Array(replicas.length);
    await forEachConcurrently(
      replicas.map((r, i) => [r, i] as const),
      REPLICA_FILE_OPS_CONCURRENT_MAX,
      async ([r, i]) => {
        out[i] = await r.diagnostics(upTo);
      },
    );
    return { replicas: out };
  }

  // ---- leader side of follower fetches ----------------------------------------

  /**
   * Answers a follower's fetch for all the partitions it follows from this
   * broker: records their progress (moving HWs), long-polls up to
   * `maxWaitMs` while none has news, then reads each from its fetch offset
   * within the per-partition and per-response byte budgets.
   */
  async handleReplicaFetch(
    request: ReplicaFetchRequest,
    signal?: AbortSignal,
  ): Promise<ReplicaFetchAnswer> {
    const accepted = request.partitions.map((p) => {
      const replica = this.#replicas.get(partitionKey(p.topic, p.partition));
      if (replica === undefined) {
        const error = this.#absentError(p.topic, p.partition);
        return { p, replica, decision: { kind: "error" as const, error }, ready: true };
      }
      return { p, replica, ...replica.acceptFollowerFetch(request.replicaId, p) };
    });
    const waitMs = Math.min(request.maxWaitMs, FETCH_WAIT_MS_MAX);
    if (
      waitMs > 0 && !accepted.some((a) => a.ready) && this.#fetchWaiters < REPLICA_FETCH_WAITERS_MAX
    ) {
      await this.#waitForNews(
        accepted.map((a) => a.replica!),
        () => {
          let news: "data" | "hw" | "none" = "none";
          for (const a of accepted) {
            const n = a.replica!.followerFetchNews(a.p, a.decision);
            if (n === "data") return "data";
            if (n === "hw") news = "hw";
          }
          return news;
        },
        waitMs,
        signal,
      );
    }
    let budget = REPLICA_FETCH_RESPONSE_BYTES_MAX;
    const partitions: ReplicaFetchPartitionAnswer[] = [];
    for (const a of accepted) {
      if (a.replica === undefined) {
        partitions.push(errorResult(a.p.topic, a.p.partition, a.decision.error));
        continue;
      }
      if (request.omitUnchanged && a.replica.followerFetchUnchanged(a.p, a.decision)) continue;
      const maxBytes = Math.min(REPLICA_FETCH_PARTITION_BYTES_MAX, budget);
      const result = await a.replica.readForFollower(a.p, a.decision, maxBytes);
      budget -= answerBatchBytes(result);
      partitions.push(result);
    }
    return { partitions };
  }

  /**
   * Parks a follower fetch until one of its partitions has data for it, or
   * `waitMs` passes. A high watermark the follower does not know yet is sent
   * {@link FOLLOWER_HW_PROPAGATION_DELAY_MS} later rather than at once: under
   * load the next append's answer carries it anyway, and answering every HW
   * move at once doubled the fetch round trips per acks=all produce.
   */
  #waitForNews(
    replicas: readonly PartitionReplica[],
    news: () => "data" | "hw" | "none",
    waitMs: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    this.#fetchWaiters++;
    return new Promise<void>((resolve) => {
      let finished = false;
      let hwTimer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        if (finished) return;
        finished = true;
        this.#fetchWaiters--;
        clearTimeout(timer);
        clearTimeout(hwTimer);
        signal?.removeEventListener("abort", done);
        for (const u of unsubscribes) u();
        resolve();
      };
      const check = () => {
        const n = news();
        if (n === "data") done();
        else if (n === "hw" && hwTimer === undefined) {
          hwTimer = setTimeout(done, FOLLOWER_HW_PROPAGATION_DELAY_MS);
        }
      };
      const unsubscribes = [...new Set(replicas)].map((r) => r.onChange(check));
      const timer = setTimeout(done, waitMs);
      signal?.addEventListener("abort", done, { once: true });
      check();
    });
  }

  // ---- reconciliation -----------------------------------------------------------

  async #reconcileLoop(): Promise<void> {
    while (
      !this.#stopped && this.#image !== undefined && this.#image.offset > this.#reconciledOffset
    ) {
      const image = this.#image;
      try {
        await this.#reconcile(image);
      } catch (e) {
        this.#options.logger.error("replica reconciliation failed", {
          offset: image.offset,
          error: (e as Error).message,
        });
      }
      this.#reconciledOffset = image.offset;
    }
  }

  /**
   * Brings the replicas in line with `image`. Incremental: images share every
   * unchanged topic (and partition state) with the image before, so only
   * topics that are new or changed since they were last fully reconciled are
   * looked at, and within them only partitions whose state or topic configs
   * changed. A topic is recorded as reconciled only when every one of its
   * local partitions is open and has its state applied; otherwise the next
   * image looks at it again.
   */
  async #reconcile(image: MetadataImage): Promise<void> {
    const done = this.#reconciledTopics;
    const changed: TopicImage[] = [];
    for (const topic of image.topics.values()) {
      if (done.get(topic.topicId) !== topic) changed.push(topic);
    }
    let gone = false;
    for (const id of done.keys()) {
      if (!image.topics.has(id)) {
        done.delete(id);
        gone = true;
      }
    }
    if (changed.length === 0 && !gone) return;
    // Removed: topic deleted (or re-created under a new id), or this broker is no longer a replica.
    for (const [key, replica] of this.#replicas) {
      const topic = image.topics.get(replica.topicId);
      if (topic !== undefined && done.get(topic.topicId) === topic) continue;
      const state = topic?.partitions[replica.partition];
      if (state !== undefined && state.replicas.includes(this.localBrokerId)) continue;
      this.#replicas.delete(key);
      this.#applied.delete(key);
      this.#checkpointed.delete(key);
      this.#checkpointStale = true;
      await this.#removeReplica(replica);
    }
    const desired: [string, Desired][] = [];
    for (const topic of changed) {
      // The version of this topic that was fully reconciled, if any.
      const before = done.get(topic.topicId);
      const sameConfigs = before?.configs === topic.configs;
      topic.partitions.forEach((state, partition) => {
        if (sameConfigs && before!.partitions[partition] === state) return;
        if (!state.replicas.includes(this.localBrokerId)) return;
        desired.push([partitionKey(topic.name, partition), {
          topic: topic.name,
          topicId: topic.topicId,
          partition,
          state,
          configs: topic.configs,
        }]);
      });
    }
    const incomplete = new Set<string>();
    const apply = async ([key, want]: [string, Desired]): Promise<void> => {
      const replica = this.#replicas.get(key);
      if (replica === undefined || replica.topicId !== want.topicId) {
        incomplete.add(want.topicId);
        return;
      }
      const last = this.#applied.get(key);
      if (last?.state === want.state && last.configs === want.configs) return;
      try {
        await replica.applyAssignment(want.state, this.#topicConfigs.get(want.configs).topic);
        this.#applied.set(key, { state: want.state, configs: want.configs });
      } catch (e) {
        incomplete.add(want.topicId);
        this.#options.logger.error("applying a partition's state failed", {
          partition: key,
          error: (e as Error).message,
        });
      }
    };
    // Open replicas first (quick), leadership changes before ISR-only ones (a broker's failure
    // changes every partition it hosts; those now led here should not wait behind the rest),
    // then open and apply the new ones, each as soon as it is open.
    const existing = desired.filter(([key]) => this.#replicas.has(key));
    const leaderMoved = ([key, want]: [string, Desired]) => {
      const last = this.#applied.get(key)?.state;
      return last === undefined || last.leader !== want.state.leader ||
        last.leaderEpoch !== want.state.leaderEpoch;
    };
    const moved = existing.filter(leaderMoved);
    const isrOnly = existing.filter((e) => !leaderMoved(e));
    await forEachConcurrently(moved, REPLICA_FILE_OPS_CONCURRENT_MAX, apply);
    // Followers of a moved partition fetch from its new leader now, not after the rest.
    if (moved.length > 0) await this.#syncFetchers();
    await forEachConcurrently(isrOnly, REPLICA_FILE_OPS_CONCURRENT_MAX, apply);
    const missing = desired.filter(([key]) => !this.#replicas.has(key));
    await this.#openMissing(image, missing, apply, ([, want]) => incomplete.add(want.topicId));
    for (const topic of changed) {
      if (incomplete.has(topic.topicId)) done.delete(topic.topicId);
      else done.set(topic.topicId, topic);
    }
    await this.#syncFetchers();
  }

  /**
   * Opens logs for new replicas, at most {@link LOG_OPENS_CONCURRENT_MAX} at a
   * time, and applies each one's state as soon as it is open (a leader serves
   * before the last of 10,000 logs is open). Fetchers learn the new followers
   * every {@link FETCHER_SYNC_EVERY_OPENS} opens, not only at the end. Stops
   * opening when a newer image arrives: opening 10,000 logs takes seconds,
   * and a leadership change (a broker failed) must not wait for it; the next
   * reconciliation applies it first and goes on opening (the topic is left
   * incomplete).
   */
  async #openMissing(
    image: MetadataImage,
    missing: [string, Desired][],
    apply: (entry: [string, Desired]) => Promise<void>,
    notOpened: (entry: [string, Desired]) => void,
  ): Promise<void> {
    const room = REPLICAS_PER_BROKER_MAX - this.#replicas.size;
    if (missing.length > room) {
      this.#options.logger.error("too many partition replicas for one broker; some stay closed", {
        wanted: this.#replicas.size + missing.length,
        max: REPLICAS_PER_BROKER_MAX,
      });
      for (const entry of missing.slice(Math.max(0, room))) notOpened(entry);
      missing = missing.slice(0, Math.max(0, room));
    }
    let opened = 0;
    await forEachConcurrently(missing, LOG_OPENS_CONCURRENT_MAX, async (entry) => {
      if (this.#stopped || (this.#image?.offset ?? 0) > image.offset) {
        notOpened(entry);
        return;
      }
      const [key, want] = entry;
      try {
        this.#replicas.set(key, await this.#openReplica(want));
      } catch (e) {
        notOpened(entry);
        this.#options.logger.error("cannot open partition replica", {
          partition: key,
          error: (e as Error).message,
        });
        return;
      }
      await apply(entry);
      if (++opened % FETCHER_SYNC_EVERY_OPENS === 0) await this.#syncFetchers();
    });
  }

  async #openReplica(want: Desired): Promise<PartitionReplica> {
    const key = partitionKey(want.topic, want.partition);
    const configs = this.#topicConfigs.get(want.configs);
    const log = await PartitionLog.open({
      dir: this.#partitionDir(want.topic, want.partition),
      config: configs.log,
      disk: this.#disk,
      logger: this.#options.logger,
      clock: this.#clock,
      segmentCache: this.#segmentCache,
    });
    try {
      return await PartitionReplica.open(this.#ctx, {
        topic: want.topic,
        topicId: want.topicId,
        partition: want.partition,
        log,
        topicConfig: configs.topic,
        checkpointedHighWatermark: this.#checkpointed.get(key) ?? 0,
      });
    } catch (e) {
      await log.close();
      throw e;
    }
  }

  async #removeReplica(replica: PartitionReplica): Promise<void> {
    this.#options.logger.info("removing partition replica", { partition: replica.label });
    try {
      await replica.close("the partition was deleted or moved away");
      const dir = replica.log.dir;
      for (const name of await this.#disk.list(dir)) await this.#disk.remove(joinPath(dir, name));
      await this.#disk.remove(dir);
    } catch (e) {
      this.#options.logger.warn("removing a partition directory failed", {
        partition: replica.label,
        error: (e as Error).message,
      });
    }
  }

  async #syncFetchers(): Promise<void> {
    const leaders = new Set<number>();
    for (const r of this.#replicas.values()) {
      const id = r.followedLeaderId;
      if (id !== undefined) leaders.add(id);
    }
    for (const [id, fetcher] of this.#fetchers) {
      if (leaders.has(id)) continue;
      this.#fetchers.delete(id);
      await fetcher.stop();
    }
    if (this.#stopped) return;
    for (const id of leaders) {
      let fetcher = this.#fetchers.get(id);
      if (fetcher === undefined) {
        fetcher = new ReplicaFetcher(id, {
          localBrokerId: this.localBrokerId,
          transport: this.#options.transport,
          replicas: () => this.#replicas.values(),
          fetchWaitMs: this.#options.fetchWaitMs ?? REPLICA_FETCH_WAIT_MS,
          coldFetchWaitMs: Math.max(
            this.#options.fetchWaitMs ?? REPLICA_FETCH_WAIT_MS,
            this.#options.coldFetchWaitMs ?? REPLICA_FETCH_COLD_WAIT_MS,
          ),
          logger: this.#options.logger,
        });
        this.#fetchers.set(id, fetcher);
        fetcher.start();
      }
      fetcher.wake();
    }
  }

  #partitionDir(topic: string, partition: number): string {
    return joinPath(this.#options.dataDir, `${topic}-${partition}`);
  }

  // ---- errors and hints -----------------------------------------------------------

  /**
   * The local replica if it leads. Metadata reaches brokers at slightly
   * different times: a client that learned from another broker that this one
   * leads may arrive before this broker applied the change. While the
   * partition is unknown here, or this broker should lead it but has not
   * finished opening or promoting it, wait for reconciliation (bounded)
   * instead of failing a request that would succeed a moment later.
   */
  async #awaitLeaderReplica(topic: string, partition: number): Promise<PartitionReplica> {
    const started = this.#clock();
    for (;;) {
      try {
        return this.#leaderReplica(topic, partition);
      } catch (e) {
        const soon = this.#mayBecomeLeaderSoon(topic, partition);
        const waitMs = soon === "unknown" ? UNKNOWN_TOPIC_WAIT_MS_MAX : LEADER_WAIT_MS_MAX;
        if (soon === false || this.#clock() - started >= waitMs) throw e;
      }
      await new Promise((r) => setTimeout(r, LEADER_WAIT_POLL_MS));
    }
  }

  /** Unknown here yet, or led by this broker per the image but not (yet) as a replica. */
  #mayBecomeLeaderSoon(topic: string, partition: number): boolean | "unknown" {
    if (this.#stopped) return false;
    const image = this.#image;
    const state = image === undefined
      ? undefined
      : topicByName(image, topic)?.partitions[partition];
    if (state === undefined) return "unknown";
    if (state.leader !== this.localBrokerId) return false;
    const replica = this.#replicas.get(partitionKey(topic, partition));
    return replica === undefined || replica.leaderEpoch < state.leaderEpoch ||
      this.#reconciledOffset < (image?.offset ?? 0);
  }

  /** The local replica if it leads; otherwise the right error (with a leader hint). */
  #leaderReplica(topic: string, partition: number): PartitionReplica {
    const replica = this.#replicas.get(partitionKey(topic, partition));
    if (replica === undefined) throw this.#absentError(topic, partition);
    if (!replica.isLeader) throw replica.notLeaderError();
    return replica;
  }

  /**
   * Why there is no local replica: unknown partition, another leader, or
   * still opening. The answer for a partition of the image is kept until the
   * image changes: while a 10,000-partition topic opens, each follower fetch
   * round asks for thousands of partitions this broker has not opened yet,
   * and building each answer anew was 5 % of the broker's allocation. At
   * most one entry per partition of the image.
   */
  #absentError(topic: string, partition: number): StromError {
    const image = this.#image;
    if (this.#absentErrors.image !== image) this.#absentErrors = { image, byKey: new Map() };
    const key = partitionKey(topic, partition);
    let error = this.#absentErrors.byKey.get(key);
    if (error === undefined) {
      error = this.#explainAbsent(topic, partition);
      if (error.code !== "UNKNOWN_TOPIC_OR_PARTITION") this.#absentErrors.byKey.set(key, error);
    }
    return error;
  }

  #explainAbsent(topic: string, partition: number): StromError {
    const image = this.#image;
    const t = image === undefined ? undefined : topicByName(image, topic);
    const state = t?.partitions[partition];
    if (state === undefined) {
      return answerError(
        "UNKNOWN_TOPIC_OR_PARTITION",
        `this broker does not know partition ${partition} of topic "${topic}"`,
      );
    }
    if (state.leader === this.localBrokerId) {
      return answerError(
        "LEADER_NOT_AVAILABLE",
        `${topic}-${partition} is led by this broker but its log is still opening; retry shortly`,
      );
    }
    const hint = this.#leaderHint(topic, partition);
    return answerError(
      "NOT_LEADER_OR_FOLLOWER",
      `this broker is not the leader of ${topic}-${partition}` +
        (hint ? `: broker ${hint.id} leads it` : `: no leader is known right now`) +
        `; refresh metadata and retry`,
      hint ? { leader: hint } : {},
    );
  }

  #leaderHint(topic: string, partition: number): LeaderHint | undefined {
    const image = this.#image;
    if (image === undefined) return undefined;
    const leader = topicByName(image, topic)?.partitions[partition]?.leader;
    const broker = leader === undefined ? undefined : image.brokers.get(leader);
    return broker ? { id: broker.id, url: broker.clientUrl } : undefined;
  }
}

/** While opening many logs, fetchers pick up the new followers after every this many. */
const FETCHER_SYNC_EVERY_OPENS = 500;

/** Runs `fn` over `items`, at most `limit` at a time, in order of start. */
async function forEachConcurrently<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Longest a request waits for this broker to apply metadata that makes it the leader. */
const LEADER_WAIT_MS_MAX = 2_000;
/** Longest a request for a partition unknown here waits for metadata to bring it. */
const UNKNOWN_TOPIC_WAIT_MS_MAX = 500;
/** Poll interval of those waits. */
const LEADER_WAIT_POLL_MS = 20;

function errorResult(topic: string, partition: number, e: StromError): ReplicaFetchPartitionResult {
  return {
    topic,
    partition,
    kind: "error",
    highWatermark: -1,
    logStartOffset: -1,
    error: { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) },
    batches: new Uint8Array(0),
  };
}
