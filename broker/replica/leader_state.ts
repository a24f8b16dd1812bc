/**
 * The leader's view of one partition's replication (Kafka's `Partition` as
 * leader, without the log): each follower's log end offset (LEO) and when it
 * was last caught up, the high watermark (HW), and the ISR changes to ask the
 * controller for. Sans-I/O: time comes in as `nowMs`, the log's state as
 * offsets, and requests to the controller leave as {@link AlterPartitionIntent}
 * values.
 *
 * Invariants (checked where they are established, and by the tests):
 * - `highWatermark` never decreases while this object leads; it starts at the
 *   replica's own HW from before the election.
 * - `highWatermark ≤ logEndOffset` and `highWatermark ≤` every known LEO in
 *   the ISR used for the HW, except members that regressed (below).
 * - The ISR used for the HW is the *maximal* ISR (KIP-497): the committed ISR
 *   while a shrink is in flight (its members may still be needed), the
 *   committed ISR plus the joining replica while an expansion is in flight.
 * - At most one AlterPartition is in flight; none is proposed without the
 *   leader in the proposed ISR.
 * - A follower's LEO is taken only from a fetch that did not diverge from the
 *   leader's log, so it is always a prefix of the leader's log.
 * - A resigned leader (newer epoch seen, or fenced by the controller) never
 *   advances the HW and answers every request with NOT_LEADER_OR_FOLLOWER.
 *
 * What a freshly elected leader does (Kafka's ISR rule, not Raft's): it keeps
 * its old HW and forgets every follower's LEO. The HW moves again only once
 * every member of the ISR has made a non-diverging fetch, i.e. holds a prefix
 * of the new leader's log; it then moves to the smallest such LEO, which may
 * still lie in an older epoch. That is safe without Raft's "commit only in
 * the current epoch" rule because ISR membership, not a vote count, decides
 * what is committed: every ISR member holds the offsets below the HW, and the
 * controller elects only from the ISR. A follower may (re)join the ISR only
 * once its LEO is ≥ both the HW and the start offset of the leader's epoch,
 * so it holds everything the leader had when it was elected.
 *
 * A follower that is in the ISR but fetches below the HW has lost offsets it
 * had acknowledged (an unsynced disk that crashed). It is out of sync by
 * definition: the leader asks to remove it at once and the HW assertion skips
 * it. This cannot happen in a correct run and the simulation never does it.
 *
 * @module
 */

import type { StromError } from "@strom/client";
import { invariant } from "./_assert.ts";
import { REPLICA_LAG_TIME_MS_MAX_DEFAULT } from "./config.ts";
import { fencedLeaderEpoch, notEnoughReplicas, notLeader, offsetOutOfRange } from "./errors.ts";
import {
  computeHighWatermark,
  type LogEndOffsetLookup,
  minIsrLogEndOffset,
} from "./high_watermark.ts";

/** Kafka's "no epoch" value, also used for "no offset". */
export const NO_EPOCH = -1;

/** The partition's replica set and leadership, as in the metadata image. */
export interface PartitionAssignment {
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
}

/** An epoch and the offset it ends at (exclusive). */
export interface EpochEndOffset {
  readonly epoch: number;
  readonly endOffset: number;
}

/**
 * The part of the leader epoch cache the cores need; `LeaderEpochCache` of
 * broker/storage fits it.
 */
export interface EpochLookup {
  /** The newest epoch in the log, or -1. */
  readonly latestEpoch: number;
  /**
   * The largest epoch ≤ `epoch` and where it ends (the start of the next
   * epoch, or the LEO for the latest); (-1, -1) if `epoch` is newer than any.
   */
  endOffsetFor(epoch: number): EpochEndOffset;
}

/** A request to the controller to change the ISR (AlterPartition). */
export interface AlterPartitionIntent {
  /** Identifies the in-flight request; pass it back with the answer. */
  readonly intentId: number;
  readonly kind: "shrink" | "expand";
  readonly leaderId: number;
  readonly leaderEpoch: number;
  /** The partition epoch the change is based on (compare-and-set). */
  readonly partitionEpoch: number;
  /** The proposed ISR, in replica order, leader included. */
  readonly isr: readonly number[];
}

