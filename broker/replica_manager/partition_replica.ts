/**
 * One local partition replica: its log, its producer state, and its role —
 * leader (a {@link PartitionLeader} with its produce and fetch purgatories)
 * or follower (a {@link PartitionFollower}). This is the shell around the
 * pure cores of `broker/replica/`: it does the I/O they ask for and feeds
 * back what happened.
 *
 * Every log-changing operation (leader append, follower append, truncation,
 * role change, close) runs through one bounded {@link SerialQueue}, so they
 * never interleave; reads run beside them (the log allows it).
 *
 * Invariants:
 * - role changes follow leader epochs upwards only: an assignment with an
 *   older leader epoch than the local one is ignored;
 * - an acks=all request is answered only by the produce purgatory, i.e. once
 *   the leader's HW covers its last offset (or with an error);
 * - once a leader resigns, nothing it holds is acknowledged: its purgatory
 *   fails with NOT_LEADER_OR_FOLLOWER and its core refuses to advance the HW;
 * - consumers read below the HW only.
 *
 * @module
 */

import { concatBytes } from "../concat_bytes.ts";
import {
  batchSizeBytes,
  crc32c,
  readBatchHeader,
  setLogAppendTime,
  StromError,
} from "@strom/client";
import type { LeaderHint } from "@strom/client";
import type {
  FetchRequest,
  FetchResult,
  ListOffsetResult,
  OffsetSpec,
  ProduceResult,
} from "../api/data_plane.ts";
import type { Logger } from "../log.ts";
import type { PartitionState } from "../metadata/image.ts";
import type { TopicConfig } from "../metadata/topic_configs.ts";
import { NO_LEADER } from "../metadata/records.ts";
import { FetchPurgatory } from "../replica/fetch_purgatory.ts";
import type { FetchableLog } from "../replica/fetch_purgatory.ts";
import type { FollowerFetchRequest, FollowerFetchResponse } from "../replica/follower_state.ts";
import { PartitionFollower } from "../replica/follower_state.ts";
import type {
  AlterPartitionIntent,
  FollowerFetchDecision,
  LeaderEffects,
} from "../replica/leader_state.ts";
import { PartitionLeader } from "../replica/leader_state.ts";
import { answerError, notLeader, offsetOutOfRange } from "../replica/errors.ts";
import type { ProduceCompletion } from "../replica/produce_purgatory.ts";
import { ProducePurgatory } from "../replica/produce_purgatory.ts";
import type { ProducerStateSnapshot } from "../replica/producer_state.ts";
import { ProducerStateManager } from "../replica/producer_state.ts";
import type { PartitionLog } from "../storage/partition_log.ts";
import type { ValidBatch } from "./batch_validation.ts";
import {
  LOG_SCAN_CHUNK_BYTES,
  PARTITION_QUEUE_MAX,
  SEQUENCE_GAP_WAIT_MS_MAX,
  SEQUENCE_GAP_WAITERS_MAX,
} from "./config.ts";
import type {
  ReplicaFetchPartition,
  ReplicaFetchPartitionAnswer,
  ReplicaFetchPartitionResult,
} from "./fetch_wire.ts";
import {
  readProducerSnapshot,
  rebuildProducerStateFromLog,
  writeProducerSnapshot,
} from "./producer_state_store.ts";
import { SerialQueue } from "./serial_queue.ts";

/** What a replica needs from its manager. */
export interface ReplicaContext {
  readonly localBrokerId: number;
  readonly clock: () => number;
  readonly logger: Logger;
  readonly replicaLagTimeMaxMs: number;
  /** Sends an ISR change to the controller; resolves with the committed partition state. */
  alterPartition(replica: PartitionReplica, intent: AlterPartitionIntent): Promise<PartitionState>;
  /** The current leader's client URL, for NOT_LEADER_OR_FOLLOWER hints. */
  leaderHint(topic: string, partition: number): LeaderHint | undefined;
}

interface LeaderRole {
  readonly kind: "leader";
  readonly core: PartitionLeader;
  readonly produce: ProducePurgatory;
  readonly fetches: FetchPurgatory;
  /** No ISR shrink is proposed before this (after a failed AlterPartition). */
  alterRetryAfterMs: number;
}

interface FollowerRole {
  readonly kind: "follower";
  readonly core: PartitionFollower;
  /** No fetch before this (after an error). */
  backoffUntilMs: number;
  /** Whether the last assignment seen lists this broker in the ISR (see {@link PartitionReplica.followerOutOfIsr}). */
  inIsr: boolean;
}

/** Pause before proposing an ISR change again after the controller refused one. */
const ALTER_RETRY_BACKOFF_MS = 500;
/** Pause of a follower after its fetch failed for this partition. */
const FOLLOWER_BACKOFF_MS = 100;
const BACK_OFF = { backoff: true } as const;
const NO_PARTS = { parts: [] as readonly Uint8Array[] } as const;

/** Options of {@link PartitionReplica.open}. */
export interface PartitionReplicaOptions {
  readonly topic: string;
  readonly topicId: string;
  readonly partition: number;
  readonly log: PartitionLog;
  readonly topicConfig: TopicConfig;
  /** The HW from the broker's checkpoint (clamped to the LEO). */
  readonly checkpointedHighWatermark: number;
}

