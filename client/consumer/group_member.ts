/**
 * The group side of a consumer (KIP-848, server-side assignment): a
 * heartbeat loop that reports the partitions the consumer owns and receives
 * the ones it may own; it gives up what the coordinator takes away first
 * (stops fetching, waits for deliveries in flight, commits, calls
 * `onPartitionsRevoked`, and only then reports them gone), then takes what
 * it was given (committed offset, else `autoOffsetReset`), calling
 * `onPartitionsAssigned`. Offsets are committed one request at a time,
 * at the member's epoch, and only for partitions it holds.
 *
 * @module
 */

import type { Connection } from "../connection/connection.ts";
import { StromError } from "../errors.ts";

/** A topic partition. */
export interface GroupTopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/** An offset to commit: the next offset to consume. */
export interface OffsetToCommit extends GroupTopicPartition {
  readonly offset: number;
}

/** Group settings of a consumer. */
export interface GroupMemberOptions {
  readonly groupId: string;
  /** Static membership: a member restarted with the same id within the session keeps its partitions. */
  readonly instanceId?: string;
  /** Should match the brokers' group session timeout (default 10 s): past it without an answered heartbeat, the member drops its partitions. */
  readonly sessionTimeoutMs?: number;
  /** How long the member may take to give partitions up (default 60 s). */
  readonly rebalanceTimeoutMs?: number;
  /** Commit delivered offsets periodically (default true). */
  readonly autoCommit?: boolean;
  /** Period of auto-commit (default 5 s, Kafka's auto.commit.interval.ms). */
  readonly autoCommitIntervalMs?: number;
  /** Called with partitions the member now owns, after their positions are set. */
  readonly onPartitionsAssigned?: (partitions: GroupTopicPartition[]) => void | Promise<void>;
  /** Called with partitions the member gives up (or lost), after their deliveries finished. */
  readonly onPartitionsRevoked?: (partitions: GroupTopicPartition[]) => void | Promise<void>;
  /**
   * Called after the coordinator accepted a commit (auto-commit, `commit()`,
   * or the commit on revocation and close), with the offsets it stored. For
   * logs and metrics; what it throws is ignored, since the commit happened.
   */
  readonly onOffsetsCommitted?: (offsets: OffsetToCommit[]) => void;
}

/** What the member needs from its consumer. */
export interface GroupMemberHost {
  /** Fetch exactly these partitions; new ones start at the given offset (undefined: autoOffsetReset). */
  setPartitions(partitions: readonly (GroupTopicPartition & { offset?: number })[]): void;
  /** Resolves once no delivery of these partitions is in flight (bounded by `timeoutMs`). */
  waitDelivered(partitions: readonly GroupTopicPartition[], timeoutMs: number): Promise<void>;
  /** Offsets after what the application finished with (`completed`) or was handed (`delivered`). */
  offsets(which: "completed" | "delivered"): OffsetToCommit[];
}

/** Defaults of group mode. */
export const GROUP_DEFAULTS = {
  sessionTimeoutMs: 10_000,
  rebalanceTimeoutMs: 60_000,
  autoCommitIntervalMs: 5_000,
  /** Heartbeat interval until the coordinator says otherwise. */
  heartbeatIntervalMs: 1_000,
  /** Deadline of one heartbeat call, retries included (coordinator failover fits in it). */
  heartbeatCallTimeoutMs: 5_000,
  /** Backoff after a failed heartbeat. */
  retryBackoffMs: 200,
} as const;

/** Kafka's member epochs: join, leave, and a static member's temporary leave. */
const JOIN_EPOCH = 0;
const LEAVE_EPOCH = -1;
const STATIC_LEAVE_EPOCH = -2;

/**
 * One consumer's membership of a group. Created by `Consumer.subscribe`.
 *
 * @example
 * ```ts ignore
 * import { Strom } from "@strom/client";
 * const strom = new Strom({ brokers: "http://127.0.0.1:9092" });
 * const consumer = strom.consumer({ groupId: "billing", autoOffsetReset: "earliest" });
 * consumer.subscribe(["orders"]);
 * for await (const record of consumer) console.log(record.partition, record.offset);
 * ```
 */
export class GroupMember {
  readonly groupId: string;
  readonly #conn: Connection;
  readonly #host: GroupMemberHost;
  readonly #options: GroupMemberOptions;
  #subscription: readonly string[] | RegExp;
  #subscriptionChanged = true;
  #memberId = "";
  #memberEpoch = JOIN_EPOCH;
  #heartbeatIntervalMs: number = GROUP_DEFAULTS.heartbeatIntervalMs;
  /** Partitions owned now, by `topic\0partition`. */
  readonly #owned = new Map<string, GroupTopicPartition>();
  #lastAnsweredSentMs = Date.now();
  #stopped = false;
  #loop: Promise<void> | undefined;
  /** Ends the current pause between heartbeats early (stop, subscription change). */
  #wakePause: (() => void) | undefined;
  /** The commit in flight (one at a time). */
  #committing: Promise<void> = Promise.resolve();
  #lastCommitted = new Map<string, number>();
  #autoCommitTimer: ReturnType<typeof setInterval> | undefined;

