/**
 * A deterministic simulation of one consumer group driving the real
 * {@link GroupCoordinator} through a seeded network and clock. Test support
 * only: `group_sim_test.ts` runs it over many seeds, `deno task sim:groups`
 * over more.
 *
 * Clients behave as the KIP-848 consumer does: one heartbeat in flight at a
 * time; they take partitions the answer assigns, give up at once what it no
 * longer lists, and report what they own; on UNKNOWN_MEMBER_ID or
 * FENCED_MEMBER_EPOCH they drop everything and rejoin; they drop everything
 * when their last acknowledged heartbeat was *sent* a session timeout ago
 * (the coordinator received it no earlier, so it cannot have expired them
 * sooner), and ignore answers that arrive that late. They consume (advance a
 * position) and commit positions of what they own, one commit in flight.
 *
 * Faults in the first phase: members join, leave (-1, or -2 for static
 * ones), crash, and restart with their static instance id; subscriptions
 * change (names and regexes); topics gain partitions or appear; messages
 * are delayed (so reordered across members) and lost; the coordinator fails
 * over, rebuilding its state from the log — whole, compacted (latest record
 * per key), or compacted with tombstones dropped — at random points; an
 * admin commits to and deletes a member-less group; offsets expire.
 *
 * Checked after every step (a failure throws with the seed and step):
 * 1. no partition is owned by two live clients;
 * 2. no partition is in two members' `assigned ∪ pendingRevocation`;
 * 3. what each live client owns is within what the coordinator credits to
 *    its member id (`assigned ∪ pendingRevocation`) — with 2 this implies 1
 *    by a route that does not trust the clients;
 * 4. member epoch ≤ assignment epoch ≤ group epoch (members not at -2);
 * 5. a committed offset never decreases while it exists, and every commit
 *    the coordinator accepts from a member covers only partitions credited
 *    to that member when it is accepted.
 * At random points and at the end: replaying the log, and replaying its
 * compaction with and without tombstones, give the live state exactly
 * (canonical text). Then a quiet phase (no faults, one common subscription)
 * must, within a bounded number of steps, reach: every partition of the
 * subscribed topics owned by exactly one live client, every member stable
 * at the assignment epoch, the group `stable`, and (uniform assignor) live
 * members' partition counts within one of each other.
 *
 * @module
 */

import { createPrng } from "@strom/raft";
import { StromError } from "@strom/client";
import type { TopicPartitions } from "./assignment.ts";
import { assignmentFromList, hasPartition, union } from "./assignment.ts";
import { GroupCoordinator } from "./coordinator.ts";
import { groupStateName } from "./describe.ts";
import { currentOf, GroupCoordinatorState } from "./group_state.ts";
import type { HeartbeatRequest, HeartbeatResponse } from "./membership.ts";
import type { OffsetCommitRequest } from "./offsets.ts";
import type { GroupRecord } from "./records.ts";
import { decodeGroupRecord, encodeGroupRecord, encodeRecordKey, recordKey } from "./records.ts";

/** Knobs of one run. */
export interface GroupSimOptions {
  readonly faultSteps: number;
  readonly quietStepsMax: number;
  readonly stepMs: number;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly networkDelayMsMax: number;
  readonly dropProbability: number;
  readonly clientsMax: number;
  /** Receives a line per event, to debug a failing seed. */
  readonly trace?: (line: string) => void;
}

/** Defaults that keep one seed at a few tens of milliseconds. */
export const GROUP_SIM_DEFAULTS: GroupSimOptions = {
  faultSteps: 300,
  quietStepsMax: 600,
  stepMs: 50,
  sessionTimeoutMs: 1_000,
  heartbeatIntervalMs: 150,
  networkDelayMsMax: 200,
  dropProbability: 0.05,
  clientsMax: 6,
};

/** What happened in one run, for the test's sanity checks. */
export interface GroupSimStats {
  joins: number;
  leaves: number;
  crashes: number;
  staticRestarts: number;
  failovers: number;
  fencedOrUnknown: number;
  acquisitions: number;
  commitsAccepted: number;
  commitsRejected: number;
  expiredMembers: number;
  quietSteps: number;
  finalMembers: number;
  records: number;
}

