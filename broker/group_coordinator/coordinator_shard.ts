/**
 * One `__consumer_offsets` partition this broker leads, driven as
 * `broker/groups/README.md` prescribes: load (replay the partition from its
 * log start, then `activate`), then run operations one at a time — decide
 * `{records, response}`, append the records with acks=all, replay them,
 * answer. Reads go through the same queue, so they see every decision
 * answered before them. A failed append (or a lost leadership) fails the
 * shard: the runtime drops it and a new one loads from the committed log.
 *
 * An answer that no append of its own proves current (a read, or an
 * operation that wrote nothing, such as most heartbeats) waits for a
 * leadership barrier started after the request arrived (see
 * `leadership_barrier.ts`): a deposed leader that still believes it leads —
 * paused, or cut off from the controller — must not answer from stale
 * memory. Timer runs answer no client and skip it.
 *
 * The shard is tied to one leader epoch: a new epoch, even of the same
 * broker, means a new shard, because records may have been written by
 * another leader in between.
 *
 * @module
 */

import { StromError } from "@strom/client";
import type { Logger } from "../log.ts";
import type { EncodedGroupRecord, GroupCoordinatorConfig, GroupResult } from "../groups/mod.ts";
import { decodeGroupRecord, encodeGroupRecord, GroupCoordinator } from "../groups/mod.ts";
import { EXPIRE_OFFSETS_INTERVAL_MS, OPERATIONS_QUEUED_PER_PARTITION_MAX } from "./config.ts";

/** What a shard needs from its partition's leader replica. */
export interface ShardLog {
  readonly partition: number;
  /** The leader epoch this shard serves. */
  readonly leaderEpoch: number;
  /** Every stored record from the log start to the log end, in log order, chunk by chunk. */
  read(): AsyncIterable<readonly EncodedGroupRecord[]>;
  /** Appends as one request with acks=all; resolves once the records are committed. */
  append(records: readonly EncodedGroupRecord[]): Promise<void>;
  /**
   * Appends a leadership barrier record with acks=all; resolves once it is
   * committed, which proves this broker still led at `leaderEpoch` after
   * the call began (see `leadership_barrier.ts`).
   */
  confirmLeadership(): Promise<void>;
}

/** How a shard is built. */
export interface CoordinatorShardOptions {
  readonly log: ShardLog;
  readonly config: GroupCoordinatorConfig;
  readonly logger: Logger;
  readonly clock: () => number;
  readonly newMemberId: () => string;
  /** Called once when the shard fails (append failed, load failed). */
  readonly onFailed: (shard: CoordinatorShard, error: unknown) => void;
}

/** Where a shard is in its life. */
export type ShardStatus = "loading" | "active" | "failed" | "closed";

/** A coordinator operation: decides, from the state, what to write and what to answer. */
export type ShardOperation<R> = (coordinator: GroupCoordinator, nowMs: number) => GroupResult<R>;

/** One led coordinator partition; see the module doc. */
export class CoordinatorShard {
  readonly partition: number;
  readonly leaderEpoch: number;
  readonly #options: CoordinatorShardOptions;
  readonly #coordinator: GroupCoordinator;
  #status: ShardStatus = "loading";
  /** The tail of the operation chain. */
  #tail: Promise<unknown> = Promise.resolve();
  /** Operations queued or running. Invariant: ≤ OPERATIONS_QUEUED_PER_PARTITION_MAX. */
  #queued = 0;
  #expiringMembers = false;
  #expiringOffsets = false;
  #lastOffsetExpiryMs: number;
  #loaded: Promise<void> | undefined;
  /** The barrier not yet started: callers arriving now share it. */
  #barrierWaiting: Promise<void> | undefined;
  /** The barrier appending now (a caller arriving now must wait for a later one). */
  #barrierRunning: Promise<void> | undefined;