/** One local replica; see the module doc. */
export class PartitionReplica {
  readonly topic: string;
  readonly topicId: string;
  readonly partition: number;
  /** `topic-partition`, for messages. */
  readonly label: string;
  readonly log: PartitionLog;
  #topicConfig: TopicConfig;
  #role: LeaderRole | FollowerRole | undefined;
  /** HW before the first role; afterwards the role's core holds it. */
  #initialHighWatermark: number;
  #producers: ProducerStateManager;
  #snapshot: ProducerStateSnapshot | undefined;
  #snapshotEndOffset = -1;
  #closed = false;
  readonly #queue: SerialQueue;
  // The three below are created on first use: most of 10,000 replicas on a broker never
  // get a produce or consumer fetch, and an empty Map or Set costs ~200 bytes of heap.
  #listeners: Set<() => void> | undefined;
  #produceWaiters: Map<number, (c: ProduceCompletion) => void> | undefined;
  #fetchWaiters: Map<number, () => void> | undefined;
  #nextRequestId = 1;
  /** Produce requests waiting for the batch before theirs ({@link SEQUENCE_GAP_WAITERS_MAX}). */
  #gapWaiters = 0;

  private constructor(
    private readonly ctx: ReplicaContext,
    options: PartitionReplicaOptions,
    producers: ProducerStateManager,
    snapshot: ProducerStateSnapshot | undefined,
  ) {
    this.topic = options.topic;
    this.topicId = options.topicId;
    this.partition = options.partition;
    this.label = `${options.topic}-${options.partition}`;
    this.log = options.log;
    this.#topicConfig = options.topicConfig;
    this.#initialHighWatermark = Math.min(
      options.checkpointedHighWatermark,
      options.log.logEndOffset,
    );
    this.#producers = producers;
    this.#snapshot = snapshot;
    this.#snapshotEndOffset = snapshot?.endOffset ?? -1;
    this.#queue = new SerialQueue(PARTITION_QUEUE_MAX, `partition ${this.label}`);
  }

  /** Wraps an open log: rebuilds producer state from its snapshot and the log. */
  static async open(
    ctx: ReplicaContext,
    options: PartitionReplicaOptions,
  ): Promise<PartitionReplica> {
    const label = `${options.topic}-${options.partition}`;
    const snapshot = await readProducerSnapshot(options.log);
    const producers = await rebuildProducerStateFromLog(options.log, label, snapshot);
    return new PartitionReplica(ctx, options, producers, snapshot);
  }

  get role(): "leader" | "follower" | "none" {
    return this.#role?.kind ?? "none";
  }

  /** Whether this replica leads and has not resigned. */
  get isLeader(): boolean {
    return this.#role?.kind === "leader" && this.#role.core.isLeader;
  }

  get leaderId(): number {
    const role = this.#role;
    if (role === undefined) return NO_LEADER;
    return role.kind === "leader" ? role.core.localBrokerId : role.core.leaderId;
  }

  get leaderEpoch(): number {
    const role = this.#role;
    if (role === undefined) return -1;
    return role.kind === "leader" ? role.core.leaderEpoch : role.core.leaderEpoch;
  }

  /** The replica's HW: the leader's, or what the follower learned. */
  get highWatermark(): number {
    return this.#role?.core.highWatermark ?? this.#initialHighWatermark;
  }

  /** The committed ISR (leader only). */
  get isr(): readonly number[] | undefined {
    return this.#role?.kind === "leader" ? this.#role.core.isr : undefined;
  }

  /** The follower's fetch state, for the fetcher (undefined unless following a live leader). */
  get followedLeaderId(): number | undefined {
    const role = this.#role;
    if (role?.kind !== "follower" || this.#closed) return undefined;
    const id = role.core.leaderId;
    return id === NO_LEADER || id === this.ctx.localBrokerId ? undefined : id;
  }

  /**
   * A follower that the metadata shows outside the ISR: its fetcher keeps it
   * in the short-wait rounds, so that the leader sees it caught up, and takes
   * it back, within one short wait rather than one idle partition's long one.
   */
  get followerOutOfIsr(): boolean {
    const role = this.#role;
    return role?.kind === "follower" && !role.inIsr;
  }

  /** Idempotent producer state (for tests and diagnostics). */
  get producerState(): ProducerStateManager {
    return this.#producers;
  }

  /** Calls `listener` after appends, HW moves and role changes; returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    const listeners = this.#listeners ??= new Set();
    listeners.add(listener);
    return () => listeners.delete(listener);
  }

  // ---- role changes -------------------------------------------------------

  /**
   * Applies the partition's state from the metadata image (in image order;
   * stale leader epochs are ignored).
   */
  applyAssignment(a: PartitionState, topicConfig: TopicConfig): Promise<void> {
    return this.#queue.run(() => {
      this.#applyAssignmentNow(a, topicConfig);
      return Promise.resolve();
    }, { essential: true });
  }

  /** {@link applyAssignment}'s work, in the queue's turn (synchronous: nothing to await). */
  #applyAssignmentNow(a: PartitionState, topicConfig: TopicConfig): void {
    if (this.#closed) return;
    this.#topicConfig = topicConfig;
    const role = this.#role;
    if (role !== undefined && a.leaderEpoch < this.leaderEpoch) return;
    if (a.leader === this.ctx.localBrokerId) {
      if (role?.kind === "leader" && role.core.leaderEpoch === a.leaderEpoch) {
        this.#leaderAssignmentEffects(role, () => role.core.updateAssignment(a));
        return;
      }
      this.#becomeLeader(a);
      return;
    }
    if (role?.kind === "follower") {
      role.core.updateLeader(a.leader, a.leaderEpoch);
      role.backoffUntilMs = 0;
      role.inIsr = a.isr.includes(this.ctx.localBrokerId);
      this.#notify();
      return;
    }
    if (role?.kind === "leader" && a.leaderEpoch === role.core.leaderEpoch) return;
    this.#becomeFollower(a);
  }

  #becomeLeader(a: PartitionState): void {
    const hw = Math.min(this.highWatermark, this.log.logEndOffset);
    this.#resign(`leader epoch ${a.leaderEpoch} starts`);
    // Kafka's rule: the new epoch starts at the LEO, recorded before any
    // append, so that followers' divergence checks see it at once. In memory
    // only (as Kafka since KAFKA-15046): the log persists it with the first
    // append in this epoch, before that append is visible. A crash before then
    // loses an epoch that holds no records, which nothing depends on; and a
    // broker taking over 3,000 leaderships at once does not wait for 6,000
    // fsyncs before the first of them can serve.
    this.log.epochCache.assign(a.leaderEpoch, this.log.logEndOffset);
    const core = new PartitionLeader({
      partition: this.label,
      localBrokerId: this.ctx.localBrokerId,
      assignment: a,
      logEndOffset: this.log.logEndOffset,
      highWatermark: hw,
      nowMs: this.ctx.clock(),
      replicaLagTimeMaxMs: this.ctx.replicaLagTimeMaxMs,
    });
    const role: LeaderRole = {
      kind: "leader",
      core,
      produce: new ProducePurgatory({ partition: this.label }),
      fetches: new FetchPurgatory(),
      alterRetryAfterMs: 0,
    };
    this.#role = role;
    this.ctx.logger.info("became leader", {
      partition: this.label,
      leaderEpoch: a.leaderEpoch,
      logEndOffset: this.log.logEndOffset,
      highWatermark: hw,
      isr: a.isr.join(","),
    });
    // A leader alone in its ISR commits its whole log at once.
    this.#leaderEffects(role, core.appended(this.log.logEndOffset));
    this.#notify();
  }

  #becomeFollower(a: PartitionState): void {
    const hw = Math.min(this.highWatermark, this.log.logEndOffset);
    this.#resign(`broker ${a.leader} leads epoch ${a.leaderEpoch}`);
    this.#role = {
      kind: "follower",
      core: new PartitionFollower({
        partition: this.label,
        localBrokerId: this.ctx.localBrokerId,
        leaderId: a.leader,
        leaderEpoch: a.leaderEpoch,
        logEndOffset: this.log.logEndOffset,
        highWatermark: hw,
      }),
      backoffUntilMs: 0,
      inIsr: a.isr.includes(this.ctx.localBrokerId),
    };
    this.ctx.logger.info("became follower", {
      partition: this.label,
      leaderId: a.leader,
      leaderEpoch: a.leaderEpoch,
      logEndOffset: this.log.logEndOffset,
    });
    this.#notify();
  }

  /** Ends the leader role, if any: every waiting request fails; nothing more is acknowledged. */
  #resign(reason: string): void {
    const role = this.#role;
    if (role?.kind !== "leader") return;
    role.core.resign(reason);
    this.#deliver(role.produce.leadershipLost(reason));
    for (const id of role.fetches.leadershipLost()) this.#wakeFetch(id);
    this.#notify();
  }

  // ---- leader: produce ----------------------------------------------------

  /**
   * Appends validated batches as leader and answers per `acks`. Checks, in
   * order: leadership, min.insync.replicas for acks=all, purgatory room,
   * idempotent sequences. A refused request appended nothing.
   */
  async produce(
    batches: readonly ValidBatch[],
    acks: "0" | "1" | "all",
    timeoutMs: number,
  ): Promise<ProduceResult> {
    const gapWaitUntilMs = Date.now() + Math.min(timeoutMs, SEQUENCE_GAP_WAIT_MS_MAX);
    for (;;) {
      // Waited out: a gap is refused, a new producer's batch accepted at any sequence (Kafka).
      const waitedOut = Date.now() >= gapWaitUntilMs;
      const outcome = await this.#queue.run(() =>
        this.#appendAsLeader(batches, acks, timeoutMs, !waitedOut)
      );
      if (outcome.kind === "appended") return await outcome.wait;
      // No room to wait: refused (the producer re-sends), never appended out of order.
      if (waitedOut || this.#gapWaiters >= SEQUENCE_GAP_WAITERS_MAX) throw outcome.error;
      await this.#logEndMoves(outcome.logEndOffset, Math.max(1, gapWaitUntilMs - Date.now()));
    }
  }

  /**
   * Resolves once the log end moves past `logEndOffset` (an append or a
   * truncation), the role changes, or after `ms`: then a batch refused for a
   * sequence gap is validated again.
   */
  async #logEndMoves(logEndOffset: number, ms: number): Promise<void> {
    const role = this.#role;
    this.#gapWaiters++;
    try {
      await this.#until(
        () => this.log.logEndOffset !== logEndOffset || this.#role !== role || this.#closed,
        ms,
      );
    } finally {
      this.#gapWaiters--;
    }
  }

  /** Whether `condition` holds now or after a change within `ms` (checked on every change). */
  #until(condition: () => boolean, ms: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const check = () => {
        if (condition()) done(true);
      };
      const unsubscribe = this.onChange(check);
      const timer = setTimeout(() => done(false), ms);
      function done(met: boolean) {
        clearTimeout(timer);
        unsubscribe();
        resolve(met);
      }
      check();
    });
  }

  /**
   * Appends as leader, or returns `gap` when an idempotent batch starts past
   * its producer's next sequence, or (with `holdUnknownAhead`) a producer new
   * here starts past 0 (nothing appended; `logEndOffset` is the log end it
   * was judged against). Throws every other refusal.
   */
  async #appendAsLeader(
    batches: readonly ValidBatch[],
    acks: "0" | "1" | "all",
    timeoutMs: number,
    holdUnknownAhead: boolean,
  ): Promise<
    | { kind: "appended"; wait: Promise<ProduceResult> }
    | { kind: "gap"; error: StromError; logEndOffset: number }
  > {
    const role = this.#leaderRole();
    const sizeBytes = batches.reduce((n, b) => n + b.bytes.length, 0);
    const minIsr = this.#topicConfig.minInsyncReplicas;
    const refused = role.core.admitProduce(acks, minIsr) ??
      (acks === "all" ? role.produce.admit(sizeBytes) : undefined);
    if (refused) throw refused;
    const verdicts = this.#producers.validate(batches.map((b) => b.header), { holdUnknownAhead });
    let gap: StromError | undefined;
    for (const v of verdicts) {
      if (v.kind !== "error") continue;
      if (!v.sequenceAhead) throw v.error;
      gap ??= v.error;
    }
    if (gap) return { kind: "gap", error: gap, logEndOffset: this.log.logEndOffset };
    const count = batches.reduce((n, b) => n + b.header.recordCount, 0);
    const toAppend = batches.filter((_, i) => verdicts[i].kind === "append");
    if (toAppend.length === 0) {
      // Every batch is a retry of one already written: answer its offsets, once committed.
      const first = verdicts[0] as { baseOffset: number };
      const last = verdicts[verdicts.length - 1] as { lastOffset: number };
      const result: ProduceResult = {
        baseOffset: first.baseOffset,
        lastOffset: last.lastOffset,
        count,
        logAppendTime: -1,
        duplicate: true,
      };
      if (acks !== "all") return { kind: "appended", wait: Promise.resolve(result) };
      // A duplicate whose offsets are forgotten lies somewhere below the log end: wait for all of it.
      const committedTo = verdicts.some((v) => v.kind === "duplicate" && v.lastOffset < 0)
        ? this.log.logEndOffset - 1
        : last.lastOffset;
      return {
        kind: "appended",
        wait: this.#waitForHighWatermark(role, committedTo, timeoutMs).then(() => result),
      };
    }
    const logAppendTime = this.#topicConfig.messageTimestampType === "LogAppendTime"
      ? this.ctx.clock()
      : -1;
    if (logAppendTime >= 0) { for (const b of toAppend) setLogAppendTime(b.bytes, logAppendTime); }
    const bytes = concat(toAppend.map((b) => b.bytes));
    const appended = await this.log.append(bytes, {
      assignOffsets: true,
      leaderEpoch: role.core.leaderEpoch,
    });
    this.#applyProducerState(bytes);
    const effects = role.core.appended(this.log.logEndOffset);
    // Offsets of the whole request: duplicates (earlier) and appended batches, in order.
    let appendedIndex = 0;
    let offset = appended.baseOffset;
    const ranges = verdicts.map((v) => {
      if (v.kind === "duplicate") return { base: v.baseOffset, last: v.lastOffset };
      const h = readBatchHeader(toAppend[appendedIndex++].bytes);
      const range = { base: offset, last: offset + h.lastOffsetDelta };
      offset = range.last + 1;
      return range;
    });
    const result: ProduceResult = {
      baseOffset: ranges[0].base,
      lastOffset: ranges[ranges.length - 1].last,
      count,
      logAppendTime,
      duplicate: false,
    };
    let wait: Promise<ProduceResult> = Promise.resolve(result);
    if (acks === "all") {
      const requestId = this.#nextRequestId++;
      const { promise, resolve, reject } = Promise.withResolvers<ProduceResult>();
      (this.#produceWaiters ??= new Map()).set(
        requestId,
        (c: ProduceCompletion) => (c.ok ? resolve(result) : reject(c.error)),
      );
      wait = promise;
      this.#deliver(role.produce.add(
        {
          requestId,
          baseOffset: appended.baseOffset,
          lastOffset: appended.lastOffset,
          sizeBytes,
          deadlineMs: this.ctx.clock() + timeoutMs,
          minInsyncReplicas: minIsr,
        },
        role.core.highWatermark,
        role.core.maximalIsr.length,
      ));
    }
    this.#leaderEffects(role, effects);
    this.#wakeConsumerFetches(role);
    this.#notify();
    return { kind: "appended", wait };
  }

  /** For a duplicate acks=all retry: resolves once the HW passes `lastOffset`. */
  async #waitForHighWatermark(
    role: LeaderRole,
    lastOffset: number,
    timeoutMs: number,
  ): Promise<void> {
    const moved = () => !role.core.isLeader || this.#role !== role;
    await this.#until(() => moved() || role.core.highWatermark > lastOffset, timeoutMs);
    if (moved()) throw notLeader(this.label, "leadership moved while waiting");
    if (role.core.highWatermark > lastOffset) return;
    throw new StromError(
      "REQUEST_TIMED_OUT",
      `the retried batch of ${this.label} up to offset ${lastOffset} is not replicated yet; the outcome is unknown`,
      { details: { lastOffset, outcome: "unknown" } },
    );
  }

  #applyProducerState(bytes: Uint8Array): void {
    let position = 0;
    while (position < bytes.length) {
      const header = readBatchHeader(bytes, position);
      position += batchSizeBytes(header);
      if (header.baseOffset >= this.#producers.endOffset) this.#producers.apply(header);
    }
  }

  #leaderEffects(role: LeaderRole, effects: LeaderEffects): void {
    if (effects.alterPartition) this.#sendAlterPartition(role, effects.alterPartition);
    if (effects.highWatermarkAdvanced) {
      this.#deliver(
        role.produce.highWatermarkAdvanced(effects.highWatermark, role.core.maximalIsr.length),
      );
      this.#wakeConsumerFetches(role);
      this.#notify();
    }
  }

  /**
   * {@link #leaderEffects} of an update that may carry a new ISR; parked
   * follower fetches are told when it does (see {@link followerFetchNews}).
   */
  #leaderAssignmentEffects(role: LeaderRole, update: () => LeaderEffects): void {
    const before = role.core.partitionEpoch;
    this.#leaderEffects(role, update());
    if (role.core.partitionEpoch !== before) this.#notify();
  }

  #sendAlterPartition(role: LeaderRole, intent: AlterPartitionIntent): void {
    // One line per partition at debug: the batch it travels in is logged at info.
    this.ctx.logger.debug("asking the controller to change the ISR", {
      partition: this.label,
      kind: intent.kind,
      isr: intent.isr.join(","),
      leaderEpoch: intent.leaderEpoch,
      partitionEpoch: intent.partitionEpoch,
    });
    this.ctx.alterPartition(this, intent).then(
      (state) => {
        if (this.#role !== role) return;
        this.#leaderAssignmentEffects(
          role,
          () =>
            role.core.handleAlterPartitionAnswer(intent.intentId, { ok: true, assignment: state }),
        );
      },
      (error) => {
        if (this.#role !== role) return;
        const e = error instanceof StromError
          ? error
          : new StromError("NETWORK_EXCEPTION", String(error));
        this.ctx.logger.debug("ISR change refused or failed", {
          partition: this.label,
          code: e.code,
          error: e.message,
        });
        role.alterRetryAfterMs = this.ctx.clock() + ALTER_RETRY_BACKOFF_MS;
        this.#leaderEffects(
          role,
          role.core.handleAlterPartitionAnswer(intent.intentId, { ok: false, error: e }),
        );
        if (!role.core.isLeader) this.#resign(`the controller refused: ${e.message}`);
      },
    );
  }

  #deliver(completions: readonly ProduceCompletion[]): void {
    for (const c of completions) {
      const waiter = this.#produceWaiters?.get(c.requestId);
      this.#produceWaiters?.delete(c.requestId);
      waiter?.(c);
    }
  }

  // ---- leader: consumer fetch and offsets ---------------------------------

  /** A consumer fetch: whole batches below the HW, long-polling for `minBytes`. */
  async fetch(req: FetchRequest): Promise<FetchResult> {
    let role = this.#leaderRole();
    this.#checkConsumerOffset(req.offset);
    const requestId = this.#nextRequestId++;
    const added = req.signal?.aborted ? "answerNow" : role.fetches.add(
      {
        requestId,
        reader: "consumer",
        fetchOffset: req.offset,
        minBytes: req.minBytes,
        maxWaitMs: req.maxWaitMs,
      },
      this.#fetchable(role),
      this.ctx.clock(),
    );
    if (added === "waiting") {
      const { promise, resolve } = Promise.withResolvers<void>();
      const onAbort = () => {
        role.fetches.remove(requestId);
        this.#fetchWaiters?.delete(requestId);
        resolve();
      };
      req.signal?.addEventListener("abort", onAbort, { once: true });
      (this.#fetchWaiters ??= new Map()).set(requestId, resolve);
      await promise;
      req.signal?.removeEventListener("abort", onAbort);
      role = this.#leaderRole();
      this.#checkConsumerOffset(req.offset);
    }
    const hw = role.core.highWatermark;
    const { batches, nextOffset } = await this.log.read(req.offset, req.maxBytes, {
      endOffsetMax: hw,
    });
    return {
      batches,
      highWatermark: hw,
      logStartOffset: this.log.logStartOffset,
      logEndOffset: this.log.logEndOffset,
      nextOffset,
    };
  }

  #checkConsumerOffset(offset: number): void {
    const start = this.log.logStartOffset;
    const end = this.log.logEndOffset;
    if (offset >= start && offset <= end) return;
    const e = offsetOutOfRange(this.label, offset, start, end);
    throw answerError(e.code, e.message, {
      details: {
        offset,
        logStartOffset: start,
        highWatermark: this.highWatermark,
        logEndOffset: end,
      },
    });
  }

  /** Earliest (log start), latest (HW) or the first offset at or after a timestamp, below the HW. */
  async listOffset(at: OffsetSpec): Promise<ListOffsetResult> {
    const role = this.#leaderRole();
    const leaderEpoch = role.core.leaderEpoch;
    if (at === "earliest") return { offset: this.log.logStartOffset, timestamp: null, leaderEpoch };
    if (at === "latest") return { offset: role.core.highWatermark, timestamp: null, leaderEpoch };
    const found = await this.log.offsetForTimestamp(at.timestampMs);
    if (found === undefined || found.offset >= role.core.highWatermark) {
      return { offset: null, timestamp: null, leaderEpoch };
    }
    return { offset: found.offset, timestamp: found.timestampMs, leaderEpoch };
  }

  #fetchable(role: LeaderRole): FetchableLog {
    const log = this.log;
    return {
      logStartOffset: log.logStartOffset,
      logEndOffset: log.logEndOffset,
      highWatermark: role.core.highWatermark,
      // The log has no cheap byte position per offset here: estimate from the
      // average record size (minBytes is a hint in Kafka too).
      bytesBetween: (from, to) => {
        if (to <= from) return 0;
        const records = Math.max(1, log.logEndOffset - log.logStartOffset);
        return Math.ceil(((to - from) * log.sizeBytes) / records);
      },
    };
  }

  #wakeConsumerFetches(role: LeaderRole): void {
    for (const id of role.fetches.logChanged(this.#fetchable(role))) this.#wakeFetch(id);
  }

  #wakeFetch(id: number): void {
    const wake = this.#fetchWaiters?.get(id);
    this.#fetchWaiters?.delete(id);
    wake?.();
  }

  // ---- leader: follower fetches -------------------------------------------

  /**
   * Validates a follower's fetch and records its progress (which may move
   * the HW and complete produce requests). `ready` says whether the answer
   * has news (records, a newer HW, an error) or may long-poll.
   */
  acceptFollowerFetch(
    replicaId: number,
    p: ReplicaFetchPartition,
  ): { decision: FollowerFetchDecision; ready: boolean } {
    const role = this.#role;
    if (role?.kind !== "leader" || this.#closed) {
      const error = notLeader(this.label, "it is not the leader");
      return { decision: { kind: "error", error }, ready: true };
    }
    const { decision, effects } = role.core.handleFollowerFetch(
      {
        replicaId,
        currentLeaderEpoch: p.currentLeaderEpoch,
        fetchOffset: p.fetchOffset,
        lastFetchedEpoch: p.lastFetchedEpoch,
      },
      { logStartOffset: this.log.logStartOffset, epochs: this.log.epochCache },
      this.ctx.clock(),
    );
    this.#leaderEffects(role, effects);
    const ready = decision.kind !== "read" || this.followerFetchNews(p, decision) === "data";
    return { decision, ready };
  }

  /**
   * What a parked follower fetch for `p`, accepted with `decision`, could
   * return now: `"data"` (answer at once: records past its fetch offset, this
   * replica stopped leading, or the ISR changed since the fetch was accepted),
   * `"hw"` (only a higher high watermark than the follower knows: worth
   * answering soon, not at once) or `"none"`.
   *
   * An ISR change answers at once because the leader takes a follower back
   * into the ISR only when it fetches: an idle follower dropped from the ISR
   * (its broker fenced for silence) would otherwise wait out a long idle poll
   * before it is seen caught up again.
   */
  followerFetchNews(
    p: ReplicaFetchPartition,
    decision: FollowerFetchDecision,
  ): "data" | "hw" | "none" {
    const role = this.#role;
    if (role?.kind !== "leader" || !role.core.isLeader) return "data";
    if (p.fetchOffset < this.log.logEndOffset) return "data";
    if (decision.kind === "read" && decision.partitionEpoch !== role.core.partitionEpoch) {
      return "data";
    }
    return role.core.highWatermark > p.highWatermark ? "hw" : "none";
  }

  /**
   * Whether the answer to an accepted follower fetch would tell the follower
   * nothing: a read at the log end, with the high watermark it already
   * knows. Such a partition may be left out of the answer (`omitUnchanged`).
   */
  followerFetchUnchanged(p: ReplicaFetchPartition, decision: FollowerFetchDecision): boolean {
    const role = this.#role;
    return decision.kind === "read" && role?.kind === "leader" && role.core.isLeader &&
      role.core.leaderEpoch === decision.leaderEpoch &&
      p.fetchOffset === this.log.logEndOffset && role.core.highWatermark === p.highWatermark;
  }

  /** Reads the answer to an accepted follower fetch, up to `maxBytes` (first batch whole). */
  async readForFollower(
    p: ReplicaFetchPartition,
    decision: FollowerFetchDecision,
    maxBytes: number,
  ): Promise<ReplicaFetchPartitionAnswer> {
    const base = {
      topic: p.topic,
      partition: p.partition,
      logStartOffset: this.log.logStartOffset,
    };
    if (decision.kind === "error") {
      return {
        ...base,
        kind: "error",
        highWatermark: -1,
        error: {
          code: decision.error.code,
          message: decision.error.message,
          ...(decision.error.details ? { details: decision.error.details } : {}),
        },
        batches: new Uint8Array(0),
      };
    }
    if (decision.kind === "diverging") {
      return {
        ...base,
        kind: "diverging",
        highWatermark: decision.highWatermark,
        divergingEpoch: decision.divergingEpoch,
        batches: new Uint8Array(0),
      };
    }
    const role = this.#role;
    if (
      role?.kind !== "leader" || !role.core.isLeader ||
      role.core.leaderEpoch !== decision.leaderEpoch
    ) {
      return this.readForFollower(p, {
        kind: "error",
        error: notLeader(this.label, "leadership moved during the fetch"),
      }, maxBytes);
    }
    try {
      // Parts: a follower near the log end gets the latest appends' own bytes, not a file read.
      // A follower at the log end (every idle partition's fetch) needs no read at all.
      const { parts } = maxBytes > 0 && p.fetchOffset !== this.log.logEndOffset
        ? await this.log.readParts(p.fetchOffset, maxBytes)
        : NO_PARTS;
      return { ...base, kind: "read", highWatermark: role.core.highWatermark, batches: parts };
    } catch (e) {
      const error = e instanceof StromError ? e : new StromError("UNKNOWN_SERVER_ERROR", String(e));
      return this.readForFollower(p, { kind: "error", error }, maxBytes);
    }
  }

  // ---- follower -----------------------------------------------------------

  /** The next fetch for this partition, or undefined (in flight, backing off, not a follower). */
  nextFollowerFetch(): FollowerFetchRequest | undefined {
    const role = this.#role;
    if (role?.kind !== "follower" || this.#closed || this.followedLeaderId === undefined) {
      return undefined;
    }
    if (this.ctx.clock() < role.backoffUntilMs) return undefined;
    return role.core.nextFetch({
      logEndOffset: this.log.logEndOffset,
      epochs: this.log.epochCache,
    });
  }

  /**
   * Gives up on an in-flight fetch: after a failed request it backs off;
   * `backoff: false` is for a request the fetcher cancelled itself (nothing
   * went wrong, the partition is asked for again at once).
   */
  abandonFollowerFetch(req: FollowerFetchRequest, options: { backoff: boolean } = BACK_OFF): void {
    const role = this.#role;
    if (role?.kind !== "follower") return;
    role.core.abandonFetch(req);
    if (options.backoff) role.backoffUntilMs = this.ctx.clock() + FOLLOWER_BACKOFF_MS;
  }

  /** Applies the leader's answer to `req`: append, truncate, or back off. */
  applyFollowerFetch(req: FollowerFetchRequest, r: ReplicaFetchPartitionResult): Promise<void> {
    return this.#queue.run(async () => {
      const role = this.#role;
      if (role?.kind !== "follower" || this.#closed) return;
      const response: FollowerFetchResponse = r.kind === "read"
        ? { kind: "read", highWatermark: r.highWatermark }
        : r.kind === "diverging"
        ? { kind: "diverging", divergingEpoch: r.divergingEpoch!, highWatermark: r.highWatermark }
        : {
          kind: "error",
          // No stack: while leaders move, a round brings one per partition.
          error: answerError(r.error?.code ?? "UNKNOWN_SERVER_ERROR", r.error?.message ?? "", {
            ...(r.error?.details ? { details: r.error.details } : {}),
          }),
        };
      const view = { logEndOffset: this.log.logEndOffset, epochs: this.log.epochCache };
      const action = role.core.handleFetchResponse(req, response, view);
      switch (action.kind) {
        case "append":
          if (r.batches.length > 0) {
            try {
              await this.log.append(r.batches, { assignOffsets: false, leaderEpoch: -1 });
            } catch (e) {
              this.ctx.logger.warn("follower append failed", {
                partition: this.label,
                error: (e as Error).message,
              });
              role.backoffUntilMs = this.ctx.clock() + FOLLOWER_BACKOFF_MS;
              return;
            }
            this.#applyProducerState(r.batches);
          }
          role.core.appended(this.log.logEndOffset, action.leaderHighWatermark);
          this.#notify();
          return;
        case "truncate":
          await this.#truncate(action.offset, `diverged from leader ${role.core.leaderId}`);
          role.core.truncated(this.log.logEndOffset);
          this.#notify();
          return;
        case "truncateFullyAndStartAt":
          this.ctx.logger.warn("follower restarts its log at the leader's log start", {
            partition: this.label,
            offset: action.offset,
          });
          await this.log.truncateFullyAndStartAt(action.offset);
          this.#producers = new ProducerStateManager({
            partition: this.label,
            endOffset: action.offset,
          });
          role.core.restartedAt(action.offset);
          this.#notify();
          return;
        case "backoff":
          role.backoffUntilMs = this.ctx.clock() + FOLLOWER_BACKOFF_MS;
          return;
        case "ignore":
          return;
      }
    });
  }

  async #truncate(offset: number, why: string): Promise<void> {
    const before = this.log.logEndOffset;
    await this.log.truncateTo(offset);
    this.ctx.logger.warn("truncated the log", {
      partition: this.label,
      from: before,
      to: this.log.logEndOffset,
      why,
    });
    if (this.#producers.needsRebuildAfterTruncation(this.log.logEndOffset)) {
      this.#producers = await rebuildProducerStateFromLog(this.log, this.label, this.#snapshot);
    }
  }

  // ---- periodic work ------------------------------------------------------

  /**
   * Purgatory deadlines (call every few tens of ms) and, when `checkIsr`, the
   * ISR lag check (often enough if every tenth of the lag time).
   */
  tick(nowMs: number, checkIsr = true): void {
    const role = this.#role;
    if (role?.kind !== "leader") return;
    if (checkIsr && role.core.isLeader && nowMs >= role.alterRetryAfterMs) {
      this.#leaderEffects(role, role.core.tick(nowMs));
    }
    if (role.produce.size > 0) this.#deliver(role.produce.expire(nowMs));
    if (role.fetches.size > 0) { for (const id of role.fetches.expire(nowMs)) this.#wakeFetch(id); }
  }

  /** Whether the producer state moved since its last snapshot (see `#snapshotMoved`). */
  get producerSnapshotDue(): boolean {
    return !this.#closed && this.#snapshotMoved();
  }

  /**
   * Whether the producer state moved since its last snapshot. Without a
   * snapshot, a state at the log start needs none: it is what a rebuild
   * starts from. (Writing one per new partition cost every broker 10,000
   * atomic file writes, two fsyncs each, 5 s after a 10,000-partition topic
   * was created, and again at shutdown.)
   */
  #snapshotMoved(): boolean {
    if (this.#producers.endOffset === this.#snapshotEndOffset) return false;
    return this.#snapshotEndOffset !== -1 || this.#producers.endOffset !== this.log.logStartOffset;
  }

  /** Writes the producer state snapshot if the state moved since the last one. */
  async snapshotProducerState(): Promise<void> {
    if (!this.producerSnapshotDue) return;
    await this.#queue.run(async () => {
      if (this.#closed) return;
      this.#snapshot = await writeProducerSnapshot(this.log, this.#producers);
      this.#snapshotEndOffset = this.#snapshot.endOffset;
    });
  }

  /** Per-replica diagnostics with a CRC-32C of the stored batches from log start up to `upTo`. */
  async diagnostics(upTo: number): Promise<Record<string, unknown>> {
    const limit = Math.min(upTo, this.log.logEndOffset);
    let crc = 0;
    let offset = this.log.logStartOffset;
    while (offset < limit) {
      const { batches, nextOffset } = await this.log.read(offset, LOG_SCAN_CHUNK_BYTES, {
        endOffsetMax: limit,
      });
      if (batches.length === 0 || nextOffset <= offset) break;
      crc = crc32c(batches, crc);
      offset = nextOffset;
    }
    return {
      topic: this.topic,
      partition: this.partition,
      role: this.role,
      leaderId: this.leaderId,
      leaderEpoch: this.leaderEpoch,
      logStartOffset: this.log.logStartOffset,
      logEndOffset: this.log.logEndOffset,
      highWatermark: this.highWatermark,
      ...(this.isr ? { isr: this.isr } : {}),
      checksum: { upTo: Math.max(offset, this.log.logStartOffset), crc32c: crc >>> 0 },
    };
  }

  /**
   * Stops the replica: a leader resigns (waiting requests fail), queued
   * operations finish, the producer state is snapshotted and the log closed.
   */
  async close(reason = "the replica is closing"): Promise<void> {
    if (this.#closed) return;
    this.#resign(reason);
    await this.#queue.run(async () => {
      this.#closed = true;
      try {
        if (this.#snapshotMoved()) {
          this.#snapshot = await writeProducerSnapshot(this.log, this.#producers);
        }
      } catch (e) {
        this.ctx.logger.warn("producer state snapshot failed", {
          partition: this.label,
          error: (e as Error).message,
        });
      }
      await this.log.close();
    }, { essential: true });
    const fetchWaiters = [...this.#fetchWaiters?.values() ?? []];
    this.#fetchWaiters?.clear();
    for (const wake of fetchWaiters) wake();
    this.#notify();
  }

  get closed(): boolean {
    return this.#closed;
  }

  #leaderRole(): LeaderRole {
    const role = this.#role;
    if (role?.kind === "leader" && role.core.isLeader && !this.#closed) return role;
    throw this.notLeaderError();
  }

  /** NOT_LEADER_OR_FOLLOWER with the current leader as the hint, if known. */
  notLeaderError(): StromError {
    const hint = this.ctx.leaderHint(this.topic, this.partition);
    return notLeader(
      this.label,
      hint ? `broker ${hint.id} leads it` : "no leader is known right now",
      hint,
    );
  }

  #notify(): void {
    if (this.#listeners === undefined || this.#listeners.size === 0) return;
    for (const listener of [...this.#listeners]) listener();
  }
}

/** One view when the parts lie back to back in one buffer (the usual case), else a copy. */
function concat(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const first = parts[0];
  let end = first.byteOffset;
  const contiguous = parts.every((p) => {
    const ok = p.buffer === first.buffer && p.byteOffset === end;
    end += p.length;
    return ok;
  });
  if (contiguous) return new Uint8Array(first.buffer, first.byteOffset, end - first.byteOffset);
  return concatBytes(parts);
}
