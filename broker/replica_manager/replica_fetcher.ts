/**
 * The follower side of replication for one source broker (Kafka's
 * `ReplicaFetcherThread`): one fetcher per leader broker, not per partition,
 * that long-polls the leader with the partitions this broker follows from
 * it, applies each partition's answer (append, truncate, back off) and asks
 * again. A partition whose leader changes simply stops being picked by this
 * fetcher and is picked by the new leader's; an answer that arrives for it
 * late is ignored by its core (requests match by identity).
 *
 * A request carries at most {@link REPLICA_FETCH_PARTITIONS_MAX} partitions,
 * so a broker that follows more than that from one leader keeps several
 * requests ("rounds") parked on the leader at once, each with its own
 * partitions (a partition has at most one fetch in flight): every partition
 * is waiting on the leader, and an append anywhere is answered at once.
 *
 * Partitions that had news (records, a divergence, an error) within the
 * last {@link HOT_KEEP_MS}, partitions new to this fetcher until their first
 * answer, and partitions whose metadata leaves this broker out of the ISR
 * (the leader takes a follower back only when it fetches) are "hot" and
 * travel in rounds of their own (at most
 * {@link REPLICA_FETCH_HOT_ROUNDS_MAX}, with the short wait): the leader
 * answers a round as soon as any of its partitions has records, and a busy
 * partition must not drag up to a thousand idle ones through every round trip
 * with it. Quiet ("cold") partitions share rounds with the long wait, at most
 * {@link COLD_ROUNDS_SPARE} more than they need when full, so partitions that
 * go quiet one by one do not add rounds without end. A hot partition never
 * waits for room while a cold round has some.
 *
 * Cold partitions that find every cold round taken first merge: the smallest
 * parked cold round that is not full is cancelled (its partitions withdrawn
 * without a back-off), and once all of its partitions are idle again (or
 * {@link MERGE_GATHER_MAX_MS} after it ended) the next cold round takes them
 * together with the waiting ones, so cold rounds fill up instead of
 * multiplying. No cold round starts while a merge gathers. Only when every
 * cold round is full does a cold partition take a hot round. (They used to
 * take a hot round whenever the cold ones were out: with 10,000 partitions
 * the rounds built up while the logs opened one by one, and thousands of idle
 * partitions went on cycling through hot rounds every 500 ms, about three
 * times the fetches the cold wait allows and most of an idle broker's CPU and
 * garbage.) The gather matters: a cancelled request may still be answered
 * (the answer raced the cancel), and a merged round launched before those
 * partitions were back would leave them to cancel it again, without end.
 *
 * Partitions not in a round wait in `#idle`, in the order they came back (the
 * oldest is picked first, so none starves).
 *
 * @module
 */

import type { Logger } from "../log.ts";
import type { FollowerFetchRequest } from "../replica/follower_state.ts";
import {
  REPLICA_FETCH_BACKOFF_MS,
  REPLICA_FETCH_HOT_ROUNDS_MAX,
  REPLICA_FETCH_PARTITIONS_MAX,
  REPLICA_FETCH_ROUNDS_MAX,
} from "./config.ts";
import type { ReplicaFetchRequest, ReplicaFetchResponse } from "./fetch_wire.ts";
import type { PartitionReplica } from "./partition_replica.ts";

/** Sends a follower fetch to broker `leaderId` and returns its decoded answer. */
export type ReplicaFetchTransport = (
  leaderId: number,
  request: ReplicaFetchRequest,
  signal: AbortSignal,
) => Promise<ReplicaFetchResponse>;