const GROUP = "g";
const ADMIN_GROUP = "ops";
const SUBSCRIPTIONS: readonly Pick<
  HeartbeatRequest,
  "subscribedTopicNames" | "subscribedTopicRegex"
>[] = [
  { subscribedTopicNames: ["a"] },
  { subscribedTopicNames: ["a", "b"] },
  { subscribedTopicNames: ["b", "c", "d"] },
  { subscribedTopicRegex: "a|b" },
  { subscribedTopicRegex: "[a-e]" },
];
const QUIET_SUBSCRIPTION = { subscribedTopicRegex: "[a-e]" };
const PARTITIONS_PER_TOPIC_MAX = 8;

interface Client {
  readonly slot: number;
  readonly instanceId: string | null;
  incarnation: number;
  alive: boolean;
  memberId: string;
  memberEpoch: number;
  /** Partition key → position. */
  owned: Map<string, { topic: string; partition: number; position: number }>;
  subscription: Pick<HeartbeatRequest, "subscribedTopicNames" | "subscribedTopicRegex">;
  heartbeatInFlight: { seq: number; sentMs: number } | null;
  commitInFlight: { seq: number; sentMs: number } | null;
  nextHeartbeatMs: number;
  /** Send time of the last heartbeat answered successfully. */
  lastAckSentMs: number;
  seq: number;
}

type Message =
  | {
    kind: "heartbeat";
    slot: number;
    incarnation: number;
    seq: number;
    sentMs: number;
    req: HeartbeatRequest;
  }
  | {
    kind: "heartbeatAnswer";
    slot: number;
    incarnation: number;
    seq: number;
    answer: HeartbeatResponse | StromError;
  }
  | { kind: "commit"; slot: number; incarnation: number; seq: number; req: OffsetCommitRequest }
  | { kind: "commitAnswer"; slot: number; incarnation: number; seq: number };

interface Envelope {
  readonly atMs: number;
  readonly order: number;
  readonly msg: Message;
}

/** Runs one seed; throws on a broken invariant. */
export function runGroupSim(
  seed: number,
  options: GroupSimOptions = GROUP_SIM_DEFAULTS,
): GroupSimStats {
  return new GroupSim(seed, options).run();
}

class GroupSim {
  readonly #rng;
  readonly #o: GroupSimOptions;
  readonly #log: GroupRecord[] = [];
  readonly #clients: Client[] = [];
  readonly #topics = new Map<string, number>([["a", 3], ["b", 2], ["c", 1]]);
  readonly #committed = new Map<string, number>();
  #coordinator: GroupCoordinator;
  #network: Envelope[] = [];
  #order = 0;
  #nowMs = 0;
  #step = 0;
  #nextMemberId = 0;
  #faults = true;
  readonly stats: GroupSimStats = {
    joins: 0,
    leaves: 0,
    crashes: 0,
    staticRestarts: 0,
    failovers: 0,
    fencedOrUnknown: 0,
    acquisitions: 0,
    commitsAccepted: 0,
    commitsRejected: 0,
    expiredMembers: 0,
    quietSteps: 0,
    finalMembers: 0,
    records: 0,
  };

  constructor(readonly seed: number, options: GroupSimOptions) {
    const r = createPrng(seed);
    this.#rng = { next: () => r.nextFloat(), int: (n: number) => r.nextInt(n) };
    this.#o = options;
    this.#coordinator = this.#newCoordinator(new GroupCoordinatorState());
  }

  run(): GroupSimStats {
    try {
      for (let i = 0; i < 3; i++) this.#startClient(this.#rng.next() < 0.5);
      for (; this.#step < this.#o.faultSteps; this.#step++) {
        this.#faultEvent();
        this.#tick();
      }
      this.#checkReplay();
      this.#quietPhase();
      this.#checkReplay();
    } catch (e) {
      throw new Error(
        `group sim seed ${this.seed} failed at step ${this.#step}: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
    this.stats.records = this.#log.length;
    return this.stats;
  }

  // --- the coordinator -------------------------------------------------------

  #newCoordinator(state: GroupCoordinatorState): GroupCoordinator {
    return new GroupCoordinator({
      state,
      newMemberId: () => `m${++this.#nextMemberId}`,
      config: {
        sessionTimeoutMs: this.#o.sessionTimeoutMs,
        heartbeatIntervalMs: this.#o.heartbeatIntervalMs,
        offsetsRetentionMs: 3 * this.#o.sessionTimeoutMs,
      },
    });
  }

  /** Writes an operation's records through the encoding into the log and the live state. */
  #commit(records: readonly GroupRecord[]): void {
    for (const r of records) {
      const { key, value } = encodeGroupRecord(r);
      const decoded = decodeGroupRecord(key, value);
      this.#log.push(decoded);
      this.#coordinator.replay([decoded]);
    }
  }