/** What a leader event changed, for the driver to act on. */
export interface LeaderEffects {
  readonly highWatermark: number;
  /** The HW moved: complete produce requests and wake fetches. */
  readonly highWatermarkAdvanced: boolean;
  /** Send this to the controller (at most one is in flight). */
  readonly alterPartition: AlterPartitionIntent | undefined;
}

/** A follower's fetch, as the leader sees it. */
export interface FollowerFetch {
  readonly replicaId: number;
  /** The leader epoch the follower believes is current. */
  readonly currentLeaderEpoch: number;
  /** The follower's LEO: where it wants to read from. */
  readonly fetchOffset: number;
  /** The epoch of the last batch in the follower's log, or -1 (empty log). */
  readonly lastFetchedEpoch: number;
}

/** What the leader's log looks like for validating a fetch. */
export interface LeaderLogView {
  readonly logStartOffset: number;
  readonly epochs: EpochLookup;
}

/** The leader's answer to a follower fetch, before reading any records. */
export type FollowerFetchDecision =
  | {
    /** Read records from `fetchOffset` and send them with this HW. */
    readonly kind: "read";
    readonly fetchOffset: number;
    readonly highWatermark: number;
    readonly leaderEpoch: number;
    /** The partition epoch (ISR version) the fetch was accepted under. */
    readonly partitionEpoch: number;
  }
  | {
    /** The follower's log diverges: it must truncate (see follower_state.ts). */
    readonly kind: "diverging";
    readonly divergingEpoch: EpochEndOffset;
    readonly highWatermark: number;
    readonly leaderEpoch: number;
  }
  | { readonly kind: "error"; readonly error: StromError };

/** Progress of one follower as seen by the leader. */
interface ReplicaProgress {
  /** -1 until the first non-diverging fetch in this leadership. */
  logEndOffset: number;
  lastCaughtUpTimeMs: number;
  lastFetchTimeMs: number;
  /** The leader's LEO when this follower last fetched. */
  lastFetchLeaderLogEndOffset: number;
}

/** Options to construct a leader. */
export interface PartitionLeaderOptions {
  /** For messages, e.g. `orders-0`. */
  readonly partition: string;
  readonly localBrokerId: number;
  /** The assignment that made this broker leader. */
  readonly assignment: PartitionAssignment;
  /** The local log's LEO at election: the start offset of the new epoch. */
  readonly logEndOffset: number;
  /** The local replica's HW from before the election. */
  readonly highWatermark: number;
  readonly nowMs: number;
  readonly replicaLagTimeMaxMs?: number;
}

/** The answer of the controller to an {@link AlterPartitionIntent}. */
export type AlterPartitionAnswer =
  | { readonly ok: true; readonly assignment: PartitionAssignment }
  | { readonly ok: false; readonly error: StromError };