/** What a fetcher needs from the replica manager. */
export interface ReplicaFetcherDeps {
  readonly localBrokerId: number;
  readonly transport: ReplicaFetchTransport;
  /**
   * The local replicas (the fetcher keeps those that follow its leader).
   * Read on {@link ReplicaFetcher.start} and {@link ReplicaFetcher.wake}.
   */
  replicas(): Iterable<PartitionReplica>;
  /** Long-poll wait of hot rounds. */
  readonly fetchWaitMs: number;
  /**
   * Long-poll wait of cold rounds (default: `fetchWaitMs`). The leader answers
   * a parked round at once when one of its partitions gets records or changes
   * leader, so a longer wait only makes idle partitions cheaper.
   */
  readonly coldFetchWaitMs?: number;
  /** How long a partition stays hot after news; default {@link HOT_KEEP_MS}. */
  readonly hotKeepMs?: number;
  readonly logger: Logger;
}

/** Longest the loop sleeps with nothing to do before looking again. */
const IDLE_RECHECK_MS = 1_000;
/**
 * A partition stays hot this long after its last answer with news: between
 * records, a busy partition's answers often carry only a new high watermark,
 * and it must not fall back among the idle ones for that.
 */
export const HOT_KEEP_MS = 5_000;

/** A partition picked for a round, with its fetch (in flight until answered or abandoned). */
interface PickedFetch {
  readonly replica: PartitionReplica;
  readonly fetch: FollowerFetchRequest;
}

/** A request in flight. */
interface Round {
  readonly picked: readonly PickedFetch[];
  /** Cancels it (a cold round merged into a fuller one, or the fetcher stopping). */
  readonly cancel: AbortController;
  /** Cancelled by a merge (its partitions are asked for again at once, without a back-off). */
  merged: boolean;
}

/** A merge under way: `target` was cancelled; its partitions are gathered once it has ended. */
interface Merge {
  readonly target: Round;
  /** The idle cold partitions that asked for it (their fetches taken, they go in the new round). */
  readonly waiting: PickedFetch[];
  /** Set when the target has ended: the merge waits for its partitions until then. */
  gatherUntilMs?: number;
}

/**
 * Longest a merge waits, after the cancelled round has ended, for that
 * round's partitions to be idle again (an answer that raced the cancel is
 * still being applied). Cold partitions are off the leader meanwhile, so it
 * is short.
 */
export const MERGE_GATHER_MAX_MS = 100;

/** Cold rounds allowed beyond those that full rounds would need. */
export const COLD_ROUNDS_SPARE = 4;

/** Fetches every partition led by one broker. */
export class ReplicaFetcher {
  #running = false;
  #loop: Promise<void> | undefined;
  #abort = new AbortController();
  #wake: (() => void) | undefined;
  /** Set by {@link wake}: the partition set must be read again. */
  #stale = true;
  /** Replicas following this fetcher's leader. */
  #members = new Set<PartitionReplica>();
  /** Members not in a round, oldest first. */
  #idle = new Set<PartitionReplica>();
  /** When each member's last answer with news came. */
  #newsAtMs = new Map<PartitionReplica, number>();
  /** Members new here that have had no answer yet (hot: their first fetch should be quick). */
  #fresh = new Set<PartitionReplica>();
  readonly #inFlight = new Set<Promise<void>>();
  /** Cold rounds parked on the leader (what a merge may cancel). */
  readonly #coldParked = new Set<Round>();
  /** A merge under way (no cold round starts until it is done). */
  #merge: Merge | undefined;
  /** Answers being applied (their partitions are not idle until done). */
  readonly #applying = new Set<Promise<void>>();
  #hotRounds = 0;
  #coldRounds = 0;
  /** No new round before this (after a failed request). */
  #pauseUntilMs = 0;
  /** Rounds completed, for tests and metrics. */
  rounds = 0;

  constructor(readonly leaderId: number, private readonly deps: ReplicaFetcherDeps) {}

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Re-reads the partition set (a partition was added, moved or closed) and looks for work. */
  wake(): void {
    this.#stale = true;
    this.#poke();
  }

  /** Whether any local replica follows this fetcher's leader. */
  hasPartitions(): boolean {
    for (const r of this.deps.replicas()) if (r.followedLeaderId === this.leaderId) return true;
    return false;
  }

  /** Rounds (requests) in flight now. */
  get roundsInFlight(): number {
    return this.#inFlight.size;
  }