  #failover(): void {
    const how = this.#rng.int(3);
    const records = how === 0 ? this.#log : compact(this.#log, how === 2);
    this.#trace(
      `failover: coordinator rebuilt from ${records.length} records (${
        ["log", "compacted", "compacted, no tombstones"][how]
      })`,
    );
    this.#coordinator = this.#newCoordinator(GroupCoordinatorState.fromRecords(records));
    this.#coordinator.activate(this.#nowMs);
    this.stats.failovers++;
  }

  #checkReplay(): void {
    const live = this.#coordinator.state.canonical();
    const checks: [string, GroupRecord[]][] = [
      ["the log", this.#log],
      ["the compacted log", compact(this.#log, false)],
      ["the compacted log without tombstones", compact(this.#log, true)],
    ];
    for (const [what, records] of checks) {
      const replayed = GroupCoordinatorState.fromRecords(records).canonical();
      check(
        replayed === live,
        () => `replaying ${what} differs from the live state:\n${replayed}\nvs\n${live}`,
      );
    }
  }

  // --- phases ------------------------------------------------------------------

  #faultEvent(): void {
    const r = this.#rng.next();
    const alive = this.#clients.filter((c) => c.alive);
    const dead = this.#clients.filter((c) => !c.alive);
    if (r < 0.02 && this.#clients.length < this.#o.clientsMax) {
      this.#startClient(this.#rng.next() < 0.5);
    } else if (r < 0.035 && alive.length > 0) {
      this.#leave(alive[this.#rng.int(alive.length)]);
    } else if (r < 0.05 && alive.length > 0) {
      this.#crash(alive[this.#rng.int(alive.length)]);
    } else if (r < 0.07 && dead.length > 0) {
      this.#restart(dead[this.#rng.int(dead.length)]);
    } else if (r < 0.085 && alive.length > 0) {
      const c = alive[this.#rng.int(alive.length)];
      c.subscription = SUBSCRIPTIONS[this.#rng.int(SUBSCRIPTIONS.length)];
      this.#trace(`client ${c.slot} subscribes to ${JSON.stringify(c.subscription)}`);
    } else if (r < 0.095) {
      this.#changeTopics();
    } else if (r < 0.105) {
      this.#failover();
    } else if (r < 0.115) {
      this.#adminCommit();
    } else if (r < 0.12) {
      this.#adminDelete();
    } else if (r < 0.13) {
      this.#checkReplay();
    }
  }

  #quietPhase(): void {
    this.#faults = false;
    // Messages already in flight arrive promptly now.
    for (const e of this.#network) {
      (e as { atMs: number }).atMs = Math.min(e.atMs, this.#nowMs + this.#o.stepMs);
    }
    if (!this.#clients.some((c) => c.alive)) this.#startClient(false);
    for (const c of this.#clients) c.subscription = QUIET_SUBSCRIPTION;
    for (let i = 0; i < this.#o.quietStepsMax; i++, this.#step++) {
      this.#tick();
      this.stats.quietSteps++;
      if (this.#converged()) {
        this.#checkBalanced();
        this.stats.finalMembers = this.#coordinator.state.groups.get(GROUP)?.members.size ?? 0;
        return;
      }
    }
    throw new Error(
      `no convergence within ${this.#o.quietStepsMax} quiet steps: ${this.#describe()}`,
    );
  }

  #converged(): boolean {
    const g = this.#coordinator.state.groups.get(GROUP);
    if (!g || groupStateName(g) !== "stable") return false;
    const alive = this.#clients.filter((c) => c.alive);
    if (g.members.size !== alive.length) return false;
    const owners = new Map<string, number>();
    for (const c of alive) {
      const m = g.members.get(c.memberId);
      if (!m || m.subscribedTopicRegex !== QUIET_SUBSCRIPTION.subscribedTopicRegex) return false;
      if (c.memberEpoch !== g.assignmentEpoch) return false;
      for (const k of c.owned.keys()) owners.set(k, (owners.get(k) ?? 0) + 1);
    }
    for (const [topic, n] of this.#topics) {
      for (let p = 0; p < n; p++) if (owners.get(`${topic}-${p}`) !== 1) return false;
    }
    return true;
  }

  #checkBalanced(): void {
    const counts = this.#clients.filter((c) => c.alive).map((c) => c.owned.size);
    check(
      Math.max(...counts) - Math.min(...counts) <= 1,
      () => `uniform assignment is unbalanced after the quiet phase: ${counts}`,
    );
  }

  // --- time --------------------------------------------------------------------

  #tick(): void {
    this.#nowMs += this.#o.stepMs;
    const due = this.#network.filter((e) => e.atMs <= this.#nowMs).sort((a, b) =>
      a.atMs - b.atMs || a.order - b.order
    );
    this.#network = this.#network.filter((e) => e.atMs > this.#nowMs);
    for (const e of due) this.#deliver(e.msg);
    for (const c of this.#clients) if (c.alive) this.#clientStep(c);
    const expired = this.#coordinator.expireMembers(this.#nowMs);
    this.#commit(expired.records);
    this.stats.expiredMembers += expired.response.length;
    for (const e of expired.response) {
      this.#trace(`coordinator expires ${e.memberId} (${e.reason})`);
    }
    if (this.#step % 20 === 0) this.#commit(this.#coordinator.expireOffsets(this.#nowMs).records);
    this.#checkInvariants();
  }

  #send(msg: Message): void {
    if (this.#faults && this.#rng.next() < this.#o.dropProbability) {
      this.#trace(`network drops ${msg.kind} of client ${msg.slot}`);
      return;
    }
    const delay = this.#faults
      ? this.#rng.int(this.#o.networkDelayMsMax + 1)
      : this.#rng.int(this.#o.stepMs);
    this.#network.push({ atMs: this.#nowMs + delay, order: this.#order++, msg });
  }

  // --- clients -------------------------------------------------------------------

  #startClient(isStatic: boolean): void {
    const slot = this.#clients.length;
    const c: Client = {
      slot,
      instanceId: isStatic ? `i${slot}` : null,
      incarnation: 0,
      alive: true,
      memberId: "",
      memberEpoch: 0,
      owned: new Map(),
      subscription: SUBSCRIPTIONS[this.#rng.int(SUBSCRIPTIONS.length)],
      heartbeatInFlight: null,
      commitInFlight: null,
      nextHeartbeatMs: this.#nowMs,
      lastAckSentMs: this.#nowMs,
      seq: 0,
    };
    this.#clients.push(c);
    this.stats.joins++;
    this.#trace(`client ${slot} starts${isStatic ? ` (static ${c.instanceId})` : ""}`);
  }

  #crash(c: Client): void {
    c.alive = false;
    c.owned.clear();
    this.stats.crashes++;
    this.#trace(`client ${c.slot} crashes`);
  }

  #leave(c: Client): void {
    c.owned.clear();
    c.alive = false;
    this.stats.leaves++;
    if (c.memberId !== "" && c.memberEpoch > 0) {
      const epoch = c.instanceId !== null && this.#rng.next() < 0.7 ? -2 : -1;
      this.#trace(`client ${c.slot} leaves with epoch ${epoch}`);
      this.#send({
        kind: "heartbeat",
        slot: c.slot,
        incarnation: c.incarnation,
        seq: ++c.seq,
        sentMs: this.#nowMs,
        req: { groupId: GROUP, memberId: c.memberId, memberEpoch: epoch },
      });
    }
  }

  #restart(c: Client): void {
    // A new process: static members keep their instance id, dynamic ones are new members.
    c.incarnation++;
    c.alive = true;
    c.memberId = "";
    c.memberEpoch = 0;
    c.owned.clear();
    c.heartbeatInFlight = null;
    c.commitInFlight = null;
    c.nextHeartbeatMs = this.#nowMs;
    c.lastAckSentMs = this.#nowMs;
    if (c.instanceId !== null) this.stats.staticRestarts++;
    this.#trace(`client ${c.slot} restarts`);
  }

  #clientStep(c: Client): void {
    const o = this.#o;
    if (
      c.heartbeatInFlight &&
      this.#nowMs >= c.heartbeatInFlight.sentMs + 2 * o.networkDelayMsMax + o.stepMs
    ) {
      c.heartbeatInFlight = null; // timed out: both request and answer are gone by now
    }
    if (
      c.commitInFlight &&
      this.#nowMs >= c.commitInFlight.sentMs + 2 * o.networkDelayMsMax + o.stepMs
    ) {
      c.commitInFlight = null;
    }
    if (c.memberEpoch > 0 && this.#nowMs >= c.lastAckSentMs + o.sessionTimeoutMs) {
      this.#trace(
        `client ${c.slot} lost its session: drops ${c.owned.size} partitions and rejoins`,
      );
      c.owned.clear();
      c.memberEpoch = 0;
      c.heartbeatInFlight = null; // its answer, if any, is no longer trusted
    }
    for (const p of c.owned.values()) p.position += this.#rng.int(3);
    if (!c.heartbeatInFlight && this.#nowMs >= c.nextHeartbeatMs) {
      const seq = ++c.seq;
      c.heartbeatInFlight = { seq, sentMs: this.#nowMs };
      this.#send({
        kind: "heartbeat",
        slot: c.slot,
        incarnation: c.incarnation,
        seq,
        sentMs: this.#nowMs,
        req: {
          groupId: GROUP,
          memberId: c.memberId,
          memberEpoch: c.memberEpoch,
          instanceId: c.instanceId,
          ...c.subscription,
          ...(c.subscription.subscribedTopicNames
            ? { subscribedTopicRegex: null }
            : { subscribedTopicNames: null }),
          ownedPartitions: ownedList(c),
        },
      });
    }
    if (!c.commitInFlight && c.memberEpoch > 0 && c.owned.size > 0 && this.#rng.next() < 0.2) {
      const seq = ++c.seq;
      c.commitInFlight = { seq, sentMs: this.#nowMs };
      this.#send({
        kind: "commit",
        slot: c.slot,
        incarnation: c.incarnation,
        seq,
        req: {
          groupId: GROUP,
          memberId: c.memberId,
          memberEpoch: c.memberEpoch,
          offsets: [...c.owned.values()].map((p) => ({
            topic: p.topic,
            partition: p.partition,
            offset: p.position,
          })),
        },
      });
    }
  }

  #deliver(msg: Message): void {
    switch (msg.kind) {
      case "heartbeat":
        return this.#coordinatorHeartbeat(msg);
      case "commit":
        return this.#coordinatorCommit(msg);
      case "heartbeatAnswer":
        return this.#clientHeartbeatAnswer(msg);
      case "commitAnswer": {
        const c = this.#clients[msg.slot];
        if (c.incarnation === msg.incarnation && c.commitInFlight?.seq === msg.seq) {
          c.commitInFlight = null;
        }
        return;
      }
    }
  }

  #coordinatorHeartbeat(msg: Extract<Message, { kind: "heartbeat" }>): void {
    let answer: HeartbeatResponse | StromError;
    try {
      const result = this.#coordinator.heartbeat(msg.req, {
        nowMs: this.#nowMs,
        topics: this.#topics,
      });
      this.#commit(result.records);
      answer = result.response;
      this.#trace(
        `coordinator: heartbeat of ${msg.req.memberId || "(new)"}@${msg.req.memberEpoch} owning ${
          JSON.stringify(msg.req.ownedPartitions ?? null)
        } -> ${answer.memberId}@${answer.memberEpoch} ${JSON.stringify(answer.assignment)}`,
      );
    } catch (e) {
      if (
        !(e instanceof StromError) || !["UNKNOWN_MEMBER_ID", "FENCED_MEMBER_EPOCH"].includes(e.code)
      ) throw e;
      answer = e;
    }
    if (msg.req.memberEpoch >= 0) {
      this.#send({
        kind: "heartbeatAnswer",
        slot: msg.slot,
        incarnation: msg.incarnation,
        seq: msg.seq,
        answer,
      });
    }
  }

  #coordinatorCommit(msg: Extract<Message, { kind: "commit" }>): void {
    try {
      const result = this.#coordinator.commitOffsets(msg.req, this.#nowMs);
      const g = this.#coordinator.state.groups.get(GROUP)!;
      const c = currentOf(g, msg.req.memberId!);
      const credit = union(c.assigned, c.pendingRevocation);
      for (const o of msg.req.offsets) {
        check(
          hasPartition(credit, o.topic, o.partition),
          () =>
            `commit of ${o.topic}-${o.partition} accepted from ${msg.req.memberId}, which is not credited with it`,
        );
      }
      this.#commit(result.records);
      this.stats.commitsAccepted++;
      this.#trace(
        `coordinator: commit of ${msg.req.memberId}@${msg.req.memberEpoch} accepted: ${
          JSON.stringify(msg.req.offsets)
        }`,
      );
    } catch (e) {
      if (
        !(e instanceof StromError) || !["UNKNOWN_MEMBER_ID", "STALE_MEMBER_EPOCH"].includes(e.code)
      ) throw e;
      this.stats.commitsRejected++;
    }
    this.#send({
      kind: "commitAnswer",
      slot: msg.slot,
      incarnation: msg.incarnation,
      seq: msg.seq,
    });
  }

  #clientHeartbeatAnswer(msg: Extract<Message, { kind: "heartbeatAnswer" }>): void {
    const c = this.#clients[msg.slot];
    const inFlight = c.heartbeatInFlight;
    if (!c.alive || c.incarnation !== msg.incarnation || inFlight?.seq !== msg.seq) return;
    c.heartbeatInFlight = null;
    if (this.#nowMs >= inFlight.sentMs + this.#o.sessionTimeoutMs) return; // too late to trust
    const a = msg.answer;
    if (a instanceof StromError) {
      this.stats.fencedOrUnknown++;
      this.#trace(`client ${c.slot} gets ${a.code}: drops ${c.owned.size} partitions and rejoins`);
      c.owned.clear();
      c.memberEpoch = 0;
      c.nextHeartbeatMs = this.#nowMs;
      return;
    }
    c.memberId = a.memberId;
    c.memberEpoch = a.memberEpoch;
    c.lastAckSentMs = inFlight.sentMs;
    const target = assignmentFromList(a.assignment);
    let revoked = false;
    for (const [k, p] of c.owned) {
      if (!hasPartition(target, p.topic, p.partition)) {
        c.owned.delete(k);
        revoked = true;
      }
    }
    for (const [topic, ps] of target) {
      for (const partition of ps) {
        const k = `${topic}-${partition}`;
        if (c.owned.has(k)) continue;
        // As a consumer fetching its committed offset before it starts.
        const [committed] = this.#coordinator.fetchOffsets(GROUP, [{
          topic,
          partitions: [partition],
        }]);
        c.owned.set(k, { topic, partition, position: Math.max(committed.offset, 0) });
        this.stats.acquisitions++;
      }
    }
    // Acknowledge a revocation at once; otherwise wait for the interval.
    c.nextHeartbeatMs = revoked ? this.#nowMs : this.#nowMs + a.heartbeatIntervalMs;
    this.#trace(
      `client ${c.slot} (${c.memberId}@${c.memberEpoch}) owns ${[...c.owned.keys()].join(",")}`,
    );
  }

  // --- other events ---------------------------------------------------------------

  #changeTopics(): void {
    const names = [...this.#topics.keys()];
    if (this.#rng.next() < 0.3 && this.#topics.size < 5) {
      const name = ["d", "e"].find((t) => !this.#topics.has(t))!;
      this.#topics.set(name, 1 + this.#rng.int(3));
      this.#trace(`topic ${name} created`);
    } else {
      const t = names[this.#rng.int(names.length)];
      const n = this.#topics.get(t)!;
      if (n < PARTITIONS_PER_TOPIC_MAX) this.#topics.set(t, n + 1);
      this.#trace(`topic ${t} has ${this.#topics.get(t)} partitions`);
    }
  }

  #adminCommit(): void {
    const result = this.#coordinator.commitOffsets({
      groupId: ADMIN_GROUP,
      offsets: [{ topic: "a", partition: this.#rng.int(3), offset: this.#rng.int(100) }],
    }, this.#nowMs);
    this.#commit(result.records);
  }

  #adminDelete(): void {
    if (!this.#coordinator.state.groups.has(ADMIN_GROUP)) return;
    this.#commit(this.#coordinator.deleteGroup(ADMIN_GROUP).records);
  }

  // --- invariants ---------------------------------------------------------------------

  #checkInvariants(): void {
    const g = this.#coordinator.state.groups.get(GROUP);
    // 1. Clients.
    const owners = new Map<string, number>();
    for (const c of this.#clients) {
      if (!c.alive) continue;
      for (const k of c.owned.keys()) {
        check(!owners.has(k), () => `${k} is owned by clients ${owners.get(k)} and ${c.slot}`);
        owners.set(k, c.slot);
      }
    }
    // 2. Coordinator.
    const held = new Map<string, string>();
    for (const [id, cur] of g?.current ?? []) {
      for (const a of [cur.assigned, cur.pendingRevocation]) {
        for (const [topic, ps] of a) {
          for (const p of ps) {
            const k = `${topic}-${p}`;
            check(!held.has(k), () => `${k} is held by members ${held.get(k)} and ${id}`);
            held.set(k, id);
          }
        }
      }
    }
    // 3. Clients own only what they are credited with.
    for (const c of this.#clients) {
      if (!c.alive || c.owned.size === 0) continue;
      for (const k of c.owned.keys()) {
        check(
          held.get(k) === c.memberId,
          () => `client ${c.slot} (${c.memberId}) owns ${k}, credited to ${held.get(k)}`,
        );
      }
    }
    // 4. Epochs.
    if (g) {
      check(
        g.assignmentEpoch <= g.epoch,
        () => `assignment epoch ${g.assignmentEpoch} > group epoch ${g.epoch}`,
      );
      for (const id of g.members.keys()) {
        const e = currentOf(g, id).memberEpoch;
        check(
          e === -2 || e <= g.assignmentEpoch,
          () => `member ${id} epoch ${e} > assignment epoch ${g.assignmentEpoch}`,
        );
      }
    }
    // 5. Committed offsets never go back.
    const now = new Map<string, number>();
    for (const o of g?.offsets.values() ?? []) {
      const k = `${o.topic}-${o.partition}`;
      const before = this.#committed.get(k);
      check(
        before === undefined || o.offset >= before,
        () => `committed offset of ${k} went from ${before} to ${o.offset}`,
      );
      now.set(k, o.offset);
    }
    this.#committed.clear();
    for (const [k, v] of now) this.#committed.set(k, v);
  }

  #describe(): string {
    const g = this.#coordinator.state.groups.get(GROUP);
    return JSON.stringify({
      state: groupStateName(g),
      epoch: g?.epoch,
      assignmentEpoch: g?.assignmentEpoch,
      members: g
        ? [...g.members.keys()].map((id) => ({
          id,
          ...currentOf(g, id),
          assigned: [...currentOf(g, id).assigned],
          target: [...(g.targets.get(id) ?? [])],
        }))
        : [],
      clients: this.#clients.map((c) => ({
        slot: c.slot,
        alive: c.alive,
        id: c.memberId,
        epoch: c.memberEpoch,
        owned: [...c.owned.keys()],
      })),
      topics: [...this.#topics],
    });
  }

  #trace(line: string): void {
    this.#o.trace?.(`[${this.#step} t=${this.#nowMs}] ${line}`);
  }
}

function ownedList(c: Client): TopicPartitions[] {
  return [
    ...assignmentFromList(
      [...c.owned.values()].map((p) => ({ topic: p.topic, partitions: [p.partition] })),
    ),
  ]
    .map(([topic, partitions]) => ({ topic, partitions }));
}

/** What log compaction keeps: the latest record of each key, optionally without tombstones. */
export function compact(log: readonly GroupRecord[], dropTombstones: boolean): GroupRecord[] {
  const keyOf = (r: GroupRecord) => new TextDecoder().decode(encodeRecordKey(recordKey(r)));
  const last = new Map<string, number>();
  log.forEach((r, i) => last.set(keyOf(r), i));
  return log.filter((r, i) =>
    last.get(keyOf(r)) === i && !(dropTombstones && r.type === "Tombstone")
  );
}

function check(condition: boolean, message: () => string): asserts condition {
  if (!condition) throw new Error(`invariant violated: ${message()}`);
}