/** The leader side of one partition. */
export class PartitionLeader {
  readonly partition: string;
  readonly localBrokerId: number;
  readonly leaderEpoch: number;
  /** The LEO when this broker became leader; the new epoch's records start here. */
  readonly leaderEpochStartOffset: number;
  readonly replicaLagTimeMaxMs: number;
  #replicas: readonly number[];
  /** ISR committed by the controller; contains the leader. */
  #isr: readonly number[];
  #partitionEpoch: number;
  #pending: AlterPartitionIntent | undefined;
  #nextIntentId = 1;
  /** Never decreases; ≤ #logEndOffset; ≤ known LEOs of the maximal ISR. */
  #highWatermark: number;
  /** The shared "nothing happened" effects for the current HW (see `#effects`). */
  #quiet: LeaderEffects | undefined;
  /** ≥ leaderEpochStartOffset. */
  #logEndOffset: number;
  #resignedBecause: string | undefined;
  readonly #followers = new Map<number, ReplicaProgress>();
  /** Followers' known LEOs, for the HW (a view, not a copy: this runs on every follower fetch). */
  readonly #knownLogEndOffsets: LogEndOffsetLookup = {
    get: (id) => this.#followers.get(id)?.logEndOffset,
  };
  /** The same, with regressed members out of the way (see {@link #isrBound}). */
  readonly #boundLogEndOffsets: LogEndOffsetLookup = {
    get: (id) => {
      const p = this.#followers.get(id);
      if (p === undefined) return undefined;
      return this.#regressed(p) ? Number.MAX_SAFE_INTEGER : p.logEndOffset;
    },
  };

  constructor(options: PartitionLeaderOptions) {
    const a = options.assignment;
    invariant(
      a.leader === options.localBrokerId,
      () =>
        `broker ${options.localBrokerId} cannot lead ${options.partition}: leader is ${a.leader}`,
    );
    invariant(
      a.isr.includes(a.leader),
      () => `the leader of ${options.partition} is not in its ISR ${a.isr}`,
    );
    invariant(
      0 <= options.highWatermark && options.highWatermark <= options.logEndOffset,
      () => `HW ${options.highWatermark} is outside [0, LEO ${options.logEndOffset}]`,
    );
    this.partition = options.partition;
    this.localBrokerId = options.localBrokerId;
    this.leaderEpoch = a.leaderEpoch;
    this.leaderEpochStartOffset = options.logEndOffset;
    this.replicaLagTimeMaxMs = options.replicaLagTimeMaxMs ?? REPLICA_LAG_TIME_MS_MAX_DEFAULT;
    this.#replicas = [...a.replicas];
    this.#isr = [...a.isr];
    this.#partitionEpoch = a.partitionEpoch;
    this.#highWatermark = options.highWatermark;
    this.#logEndOffset = options.logEndOffset;
    for (const id of a.replicas) {
      if (id === this.localBrokerId) continue;
      this.#followers.set(id, newProgress(a.isr.includes(id) ? options.nowMs : 0));
    }
  }

  /** The HW consumers may read up to (exclusive). */
  get highWatermark(): number {
    return this.#highWatermark;
  }

  /** The leader's own LEO. */
  get logEndOffset(): number {
    return this.#logEndOffset;
  }

  get partitionEpoch(): number {
    return this.#partitionEpoch;
  }

  get replicas(): readonly number[] {
    return this.#replicas;
  }

  /** The ISR the controller committed. */
  get isr(): readonly number[] {
    return this.#isr;
  }

  /** The ISR the HW waits for (KIP-497): committed ∪ a pending expansion. */
  get maximalIsr(): readonly number[] {
    const pending = this.#pending;
    if (pending?.kind !== "expand") return this.#isr;
    return this.#replicas.filter((id) => this.#isr.includes(id) || pending.isr.includes(id));
  }

  /** The AlterPartition in flight, if any. */
  get pendingAlterPartition(): AlterPartitionIntent | undefined {
    return this.#pending;
  }

  /** Whether this object still leads (it has not resigned). */
  get isLeader(): boolean {
    return this.#resignedBecause === undefined;
  }

  /** A follower's LEO as last fetched, or -1 if unknown in this leadership. */
  followerLogEndOffset(replicaId: number): number {
    return this.#followers.get(replicaId)?.logEndOffset ?? NO_EPOCH;
  }

  /** When a follower was last caught up, or undefined for a non-replica. */
  followerLastCaughtUpTimeMs(replicaId: number): number | undefined {
    return this.#followers.get(replicaId)?.lastCaughtUpTimeMs;
  }

  /**
   * Checks a produce request before its records are appended. acks=all needs
   * the ISR to be at least `minInsyncReplicas` large (Kafka checks this
   * before appending, so a rejected request wrote nothing).
   */
  admitProduce(acks: "0" | "1" | "all", minInsyncReplicas: number): StromError | undefined {
    if (!this.isLeader) return notLeader(this.partition, this.#resignedBecause!);
    const isrSize = this.maximalIsr.length;
    if (acks === "all" && isrSize < minInsyncReplicas) {
      return notEnoughReplicas(this.partition, isrSize, minInsyncReplicas, false);
    }
    return undefined;
  }

  /** The local log grew (the leader appended); the HW may move if the ISR is the leader alone. */
  appended(logEndOffset: number): LeaderEffects {
    invariant(
      logEndOffset >= this.#logEndOffset,
      () =>
        `the leader's LEO of ${this.partition} went back from ${this.#logEndOffset} to ${logEndOffset}`,
    );
    this.#logEndOffset = logEndOffset;
    return this.#effects(this.#maybeAdvanceHighWatermark(), undefined);
  }

  /**
   * Validates a follower's fetch and records its progress. On "read" the
   * driver reads the log from `fetchOffset`; on "diverging" it answers with
   * no records.
   */
  handleFollowerFetch(
    fetch: FollowerFetch,
    log: LeaderLogView,
    nowMs: number,
  ): { decision: FollowerFetchDecision; effects: LeaderEffects } {
    const fail = (error: StromError) => ({
      decision: { kind: "error" as const, error },
      effects: this.#effects(false, undefined),
    });
    if (!this.isLeader) return fail(notLeader(this.partition, this.#resignedBecause!));
    const progress = this.#followers.get(fetch.replicaId);
    if (progress === undefined) {
      return fail(
        notLeader(this.partition, `broker ${fetch.replicaId} is not one of its replicas`),
      );
    }
    if (fetch.currentLeaderEpoch < this.leaderEpoch) {
      return fail(fencedLeaderEpoch(this.partition, fetch.currentLeaderEpoch, this.leaderEpoch));
    }
    if (fetch.currentLeaderEpoch > this.leaderEpoch) {
      return fail(
        notLeader(
          this.partition,
          `the follower knows leader epoch ${fetch.currentLeaderEpoch}, this leader is at ${this.leaderEpoch}`,
        ),
      );
    }
    const diverging = this.#divergence(fetch, log.epochs);
    if (diverging !== undefined) {
      return {
        decision: {
          kind: "diverging",
          divergingEpoch: diverging,
          highWatermark: this.#servedHighWatermark(),
          leaderEpoch: this.leaderEpoch,
        },
        effects: this.#effects(false, undefined),
      };
    }
    if (fetch.fetchOffset < log.logStartOffset || fetch.fetchOffset > this.#logEndOffset) {
      return fail(
        offsetOutOfRange(this.partition, fetch.fetchOffset, log.logStartOffset, this.#logEndOffset),
      );
    }
    this.#recordFetch(progress, fetch.fetchOffset, nowMs);
    const advanced = this.#maybeAdvanceHighWatermark();
    const intent = this.#maybeExpandIsr(fetch.replicaId, progress) ??
      this.#maybeShrinkForRegression();
    return {
      decision: {
        kind: "read",
        fetchOffset: fetch.fetchOffset,
        highWatermark: this.#servedHighWatermark(),
        leaderEpoch: this.leaderEpoch,
        partitionEpoch: this.#partitionEpoch,
      },
      effects: this.#effects(advanced, intent),
    };
  }

  /**
   * Periodic check (call every few hundred ms): proposes to drop followers
   * that have not caught up within `replicaLagTimeMaxMs`.
   */
  tick(nowMs: number): LeaderEffects {
    if (!this.isLeader || this.#pending !== undefined) return this.#effects(false, undefined);
    // A loop, not a filter: every leader runs this twice a second, and with
    // thousands of them the arrays and closures were a broker's top garbage.
    let outOfSync: number[] | undefined;
    for (const id of this.#isr) {
      if (id === this.localBrokerId) continue;
      const p = this.#followers.get(id)!;
      if (this.#regressed(p) || !this.#isCaughtUp(p, nowMs)) (outOfSync ??= []).push(id);
    }
    return this.#effects(false, outOfSync && this.#proposeShrink(outOfSync));
  }

  /** Applies the controller's answer to the in-flight AlterPartition. */
  handleAlterPartitionAnswer(intentId: number, answer: AlterPartitionAnswer): LeaderEffects {
    if (this.#pending?.intentId !== intentId) return this.#effects(false, undefined);
    this.#pending = undefined;
    if (!answer.ok) {
      if (answer.error.code === "FENCED_LEADER_EPOCH") {
        this.resign(`the controller fenced leader epoch ${this.leaderEpoch}`);
      }
      // Any other error (a stale partition epoch, an ineligible replica):
      // the next metadata update or tick proposes again.
      return this.#effects(false, undefined);
    }
    return this.updateAssignment(answer.assignment);
  }

  /**
   * A newer assignment from the metadata image (or the controller's answer).
   * The same leader epoch with a newer partition epoch updates the ISR and
   * replicas and cancels any in-flight change; a newer leader epoch, or one
   * naming another leader, makes this object resign — the driver then builds
   * a follower (or a new leader for the new epoch).
   */
  updateAssignment(a: PartitionAssignment): LeaderEffects {
    if (!this.isLeader) return this.#effects(false, undefined);
    if (a.leaderEpoch < this.leaderEpoch) return this.#effects(false, undefined);
    if (a.leaderEpoch > this.leaderEpoch || a.leader !== this.localBrokerId) {
      this.resign(`leader epoch ${a.leaderEpoch} names broker ${a.leader} as leader`);
      return this.#effects(false, undefined);
    }
    if (a.partitionEpoch <= this.#partitionEpoch) return this.#effects(false, undefined);
    invariant(
      a.isr.includes(this.localBrokerId),
      () => `the leader is not in the new ISR ${a.isr}`,
    );
    this.#partitionEpoch = a.partitionEpoch;
    this.#isr = [...a.isr];
    this.#replicas = [...a.replicas];
    this.#pending = undefined;
    for (const id of a.replicas) {
      if (id !== this.localBrokerId && !this.#followers.has(id)) {
        this.#followers.set(id, newProgress(0));
      }
    }
    for (const id of this.#followers.keys()) {
      if (!a.replicas.includes(id)) this.#followers.delete(id);
    }
    return this.#effects(this.#maybeAdvanceHighWatermark(), undefined);
  }

  /** Stops leading: no HW advance, no acknowledgement, every request is refused. */
  resign(reason: string): void {
    this.#resignedBecause ??= reason;
    this.#pending = undefined;
  }

  /** Kafka's divergence check (KIP-320/KIP-595): undefined when the fetch is consistent. */
  #divergence(fetch: FollowerFetch, epochs: EpochLookup): EpochEndOffset | undefined {
    if (fetch.lastFetchedEpoch === NO_EPOCH) return undefined;
    const end = epochs.endOffsetFor(fetch.lastFetchedEpoch);
    if (end.epoch < fetch.lastFetchedEpoch || end.endOffset < fetch.fetchOffset) return end;
    return undefined;
  }

  /**
   * Kafka's `updateFollowerFetchState`: the follower is caught up as of this
   * fetch if it reached the leader's LEO, and as of its previous fetch if it
   * reached the LEO the leader had then.
   */
  #recordFetch(p: ReplicaProgress, fetchOffset: number, nowMs: number): void {
    if (fetchOffset >= this.#logEndOffset) {
      p.lastCaughtUpTimeMs = Math.max(p.lastCaughtUpTimeMs, nowMs);
    } else if (fetchOffset >= p.lastFetchLeaderLogEndOffset) {
      p.lastCaughtUpTimeMs = Math.max(p.lastCaughtUpTimeMs, p.lastFetchTimeMs);
    }
    p.logEndOffset = fetchOffset;
    p.lastFetchLeaderLogEndOffset = this.#logEndOffset;
    p.lastFetchTimeMs = nowMs;
  }

  #isCaughtUp(p: ReplicaProgress, nowMs: number): boolean {
    return p.logEndOffset === this.#logEndOffset ||
      nowMs - p.lastCaughtUpTimeMs <= this.replicaLagTimeMaxMs;
  }

  /** In the ISR, known, and below the HW: it lost acknowledged offsets. */
  #regressed(p: ReplicaProgress): boolean {
    return p.logEndOffset >= 0 && p.logEndOffset < this.#highWatermark;
  }

  #maybeExpandIsr(id: number, p: ReplicaProgress): AlterPartitionIntent | undefined {
    if (this.#pending !== undefined || this.#isr.includes(id)) return undefined;
    if (p.logEndOffset < this.#highWatermark || p.logEndOffset < this.leaderEpochStartOffset) {
      return undefined;
    }
    return this.#propose("expand", this.#replicas.filter((r) => r === id || this.#isr.includes(r)));
  }

  #maybeShrinkForRegression(): AlterPartitionIntent | undefined {
    if (this.#pending !== undefined) return undefined;
    const regressed = this.#isr.filter((id) => {
      const p = this.#followers.get(id);
      return p !== undefined && this.#regressed(p);
    });
    return this.#proposeShrink(regressed);
  }

  #proposeShrink(outOfSync: readonly number[]): AlterPartitionIntent | undefined {
    if (outOfSync.length === 0) return undefined;
    return this.#propose("shrink", this.#isr.filter((id) => !outOfSync.includes(id)));
  }

  #propose(kind: "shrink" | "expand", isr: readonly number[]): AlterPartitionIntent {
    invariant(this.#pending === undefined, () => `an AlterPartition is already in flight`);
    invariant(isr.includes(this.localBrokerId), () => `proposed ISR ${isr} lacks the leader`);
    this.#pending = {
      intentId: this.#nextIntentId++,
      kind,
      leaderId: this.localBrokerId,
      leaderEpoch: this.leaderEpoch,
      partitionEpoch: this.#partitionEpoch,
      isr,
    };
    return this.#pending;
  }

  /** Raises the HW to the maximal ISR's smallest LEO; asserts the HW invariant (pair 1 of 2). */
  #maybeAdvanceHighWatermark(): boolean {
    if (!this.isLeader) return false;
    const before = this.#highWatermark;
    const next = computeHighWatermark({
      highWatermark: before,
      leaderId: this.localBrokerId,
      leaderLogEndOffset: this.#logEndOffset,
      isr: this.maximalIsr,
      followerLogEndOffsets: this.#knownLogEndOffsets,
    });
    this.#highWatermark = next;
    const bound = this.#isrBound();
    invariant(
      next >= before && next <= this.#logEndOffset && (bound === undefined || next <= bound),
      () =>
        `HW ${next} of ${this.partition} (was ${before}) must be ≤ LEO ${this.#logEndOffset} and ≤ min ISR LEO ${bound}`,
    );
    return next > before;
  }

  /**
   * The smallest known LEO of the maximal ISR, skipping regressed members
   * (they still hold the HW back, but they broke the invariant themselves).
   */
  #isrBound(): number | undefined {
    return minIsrLogEndOffset({
      highWatermark: this.#highWatermark,
      leaderId: this.localBrokerId,
      leaderLogEndOffset: this.#logEndOffset,
      isr: this.maximalIsr,
      followerLogEndOffsets: this.#boundLogEndOffsets,
    });
  }

  /** The HW put in an answer; asserts the HW invariant (pair 2 of 2). */
  #servedHighWatermark(): number {
    const hw = this.#highWatermark;
    const bound = this.#isrBound();
    invariant(
      hw <= this.#logEndOffset && (bound === undefined || hw <= bound),
      () =>
        `served HW ${hw} of ${this.partition} exceeds LEO ${this.#logEndOffset} or ISR bound ${bound}`,
    );
    return hw;
  }

  #effects(advanced: boolean, intent: AlterPartitionIntent | undefined): LeaderEffects {
    // The common answer (nothing happened) is shared until the HW moves:
    // effects are read-only, and ticks ask for one per leader and lag check.
    if (!advanced && intent === undefined) {
      if (this.#quiet?.highWatermark !== this.#highWatermark) {
        this.#quiet = {
          highWatermark: this.#highWatermark,
          highWatermarkAdvanced: false,
          alterPartition: undefined,
        };
      }
      return this.#quiet;
    }
    return {
      highWatermark: this.#highWatermark,
      highWatermarkAdvanced: advanced,
      alterPartition: intent,
    };
  }
}

function newProgress(lastCaughtUpTimeMs: number): ReplicaProgress {
  return {
    logEndOffset: NO_EPOCH,
    lastCaughtUpTimeMs,
    lastFetchTimeMs: lastCaughtUpTimeMs,
    lastFetchLeaderLogEndOffset: NO_EPOCH,
  };
}