  /** Stops the loop, aborting the fetches in flight. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#abort.abort();
    this.#poke();
    await this.#loop;
    this.#dropMerge();
    await Promise.all(this.#inFlight);
    await Promise.all(this.#applying);
  }

  #poke(): void {
    this.#wake?.();
  }

  async #run(): Promise<void> {
    while (this.#running) {
      let waitMs = IDLE_RECHECK_MS;
      try {
        if (this.#stale) this.#refresh();
        waitMs = this.#startRounds();
      } catch (e) {
        this.deps.logger.warn("replica fetcher round failed", {
          leaderId: this.leaderId,
          error: (e as Error).message,
        });
        waitMs = REPLICA_FETCH_BACKOFF_MS;
      }
      await this.#sleep(waitMs);
    }
  }

  /** Re-reads which replicas follow this leader. */
  #refresh(): void {
    this.#stale = false;
    const members = new Set<PartitionReplica>();
    for (const r of this.deps.replicas()) if (r.followedLeaderId === this.leaderId) members.add(r);
    for (const r of this.#members) {
      if (members.has(r)) continue;
      this.#forget(r);
    }
    for (const r of members) {
      if (this.#members.has(r)) continue;
      this.#idle.add(r);
      this.#fresh.add(r);
    }
    this.#members = members;
  }

  /** Starts rounds while there is room and something to fetch; returns how long to sleep. */
  #startRounds(): number {
    const now = Date.now();
    if (now < this.#pauseUntilMs) return this.#pauseUntilMs - now;
    const coldMax = Math.min(
      Math.ceil(this.#members.size / REPLICA_FETCH_PARTITIONS_MAX) + COLD_ROUNDS_SPARE,
      REPLICA_FETCH_ROUNDS_MAX - REPLICA_FETCH_HOT_ROUNDS_MAX,
    );
    if (this.#merge !== undefined && this.#mergeGathered(now)) this.#finishMerge(now);
    const gathering = this.#merge !== undefined;
    for (;;) {
      const hotRoom = this.#hotRounds < REPLICA_FETCH_HOT_ROUNDS_MAX;
      const coldRoom = !gathering && this.#coldRounds < coldMax;
      if (!hotRoom && !coldRoom) break;
      const { hot, cold } = this.#candidates(now);
      // Each kind in its own rounds. Hot partitions take a cold round when the hot ones are all
      // out; cold ones wait for a merge into a parked cold round with room, or else take a hot one.
      const merging = gathering || (!coldRoom && cold.length > 0 && this.#startMerge(cold));
      const attempts: [PartitionReplica[], "hot" | "cold"][] = [];
      if (hotRoom) attempts.push([hot, "hot"]);
      if (coldRoom) attempts.push([cold, "cold"]);
      if (!coldRoom && !merging) attempts.push([cold, "hot"]);
      if (!hotRoom && coldRoom) attempts.push([hot, "cold"]);
      let launched = false;
      for (const [list, kind] of attempts) {
        const picked = this.#fetchesFor(list);
        if (picked.length === 0) continue;
        this.#launch(picked, kind);
        launched = true;
        break;
      }
      if (!launched) break;
    }
    // Members left idle are backing off or waiting for room or a merge: look again soon.
    return this.#idle.size > 0 || this.#merge !== undefined
      ? REPLICA_FETCH_BACKOFF_MS / 2
      : IDLE_RECHECK_MS;
  }

  #launch(picked: PickedFetch[], kind: "hot" | "cold") {
    if (kind === "hot") this.#hotRounds++;
    else this.#coldRounds++;
    const waitMs = kind === "hot"
      ? this.deps.fetchWaitMs
      : (this.deps.coldFetchWaitMs ?? this.deps.fetchWaitMs);
    const round: Round = { picked, cancel: new AbortController(), merged: false };
    // Stopping the fetcher cancels every round (a listener, removed when the round ends, rather
    // than a combined signal per round that lives as long as the fetcher's own).
    const stopSignal = this.#abort.signal;
    const onStop = () => round.cancel.abort(stopSignal.reason);
    if (stopSignal.aborted) onStop();
    else stopSignal.addEventListener("abort", onStop);
    if (kind === "cold") this.#coldParked.add(round);
    const done: Promise<void> = this.#round(round, waitMs).catch((e) => {
      this.deps.logger.warn("replica fetcher round failed", {
        leaderId: this.leaderId,
        error: (e as Error).message,
      });
    }).finally(() => {
      stopSignal.removeEventListener("abort", onStop);
      if (kind === "hot") this.#hotRounds--;
      else this.#coldRounds--;
      this.#coldParked.delete(round);
      this.#inFlight.delete(done);
      if (this.#merge?.target === round) {
        this.#merge.gatherUntilMs = Date.now() + MERGE_GATHER_MAX_MS;
      }
      this.#poke();
    });
    this.#inFlight.add(done);
  }