  constructor(options: CoordinatorShardOptions) {
    this.#options = options;
    this.partition = options.log.partition;
    this.leaderEpoch = options.log.leaderEpoch;
    this.#coordinator = new GroupCoordinator({
      config: options.config,
      newMemberId: options.newMemberId,
    });
    this.#lastOffsetExpiryMs = options.clock();
  }

  get status(): ShardStatus {
    return this.#status;
  }

  /** The coordinator's configuration (heartbeat interval, session timeout). */
  get config(): GroupCoordinatorConfig {
    return this.#coordinator.config;
  }

  /** Replays the partition, then activates; operations queued meanwhile wait for it. */
  load(): Promise<void> {
    this.#loaded ??= this.#chain(async () => {
      const started = this.#options.clock();
      let count = 0;
      try {
        for await (const chunk of this.#options.log.read()) {
          if (this.#status !== "loading") return;
          this.#coordinator.replay(chunk.map((r) => decodeGroupRecord(r.key, r.value)));
          count += chunk.length;
        }
      } catch (e) {
        this.#fail(e);
        return;
      }
      if (this.#status !== "loading") return;
      this.#coordinator.activate(this.#options.clock());
      this.#status = "active";
      this.#options.logger.info("group coordinator loaded", {
        partition: this.partition,
        leaderEpoch: this.leaderEpoch,
        records: count,
        groups: this.#coordinator.state.groups.size,
        loadMs: this.#options.clock() - started,
      });
    });
    return this.#loaded;
  }

  /**
   * Runs an operation in turn: its records are appended (acks=all) and
   * replayed before the answer, and before the next operation runs. An
   * operation that writes nothing answers after a leadership barrier.
   */
  run<R>(op: ShardOperation<R>): Promise<R> {
    return this.#run(op).then(async ({ response, appended }) => {
      if (!appended) await this.#leadershipConfirmed();
      return response;
    });
  }

  /**
   * Reads the state in turn (after every operation queued before it),
   * answering after a leadership barrier. The barrier is joined on arrival,
   * so reads arriving together share one.
   */
  read<R>(fn: (coordinator: GroupCoordinator) => R): Promise<R> {
    this.#admit();
    const confirmed = this.#leadershipConfirmed();
    // Awaited below unless the read itself fails first; never unhandled.
    confirmed.catch(() => {});
    return this.#chain(() => {
      this.#checkActive();
      return Promise.resolve(fn(this.#coordinator));
    }).then(async (result) => {
      await confirmed;
      return result;
    });
  }

  #run<R>(op: ShardOperation<R>): Promise<{ response: R; appended: boolean }> {
    this.#admit();
    return this.#chain(async () => {
      this.#checkActive();
      const { records, response } = op(this.#coordinator, this.#options.clock());
      if (records.length === 0) return { response, appended: false };
      // Replay at once (so the next decision sees it) — but only after the
      // append succeeded, so a failed append leaves no phantom state: the
      // shard is failed and rebuilt from the log anyway.
      try {
        await this.#options.log.append(records.map(encodeGroupRecord));
      } catch (e) {
        this.#fail(e);
        throw notCoordinatorAfterFailure(this.partition, e);
      }
      this.#coordinator.replay(records);
      return { response, appended: true };
    });
  }

  /**
   * Resolves once a leadership barrier that started after this call has
   * committed. Barriers run one at a time; callers that arrive while one is
   * waiting to start share it. A failed barrier fails the shard.
   */
  #leadershipConfirmed(): Promise<void> {
    if (this.#barrierWaiting) return this.#barrierWaiting;
    const previous = this.#barrierRunning ?? Promise.resolve();
    const barrier: Promise<void> = previous.catch(() => {}).then(async () => {
      this.#barrierWaiting = undefined;
      this.#barrierRunning = barrier;
      try {
        this.#checkActive();
        await this.#options.log.confirmLeadership();
      } catch (e) {
        if (e instanceof StromError && e.code === "NOT_COORDINATOR") throw e;
        this.#fail(e);
        throw notCoordinatorAfterFailure(this.partition, e);
      } finally {
        if (this.#barrierRunning === barrier) this.#barrierRunning = undefined;
      }
    });
    this.#barrierWaiting = barrier;
    return barrier;
  }

  /**
   * Timers (the runtime calls it every EXPIRE_MEMBERS_INTERVAL_MS): expires members each call and
   * offsets every {@link EXPIRE_OFFSETS_INTERVAL_MS}; at most one of each queued.
   */
  tick(nowMs: number): void {
    if (this.#status !== "active") return;
    if (!this.#expiringMembers && this.#queued < OPERATIONS_QUEUED_PER_PARTITION_MAX) {
      this.#expiringMembers = true;
      this.#run((c, now) => c.expireMembers(now)).then(({ response: expired }) => {
        for (const m of expired) {
          this.#options.logger.info("group member expired", { ...m, partition: this.partition });
        }
      }).catch(() => {/* a failed append failed the shard; it is reported there */})
        .finally(() => this.#expiringMembers = false);
    }
    if (
      !this.#expiringOffsets && nowMs - this.#lastOffsetExpiryMs >= EXPIRE_OFFSETS_INTERVAL_MS &&
      this.#queued < OPERATIONS_QUEUED_PER_PARTITION_MAX
    ) {
      this.#expiringOffsets = true;
      this.#lastOffsetExpiryMs = nowMs;
      this.#run((c, now) => c.expireOffsets(now)).then(({ response: r }) => {
        if (r.expiredOffsets > 0 || r.deletedGroups.length > 0) {
          this.#options.logger.info("group offsets expired", {
            partition: this.partition,
            expiredOffsets: r.expiredOffsets,
            deletedGroups: r.deletedGroups.join(","),
          });
        }
      }).catch(() => {}).finally(() => this.#expiringOffsets = false);
    }
  }

  /** Stops serving: queued operations fail with NOT_COORDINATOR; resolves once the running one settled. */
  async close(): Promise<void> {
    if (this.#status === "loading" || this.#status === "active") this.#status = "closed";
    await this.#tail.catch(() => {});
  }

  /** Waits for every queued operation to settle (for tests and hand-over). */
  async settled(): Promise<void> {
    await this.#tail.catch(() => {});
  }

  #admit(): void {
    if (this.#status === "failed" || this.#status === "closed") throw this.#notCoordinator();
    if (this.#queued >= OPERATIONS_QUEUED_PER_PARTITION_MAX) {
      throw new StromError(
        "COORDINATOR_NOT_AVAILABLE",
        `coordinator partition ${this.partition} has ${this.#queued} operations queued (the most is ${OPERATIONS_QUEUED_PER_PARTITION_MAX}); retry shortly`,
      );
    }
  }

  #chain<R>(fn: () => Promise<R>): Promise<R> {
    this.#queued++;
    const run = this.#tail.then(fn, fn);
    this.#tail = run.then(
      () => this.#queued--,
      () => this.#queued--,
    );
    return run;
  }

  #checkActive(): void {
    if (this.#status !== "active") throw this.#notCoordinator();
  }

  #notCoordinator(): StromError {
    return new StromError(
      "NOT_COORDINATOR",
      `this broker no longer coordinates groups of __consumer_offsets partition ${this.partition}; find the coordinator again and retry`,
    );
  }

  #fail(error: unknown): void {
    if (this.#status === "failed" || this.#status === "closed") return;
    this.#status = "failed";
    this.#options.logger.warn("group coordinator partition failed; it reloads from the log", {
      partition: this.partition,
      leaderEpoch: this.leaderEpoch,
      error: error instanceof Error ? error.message : String(error),
    });
    this.#options.onFailed(this, error);
  }
}

function notCoordinatorAfterFailure(partition: number, cause: unknown): StromError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new StromError(
    "NOT_COORDINATOR",
    `writing to __consumer_offsets partition ${partition} failed (${why}); the coordinator reloads, retry`,
    { cause },
  );
}