  constructor(
    conn: Connection,
    host: GroupMemberHost,
    options: GroupMemberOptions,
    subscription: readonly string[] | RegExp,
  ) {
    if (typeof options.groupId !== "string" || options.groupId.length === 0) {
      throw new StromError("INVALID_CONFIG", "groupId must be a non-empty string");
    }
    this.groupId = options.groupId;
    this.#conn = conn;
    this.#host = host;
    this.#options = options;
    this.#subscription = subscription;
  }

  /** The member id the coordinator gave (empty before the first answer). */
  get memberId(): string {
    return this.#memberId;
  }

  /** The member epoch (0 before joining). */
  get memberEpoch(): number {
    return this.#memberEpoch;
  }

  /** Partitions owned now. */
  owned(): GroupTopicPartition[] {
    return [...this.#owned.values()];
  }

  /** Starts heartbeating (and auto-committing). */
  start(): void {
    this.#loop ??= this.#run();
    if (this.#options.autoCommit ?? true) {
      const every = this.#options.autoCommitIntervalMs ?? GROUP_DEFAULTS.autoCommitIntervalMs;
      this.#autoCommitTimer = setInterval(() => {
        this.commit("completed").catch(() => {/* retried at the next interval */});
      }, every);
    }
  }

  /** Changes the subscription; the next heartbeat carries it. */
  resubscribe(subscription: readonly string[] | RegExp): void {
    this.#subscription = subscription;
    this.#subscriptionChanged = true;
    this.#wakePause?.();
  }

  /**
   * Commits offsets of owned partitions: the given ones, or what was
   * delivered (or completed) since the last commit. One commit at a time.
   */
  commit(which: "completed" | "delivered" | readonly OffsetToCommit[]): Promise<void> {
    const run = this.#committing.catch(() => {}).then(() => this.#commitNow(which));
    this.#committing = run;
    return run;
  }

  /**
   * Leaves the group: stops heartbeating, commits what was delivered (with
   * auto-commit), gives every partition up and tells the coordinator.
   */
  async close(): Promise<void> {
    if (this.#stopped) return;
    clearInterval(this.#autoCommitTimer);
    if ((this.#options.autoCommit ?? true) && this.#memberEpoch > 0) {
      await this.commit("delivered").catch(() => {});
    }
    this.#stopped = true;
    this.#wakePause?.();
    await this.#loop?.catch(() => {});
    await this.#revoke([...this.#owned.values()], false);
    if (this.#memberId !== "" && this.#memberEpoch > 0) {
      const epoch = this.#options.instanceId ? STATIC_LEAVE_EPOCH : LEAVE_EPOCH;
      await this.#heartbeatCall(epoch).catch(() => {/* it expires after the session timeout */});
    }
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      let changed = false;
      const sentMs = Date.now();
      try {
        const answer = await this.#heartbeatCall(this.#memberEpoch);
        if (this.#stopped) return;
        this.#lastAnsweredSentMs = sentMs;
        this.#memberId = answer.memberId;
        this.#memberEpoch = answer.memberEpoch;
        this.#heartbeatIntervalMs = answer.heartbeatIntervalMs;
        this.#subscriptionChanged = false;
        changed = await this.#reconcile(answer.assignment);
      } catch (e) {
        if (this.#stopped) return;
        const code = e instanceof StromError ? e.code : "";
        if (code === "UNKNOWN_MEMBER_ID" || code === "FENCED_MEMBER_EPOCH") {
          // The coordinator no longer knows us at this epoch: drop everything, rejoin.
          await this.#revoke([...this.#owned.values()], true);
          if (code === "UNKNOWN_MEMBER_ID") this.#memberId = "";
          this.#memberEpoch = JOIN_EPOCH;
          changed = true;
        } else if (e instanceof StromError && !e.retriable && code !== "NETWORK_EXCEPTION") {
          // A request the coordinator will never accept (bad subscription, ...): keep trying slowly.
          await this.#pause(this.#heartbeatIntervalMs * 5);
        } else {
          const sessionMs = this.#options.sessionTimeoutMs ?? GROUP_DEFAULTS.sessionTimeoutMs;
          if (Date.now() - this.#lastAnsweredSentMs > sessionMs && this.#owned.size > 0) {
            // The coordinator has surely expired us: someone else may own these now.
            await this.#revoke([...this.#owned.values()], true);
            this.#memberEpoch = JOIN_EPOCH;
          }
          await this.#pause(GROUP_DEFAULTS.retryBackoffMs);
        }
      }
      if (!changed && !this.#stopped) await this.#pause(this.#heartbeatIntervalMs);
    }
  }

  /** Gives up what the answer no longer lists, then takes what is new. True if anything changed. */
  async #reconcile(
    assignment: readonly { topic: string; partitions: readonly number[] }[],
  ): Promise<boolean> {
    const target = new Map<string, GroupTopicPartition>();
    for (const tp of assignment) {
      for (const partition of tp.partitions) {
        target.set(key(tp.topic, partition), { topic: tp.topic, partition });
      }
    }
    const revoked = [...this.#owned].filter(([k]) => !target.has(k)).map(([, tp]) => tp);
    if (revoked.length > 0) {
      await this.#revoke(revoked, false);
      // Report the revocation at once; new partitions come in a later answer.
      return true;
    }
    const added = [...target].filter(([k]) => !this.#owned.has(k)).map(([, tp]) => tp);
    if (added.length === 0) return false;
    const committed = await this.#fetchCommitted();
    for (const tp of added) this.#owned.set(key(tp.topic, tp.partition), tp);
    this.#host.setPartitions([...this.#owned.values()].map((tp) => {
      const offset = committed.get(key(tp.topic, tp.partition));
      return offset === undefined || offset < 0 ? tp : { ...tp, offset };
    }));
    await this.#options.onPartitionsAssigned?.(added);
    return true;
  }

  /** Stops fetching `partitions`, waits for their deliveries, commits (unless lost), calls back. */
  async #revoke(partitions: readonly GroupTopicPartition[], lost: boolean): Promise<void> {
    if (partitions.length === 0) return;
    const gone = new Set(partitions.map((tp) => key(tp.topic, tp.partition)));
    const rebalanceMs = this.#options.rebalanceTimeoutMs ?? GROUP_DEFAULTS.rebalanceTimeoutMs;
    await this.#host.waitDelivered(partitions, rebalanceMs);
    if (!lost && (this.#options.autoCommit ?? true)) {
      const mine = this.#host.offsets("delivered").filter((o) =>
        gone.has(key(o.topic, o.partition))
      );
      await this.commit(mine).catch(() => {/* the next owner re-reads from the last commit */});
    }
    for (const k of gone) {
      this.#owned.delete(k);
      this.#lastCommitted.delete(k);
    }
    this.#host.setPartitions([...this.#owned.values()]);
    await this.#options.onPartitionsRevoked?.([...partitions]);
  }

  async #commitNow(which: "completed" | "delivered" | readonly OffsetToCommit[]): Promise<void> {
    const all = typeof which === "string" ? this.#host.offsets(which) : which;
    const offsets = all.filter((o) => {
      const k = key(o.topic, o.partition);
      return this.#owned.has(k) && this.#lastCommitted.get(k) !== o.offset;
    });
    if (offsets.length === 0 || this.#memberEpoch <= 0) return;
    await this.#conn.anyBroker({
      method: "POST",
      path: `/v1/groups/${encodeURIComponent(this.groupId)}/offsets`,
      body: { memberId: this.#memberId, memberEpoch: this.#memberEpoch, offsets },
    }, { timeoutMs: GROUP_DEFAULTS.heartbeatCallTimeoutMs * 2 });
    for (const o of offsets) this.#lastCommitted.set(key(o.topic, o.partition), o.offset);
    try {
      this.#options.onOffsetsCommitted?.(offsets.map((o) => ({ ...o })));
    } catch {
      // An observer's failure must not make a stored commit look failed.
    }
  }

  async #fetchCommitted(): Promise<Map<string, number>> {
    const answer = await this.#conn.anyBroker<{ offsets: OffsetToCommit[] }>({
      path: `/v1/groups/${encodeURIComponent(this.groupId)}/offsets`,
    }, { timeoutMs: GROUP_DEFAULTS.heartbeatCallTimeoutMs * 2 });
    return new Map(answer.offsets.map((o) => [key(o.topic, o.partition), o.offset]));
  }

  #heartbeatCall(memberEpoch: number): Promise<HeartbeatAnswer> {
    const owned = new Map<string, number[]>();
    for (const tp of this.#owned.values()) {
      owned.set(tp.topic, [...owned.get(tp.topic) ?? [], tp.partition]);
    }
    const joining = memberEpoch === JOIN_EPOCH;
    const sub = this.#subscription;
    return this.#conn.anyBroker<HeartbeatAnswer>({
      method: "POST",
      path: `/v1/groups/${encodeURIComponent(this.groupId)}/heartbeat`,
      body: {
        memberId: this.#memberId,
        memberEpoch,
        ...(this.#options.instanceId ? { instanceId: this.#options.instanceId } : {}),
        ...(joining || this.#subscriptionChanged
          ? {
            rebalanceTimeoutMs: this.#options.rebalanceTimeoutMs ??
              GROUP_DEFAULTS.rebalanceTimeoutMs,
            ...(sub instanceof RegExp
              ? { subscribedTopicRegex: sub.source }
              : { subscribedTopicNames: [...sub] }),
          }
          : {}),
        ownedPartitions: [...owned].map(([topic, partitions]) => ({ topic, partitions })),
      },
    }, { timeoutMs: GROUP_DEFAULTS.heartbeatCallTimeoutMs });
  }

  #pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wakePause = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wakePause = done;
    });
  }
}

interface HeartbeatAnswer {
  readonly memberId: string;
  readonly memberEpoch: number;
  readonly heartbeatIntervalMs: number;
  readonly assignment: { topic: string; partitions: number[] }[];
}

function key(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}