  /**
   * Cancels the smallest parked cold round that is not full, so that its
   * partitions and as many of `cold` (idle cold partitions, oldest first) as
   * fit go in one round once it has ended. False when every cold round is
   * full or none of `cold` can fetch now.
   */
  #startMerge(cold: readonly PartitionReplica[]): boolean {
    let target: Round | undefined;
    for (const round of this.#coldParked) {
      if (round.picked.length < (target?.picked.length ?? REPLICA_FETCH_PARTITIONS_MAX)) {
        target = round;
      }
    }
    if (target === undefined) return false;
    const waiting = this.#fetchesFor(
      cold.slice(0, REPLICA_FETCH_PARTITIONS_MAX - target.picked.length),
    );
    if (waiting.length === 0) return false;
    this.#merge = { target, waiting };
    target.merged = true;
    target.cancel.abort(new Error("merged into a fuller round"));
    return true;
  }

  /**
   * Whether the merge under way is done gathering: its target has ended and
   * each of its partitions is idle again or no longer ours, or
   * {@link MERGE_GATHER_MAX_MS} have passed since.
   */
  #mergeGathered(now: number): boolean {
    const merge = this.#merge!;
    if (merge.gatherUntilMs === undefined) return false;
    return now >= merge.gatherUntilMs ||
      merge.target.picked.every(({ replica }) =>
        this.#idle.has(replica) || !this.#members.has(replica)
      );
  }

  /** Launches the merged round: the waiting partitions and the target's that are idle and cold. */
  #finishMerge(now: number): void {
    const { target, waiting } = this.#merge!;
    this.#merge = undefined;
    const back = target.picked.map(({ replica }) => replica)
      .filter((r) => this.#idle.has(r) && !this.#isHot(r, now))
      .slice(0, REPLICA_FETCH_PARTITIONS_MAX - waiting.length);
    this.#launch([...waiting, ...this.#fetchesFor(back)], "cold");
  }

  /** Withdraws the fetches of partitions waiting for a merge (the fetcher stopped). */
  #dropMerge(): void {
    const merge = this.#merge;
    this.#merge = undefined;
    for (const { replica, fetch } of merge?.waiting ?? []) {
      replica.abandonFollowerFetch(fetch, { backoff: false });
      this.#returnToIdle(replica);
    }
  }

  /** Idle members for the next round, oldest first, at most {@link REPLICA_FETCH_PARTITIONS_MAX} of each kind. */
  #candidates(now: number): { hot: PartitionReplica[]; cold: PartitionReplica[] } {
    const hot: PartitionReplica[] = [];
    const cold: PartitionReplica[] = [];
    for (const replica of this.#idle) {
      if (replica.followedLeaderId !== this.leaderId) {
        // Closed or moved since the last refresh; the next refresh may bring it back.
        this.#forget(replica);
        this.#members.delete(replica);
        continue;
      }
      const list = this.#isHot(replica, now) ? hot : cold;
      if (list.length < REPLICA_FETCH_PARTITIONS_MAX) list.push(replica);
      if (
        hot.length >= REPLICA_FETCH_PARTITIONS_MAX && cold.length >= REPLICA_FETCH_PARTITIONS_MAX
      ) {
        break;
      }
    }
    return { hot, cold };
  }

  #isHot(replica: PartitionReplica, now: number): boolean {
    return this.#fresh.has(replica) || replica.followerOutOfIsr ||
      now - (this.#newsAtMs.get(replica) ?? -Infinity) < (this.deps.hotKeepMs ?? HOT_KEEP_MS);
  }

  #forget(replica: PartitionReplica): void {
    this.#idle.delete(replica);
    this.#newsAtMs.delete(replica);
    this.#fresh.delete(replica);
  }

  /** Fetches for those of `replicas` not backing off; they leave the idle set. */
  #fetchesFor(replicas: readonly PartitionReplica[]): PickedFetch[] {
    const picked: PickedFetch[] = [];
    for (const replica of replicas) {
      const fetch = replica.nextFollowerFetch();
      if (fetch === undefined) continue; // backing off
      this.#idle.delete(replica);
      picked.push({ replica, fetch });
    }
    return picked;
  }

  /**
   * One request to the leader. The round (its slot) ends with the answer;
   * each partition's answer is then applied on its own and the partition is
   * ready for its next fetch as soon as its own answer is in, not when the
   * slowest of the round's thousand is (a busy partition must not wait for
   * replicas whose queues are busy with a leadership change).
   */
  async #round(round: Round, waitMs: number): Promise<void> {
    const { picked } = round;
    const request: ReplicaFetchRequest = {
      replicaId: this.deps.localBrokerId,
      maxWaitMs: waitMs,
      omitUnchanged: true,
      partitions: picked.map(({ replica, fetch }) => ({
        topic: replica.topic,
        partition: replica.partition,
        currentLeaderEpoch: fetch.currentLeaderEpoch,
        fetchOffset: fetch.fetchOffset,
        lastFetchedEpoch: fetch.lastFetchedEpoch,
        highWatermark: replica.highWatermark,
      })),
    };
    let response: ReplicaFetchResponse;
    try {
      response = await this.deps.transport(
        this.leaderId,
        request,
        round.cancel.signal,
      );
    } catch (e) {
      const merged = round.merged && this.#running;
      for (const { replica, fetch } of picked) {
        replica.abandonFollowerFetch(fetch, { backoff: !merged });
        this.#returnToIdle(replica);
      }
      if (this.#running && !merged) {
        this.#pauseUntilMs = Date.now() + REPLICA_FETCH_BACKOFF_MS;
        this.deps.logger.debug("replica fetch failed", {
          leaderId: this.leaderId,
          error: (e as Error).message,
        });
      }
      return;
    }
    this.rounds++;
    const byKey = new Map(response.partitions.map((p) => [`${p.topic}-${p.partition}`, p]));
    for (const { replica, fetch } of picked) {
      this.#fresh.delete(replica);
      const result = byKey.get(replica.label);
      if (result === undefined) {
        // Left out (omitUnchanged): nothing new, the same as an empty read with the HW we sent.
        replica.abandonFollowerFetch(fetch, { backoff: false });
        this.#returnToIdle(replica);
        continue;
      }
      if (result.kind !== "read" || result.batches.length > 0) {
        this.#newsAtMs.set(replica, Date.now());
      }
      const applying: Promise<void> = replica.applyFollowerFetch(fetch, result).catch((e) => {
        replica.abandonFollowerFetch(fetch);
        this.deps.logger.warn("applying a replica fetch failed", {
          partition: replica.label,
          error: (e as Error).message,
        });
      }).finally(() => {
        this.#applying.delete(applying);
        this.#returnToIdle(replica);
      });
      this.#applying.add(applying);
    }
  }

  /** A partition whose fetch is over is ready for the next one (if still a member). */
  #returnToIdle(replica: PartitionReplica): void {
    if (!this.#members.has(replica)) return;
    this.#idle.add(replica);
    this.#poke();
  }

  #sleep(ms: number): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.#wake === done) this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }
}
