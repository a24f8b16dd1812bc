/**
 * A deterministic simulation of one partition replicated on three brokers,
 * driving the real cores (leader, follower, purgatories) through an
 * in-memory network with a seeded PRNG, a fake controller and a simulated
 * clock. Test support only; `replication_sim_test.ts` runs it over many seeds.
 *
 * Each broker's log is an array of `{epoch, id}` (one record per offset) with
 * the real `LeaderEpochCache` of broker/storage beside it. The network delays
 * and drops messages (metadata is delayed but never lost, and stays in order
 * per broker, as a replayed metadata log would); brokers pause (messages to
 * them wait); the controller moves leadership to another ISR member, either
 * fencing the old leader out of the ISR or not, and answers AlterPartition as
 * a compare-and-set, as `QuorumController.alterPartition` does.
 *
 * Checked after every step (a failure throws with the seed and step):
 * - a leader's HW never decreases within its epoch;
 * - a leader's HW ≤ the true LEO of every member of its maximal ISR;
 * - below its HW, every replica's log equals the committed log (the longest
 *   prefix any HW ever covered), so consumers never see two histories;
 * - every acks=all acknowledgement lies in the committed log, no offset is
 *   acknowledged with two different records, and a replica that becomes
 *   leader holds every acknowledged record;
 * - after a quiet phase (no faults, no produce, no elections) all logs are
 *   equal, every HW equals the LEO, the ISR is full and no request waits.
 *
 * @module
 */

import { createPrng } from "@strom/raft";
import { StromError } from "@strom/client";
import { LeaderEpochCache } from "../storage/leader_epoch_cache.ts";
import { FetchPurgatory } from "./fetch_purgatory.ts";
import type { FollowerFetchRequest, FollowerFetchResponse } from "./follower_state.ts";
import { PartitionFollower } from "./follower_state.ts";
import type {
  AlterPartitionAnswer,
  AlterPartitionIntent,
  LeaderEffects,
  PartitionAssignment,
} from "./leader_state.ts";
import { PartitionLeader } from "./leader_state.ts";
import type { ProduceCompletion } from "./produce_purgatory.ts";
import { ProducePurgatory } from "./produce_purgatory.ts";

/** Knobs of one run. */
export interface SimOptions {
  readonly faultSteps: number;
  readonly quietStepsMax: number;
  readonly stepMs: number;
  readonly replicaLagTimeMaxMs: number;
  readonly minInsyncReplicas: number;
  /** Receives a line per event, to debug a failing seed. */
  readonly trace?: (line: string) => void;
}

/** Defaults that keep one seed around a few milliseconds. */
export const SIM_DEFAULTS: SimOptions = {
  faultSteps: 600,
  quietStepsMax: 3_000,
  stepMs: 5,
  replicaLagTimeMaxMs: 300,
  minInsyncReplicas: 2,
};

/** What happened in one run, for the test's sanity checks. */
export interface SimStats {
  steps: number;
  produced: number;
  acked: number;
  rejected: number;
  timedOut: number;
  elections: number;
  truncations: number;
  isrShrinks: number;
  isrExpands: number;
  finalLogEndOffset: number;
}

const BROKERS = [0, 1, 2] as const;
const FETCH_RECORDS_MAX = 5;
const FETCH_WAIT_MS = 100;
const FETCH_TIMEOUT_MS = 400;
const ALTER_RESEND_MS = 300;
const PRODUCE_TIMEOUT_MS = 1_000;

interface Rec {
  readonly epoch: number;
  readonly id: number;
}

type Message =
  | { kind: "fetch"; to: number; req: FollowerFetchRequest }
  | {
    kind: "fetchAnswer";
    to: number;
    req: FollowerFetchRequest;
    response: FollowerFetchResponse;
    records: Rec[];
  }
  | { kind: "alter"; to: -1; intent: AlterPartitionIntent }
  | { kind: "alterAnswer"; to: number; intent: AlterPartitionIntent; answer: AlterPartitionAnswer }
  | { kind: "metadata"; to: number; assignment: PartitionAssignment };

interface Envelope {
  readonly at: number;
  readonly seq: number;
  readonly msg: Message;
}

interface LeaderRole {
  kind: "leader";
  core: PartitionLeader;
  produce: ProducePurgatory;
  fetches: FetchPurgatory;
  waitingFetches: Map<number, FollowerFetchRequest>;
  alterSentMs: number;
}

interface FollowerRole {
  kind: "follower";
  core: PartitionFollower;
  sentMs: number;
  nextFetchMs: number;
}

interface Node {
  readonly id: number;
  readonly log: Rec[];
  readonly epochs: LeaderEpochCache;
  role: LeaderRole | FollowerRole;
  pausedUntilMs: number;
  /** Offsets below this were checked against the committed log. */
  verifiedUpTo: number;
  /** Of the last metadata applied. */
  partitionEpoch: number;
}

/** The project's seeded PRNG (sfc32 from `@strom/raft`): one seed reproduces a run. */
function prng(seed: number) {
  const r = createPrng(seed);
  return {
    next: () => r.nextFloat(),
    int: (n: number) => r.nextInt(n),
    chance: (p: number) => r.nextFloat() < p,
  };
}

/** Runs one seed; throws with the seed on any broken invariant. */
export function runReplicationSim(seed: number, options: SimOptions = SIM_DEFAULTS): SimStats {
  return new Sim(seed, options).run();
}

class Sim {
  readonly rng;
  nowMs = 0;
  step = 0;
  seq = 0;
  queue: Envelope[] = [];
  readonly nodes: Node[];
  controller: PartitionAssignment;
  readonly metadataAtMs = new Map<number, number>();
  readonly committed: number[] = [];
  /** Offset → the acknowledged record and the leader epoch that acknowledged it. */
  readonly acked = new Map<number, { id: number; epoch: number }>();
  /** `${node}/${epoch}` → last HW seen. */
  readonly leaderHw = new Map<string, number>();
  nextRecordId = 1;
  nextRequestId = 1;
  faults = true;
  readonly stats: SimStats = {
    steps: 0,
    produced: 0,
    acked: 0,
    rejected: 0,
    timedOut: 0,
    elections: 0,
    truncations: 0,
    isrShrinks: 0,
    isrExpands: 0,
    finalLogEndOffset: 0,
  };

  constructor(readonly seed: number, readonly options: SimOptions) {
    this.rng = prng(seed);
    this.controller = {
      replicas: [...BROKERS],
      isr: [...BROKERS],
      leader: 0,
      leaderEpoch: 0,
      partitionEpoch: 0,
    };
    this.nodes = BROKERS.map((id) => {
      const log: Rec[] = [];
      const node: Node = {
        id,
        log,
        epochs: new LeaderEpochCache([], () => log.length),
        role: undefined as unknown as FollowerRole,
        pausedUntilMs: 0,
        verifiedUpTo: 0,
        partitionEpoch: 0,
      };
      return node;
    });
    for (const node of this.nodes) this.#becomeFollower(node, this.controller, 0);
    this.#becomeLeader(this.nodes[0], this.controller, 0);
  }

  run(): SimStats {
    for (let i = 0; i < this.options.faultSteps; i++) this.#step();
    // Pauses in progress run out on their own (they are under a second).
    this.faults = false;
    for (let i = 0; i < this.options.quietStepsMax; i++) {
      this.#step();
      if (this.#converged()) {
        this.stats.steps = this.step;
        this.stats.finalLogEndOffset = this.nodes[0].log.length;
        return this.stats;
      }
    }
    this.#fail(`no convergence after the quiet phase: ${this.#describe()}`);
  }

  #step(): void {
    this.step++;
    this.nowMs += this.options.stepMs;
    this.#deliver();
    for (const node of this.nodes) {
      if (node.pausedUntilMs > this.nowMs) continue;
      if (node.role.kind === "leader") this.#leaderTick(node, node.role);
      else this.#followerTick(node, node.role);
    }
    if (this.faults) this.#faults();
    this.#check();
  }

  // ---- randomness -------------------------------------------------------

  #faults(): void {
    const r = this.rng;
    if (r.chance(0.3)) this.#produce();
    if (r.chance(0.004)) this.#elect();
    if (r.chance(0.01)) {
      const node = this.nodes[r.int(BROKERS.length)];
      // Pauses only extend, so messages held for a paused broker keep their order.
      node.pausedUntilMs = Math.max(node.pausedUntilMs, this.nowMs + 50 + r.int(900));
    }
  }

  #send(msg: Message, delayMs = 1 + this.rng.int(20)): void {
    const droppable = msg.kind !== "metadata";
    if (this.faults && droppable && this.rng.chance(0.02)) return;
    let at = this.nowMs + delayMs;
    if (msg.kind === "metadata") {
      // Metadata is replayed in log order on every broker.
      at = Math.max(at, this.metadataAtMs.get(msg.to) ?? 0);
      this.metadataAtMs.set(msg.to, at);
    }
    this.options.trace?.(`${this.nowMs} send #${this.seq} at ${at} ${msg.kind} to ${msg.to}`);
    this.queue.push({ at, seq: this.seq++, msg });
  }

  #deliver(): void {
    const due = this.queue.filter((e) => e.at <= this.nowMs);
    if (due.length === 0) return;
    this.queue = this.queue.filter((e) => e.at > this.nowMs);
    // Within a step, send order: a message held for a paused broker must not
    // be overtaken by a later one that falls due in the same step.
    due.sort((a, b) => a.seq - b.seq);
    for (const e of due) {
      if (e.msg.to >= 0) {
        const node = this.nodes[e.msg.to];
        if (node.pausedUntilMs > this.nowMs) {
          this.options.trace?.(`${this.nowMs} hold #${e.seq} until ${node.pausedUntilMs}`);
          this.queue.push({ at: node.pausedUntilMs, seq: e.seq, msg: e.msg });
          continue;
        }
      }
      this.#handle(e.msg);
    }
  }

  #handle(msg: Message): void {
    this.options.trace?.(`${this.nowMs} deliver ${JSON.stringify(msg)}`);
    switch (msg.kind) {
      case "metadata":
        return this.#applyMetadata(this.nodes[msg.to], msg.assignment);
      case "alter":
        return this.#controllerAlter(msg.intent);
      case "alterAnswer": {
        const role = this.nodes[msg.to].role;
        if (role.kind !== "leader" || role.core.leaderEpoch !== msg.intent.leaderEpoch) return;
        this.#leaderEffects(
          this.nodes[msg.to],
          role,
          role.core.handleAlterPartitionAnswer(msg.intent.intentId, msg.answer),
        );
        return;
      }
      case "fetch":
        return this.#leaderFetch(this.nodes[msg.to], msg.req);
      case "fetchAnswer":
        return this.#followerAnswer(this.nodes[msg.to], msg.req, msg.response, msg.records);
    }
  }

  // ---- controller -------------------------------------------------------

  #publish(): void {
    for (const id of BROKERS) {
      this.#send({ kind: "metadata", to: id, assignment: this.controller }, 1 + this.rng.int(60));
    }
  }

  #elect(): void {
    this.options.trace?.(`${this.nowMs} elect; before ${this.#describe()}`);
    const c = this.controller;
    const candidates = c.isr.filter((id) => id !== c.leader);
    if (candidates.length === 0) return;
    const leader = candidates[this.rng.int(candidates.length)];
    const fenceOld = this.rng.chance(0.5);
    this.controller = {
      ...c,
      leader,
      isr: fenceOld ? c.isr.filter((id) => id !== c.leader) : c.isr,
      leaderEpoch: c.leaderEpoch + 1,
      partitionEpoch: c.partitionEpoch + 1,
    };
    this.stats.elections++;
    this.#publish();
  }

  #controllerAlter(intent: AlterPartitionIntent): void {
    const c = this.controller;
    let answer: AlterPartitionAnswer;
    if (intent.leaderId !== c.leader || intent.leaderEpoch !== c.leaderEpoch) {
      answer = { ok: false, error: simError("FENCED_LEADER_EPOCH") };
    } else if (intent.partitionEpoch !== c.partitionEpoch) {
      answer = { ok: false, error: simError("INVALID_UPDATE_VERSION") };
    } else {
      this.controller = { ...c, isr: intent.isr, partitionEpoch: c.partitionEpoch + 1 };
      if (intent.kind === "shrink") this.stats.isrShrinks++;
      else this.stats.isrExpands++;
      answer = { ok: true, assignment: this.controller };
      this.#publish();
    }
    this.#send({ kind: "alterAnswer", to: intent.leaderId, intent, answer });
  }

  // ---- role changes -----------------------------------------------------

  #applyMetadata(node: Node, a: PartitionAssignment): void {
    if (a.partitionEpoch <= node.partitionEpoch) this.#fail(`metadata replayed out of order`);
    node.partitionEpoch = a.partitionEpoch;
    const role = node.role;
    if (a.leader === node.id) {
      if (role.kind === "leader" && role.core.leaderEpoch === a.leaderEpoch) {
        this.#leaderEffects(node, role, role.core.updateAssignment(a));
      } else if (role.kind === "follower" || role.core.leaderEpoch < a.leaderEpoch) {
        this.#becomeLeader(node, a, this.#hw(node));
      }
    } else if (role.kind === "leader") {
      if (role.core.leaderEpoch < a.leaderEpoch) this.#becomeFollower(node, a, this.#hw(node));
    } else {
      role.core.updateLeader(a.leader, a.leaderEpoch);
    }
  }

  #hw(node: Node): number {
    return node.role.core.highWatermark;
  }

  #becomeLeader(node: Node, a: PartitionAssignment, highWatermark: number): void {
    this.#resign(node, `leader epoch ${a.leaderEpoch} starts`);
    // Acknowledgements of older epochs must all be here. (A broker that
    // replays a stale election may lag acks of *newer* epochs: it cannot
    // advance its HW, since no ISR member fetches at its epoch.)
    for (const [offset, ack] of this.acked) {
      if (ack.epoch < a.leaderEpoch && node.log[offset]?.id !== ack.id) {
        this.#fail(
          `broker ${node.id} became leader of epoch ${a.leaderEpoch} without offset ${offset} ` +
            `acknowledged in epoch ${ack.epoch}`,
        );
      }
    }
    node.epochs.assign(a.leaderEpoch, node.log.length);
    node.role = {
      kind: "leader",
      core: new PartitionLeader({
        partition: "sim-0",
        localBrokerId: node.id,
        assignment: a,
        logEndOffset: node.log.length,
        highWatermark,
        nowMs: this.nowMs,
        replicaLagTimeMaxMs: this.options.replicaLagTimeMaxMs,
      }),
      produce: new ProducePurgatory({ partition: "sim-0", requestsMax: 50, bytesMax: 500 }),
      fetches: new FetchPurgatory({ requestsMax: 4 }),
      waitingFetches: new Map(),
      alterSentMs: 0,
    };
  }

  #becomeFollower(node: Node, a: PartitionAssignment, highWatermark: number): void {
    this.#resign(node, `broker ${a.leader} leads epoch ${a.leaderEpoch}`);
    node.role = {
      kind: "follower",
      core: new PartitionFollower({
        partition: "sim-0",
        localBrokerId: node.id,
        leaderId: a.leader,
        leaderEpoch: a.leaderEpoch,
        logEndOffset: node.log.length,
        highWatermark,
      }),
      sentMs: 0,
      nextFetchMs: 0,
    };
  }

  #resign(node: Node, reason: string): void {
    const role = node.role;
    if (role?.kind !== "leader") return;
    role.core.resign(reason);
    this.#completions(role.produce.leadershipLost(reason));
    for (const requestId of role.fetches.leadershipLost()) {
      this.#answerWaiting(node, role, requestId);
    }
  }

  // ---- leader -----------------------------------------------------------

  #produce(): void {
    const leaders = this.nodes.filter((n) =>
      n.role.kind === "leader" && n.pausedUntilMs <= this.nowMs
    );
    if (leaders.length === 0) return;
    const node = leaders[this.rng.int(leaders.length)];
    const role = node.role as LeaderRole;
    const count = 1 + this.rng.int(3);
    const refused = role.core.admitProduce("all", this.options.minInsyncReplicas) ??
      role.produce.admit(count);
    if (refused) {
      this.stats.rejected++;
      return;
    }
    const baseOffset = node.log.length;
    for (let i = 0; i < count; i++) {
      node.log.push({ epoch: role.core.leaderEpoch, id: this.nextRecordId++ });
    }
    this.stats.produced += count;
    const effects = role.core.appended(node.log.length);
    this.#completions(
      role.produce.add(
        {
          requestId: this.nextRequestId++,
          baseOffset,
          lastOffset: node.log.length - 1,
          sizeBytes: count,
          deadlineMs: this.nowMs + PRODUCE_TIMEOUT_MS,
          minInsyncReplicas: this.options.minInsyncReplicas,
        },
        role.core.highWatermark,
        role.core.maximalIsr.length,
      ),
      role.core.leaderEpoch,
    );
    this.#leaderEffects(node, role, effects);
    this.#wakeFetches(node, role);
  }

  #leaderTick(node: Node, role: LeaderRole): void {
    this.#leaderEffects(node, role, role.core.tick(this.nowMs));
    this.#completions(role.produce.expire(this.nowMs));
    for (const id of role.fetches.expire(this.nowMs)) this.#answerWaiting(node, role, id);
    const pending = role.core.pendingAlterPartition;
    if (pending && this.nowMs - role.alterSentMs > ALTER_RESEND_MS) {
      // The request or its answer was lost: ask again (it is a compare-and-set).
      role.alterSentMs = this.nowMs;
      this.#send({ kind: "alter", to: -1, intent: pending });
    }
  }

  #leaderEffects(node: Node, role: LeaderRole, effects: LeaderEffects): void {
    if (effects.highWatermarkAdvanced || effects.alterPartition) {
      this.options.trace?.(`${this.nowMs} leader ${node.id} effects ${JSON.stringify(effects)}`);
    }
    if (effects.alterPartition) {
      role.alterSentMs = this.nowMs;
      this.#send({ kind: "alter", to: -1, intent: effects.alterPartition });
    }
    if (effects.highWatermarkAdvanced) {
      this.#extendCommitted(node, effects.highWatermark);
      this.#completions(
        role.produce.highWatermarkAdvanced(effects.highWatermark, role.core.maximalIsr.length),
        role.core.leaderEpoch,
      );
      this.#wakeFetches(node, role);
    }
  }

  #leaderFetch(node: Node, req: FollowerFetchRequest): void {
    const role = node.role;
    if (role.kind !== "leader") {
      this.#send({
        kind: "fetchAnswer",
        to: req.replicaId,
        req,
        response: { kind: "error", error: simError("NOT_LEADER_OR_FOLLOWER") },
        records: [],
      });
      return;
    }
    const { decision, effects } = role.core.handleFollowerFetch(
      req,
      { logStartOffset: 0, epochs: node.epochs },
      this.nowMs,
    );
    this.#leaderEffects(node, role, effects);
    if (decision.kind === "read") {
      // Followers number their requests independently: key by a leader-local id.
      const key = this.nextRequestId++;
      const waited = role.fetches.add(
        {
          requestId: key,
          reader: "follower",
          fetchOffset: req.fetchOffset,
          minBytes: 1,
          maxWaitMs: FETCH_WAIT_MS,
        },
        this.#fetchable(node, role),
        this.nowMs,
      );
      if (waited === "waiting") {
        role.waitingFetches.set(key, req);
        return;
      }
      this.#answerRead(node, role, req);
      return;
    }
    const response: FollowerFetchResponse = decision.kind === "diverging"
      ? {
        kind: "diverging",
        divergingEpoch: decision.divergingEpoch,
        highWatermark: decision.highWatermark,
      }
      : decision;
    this.#send({
      kind: "fetchAnswer",
      to: req.replicaId,
      req,
      response,
      records: [],
    });
  }

  #fetchable(node: Node, role: LeaderRole) {
    return {
      logStartOffset: 0,
      logEndOffset: node.log.length,
      highWatermark: role.core.highWatermark,
      bytesBetween: (from: number, to: number) => to - from,
    };
  }

  #wakeFetches(node: Node, role: LeaderRole): void {
    for (const id of role.fetches.logChanged(this.#fetchable(node, role))) {
      this.#answerWaiting(node, role, id);
    }
  }

  #answerWaiting(node: Node, role: LeaderRole, key: number): void {
    const req = role.waitingFetches.get(key)!;
    role.waitingFetches.delete(key);
    if (!role.core.isLeader) {
      this.#send({
        kind: "fetchAnswer",
        to: req.replicaId,
        req,
        response: { kind: "error", error: simError("NOT_LEADER_OR_FOLLOWER") },
        records: [],
      });
      return;
    }
    this.#answerRead(node, role, req);
  }

  #answerRead(node: Node, role: LeaderRole, req: FollowerFetchRequest): void {
    this.#send({
      kind: "fetchAnswer",
      to: req.replicaId,
      req,
      response: { kind: "read", highWatermark: role.core.highWatermark },
      records: node.log.slice(req.fetchOffset, req.fetchOffset + FETCH_RECORDS_MAX),
    });
  }

  // ---- follower ---------------------------------------------------------

  #followerTick(node: Node, role: FollowerRole): void {
    const inFlight = role.core.inFlight;
    if (inFlight && this.nowMs - role.sentMs > FETCH_TIMEOUT_MS) {
      role.core.abandonFetch(inFlight);
    }
    if (this.nowMs < role.nextFetchMs || role.core.leaderId === node.id) return;
    const req = role.core.nextFetch({ logEndOffset: node.log.length, epochs: node.epochs });
    if (req === undefined) return;
    role.sentMs = this.nowMs;
    this.#send({ kind: "fetch", to: req.leaderId, req });
  }

  #followerAnswer(
    node: Node,
    req: FollowerFetchRequest,
    response: FollowerFetchResponse,
    records: Rec[],
  ): void {
    const role = node.role;
    if (role.kind !== "follower") return;
    const log = { logEndOffset: node.log.length, epochs: node.epochs };
    const action = role.core.handleFetchResponse(req, response, log);
    switch (action.kind) {
      case "append":
        if (action.baseOffset !== node.log.length) this.#fail(`append at a stale offset`);
        for (const rec of records) {
          if (rec.epoch > node.epochs.latestEpoch) node.epochs.assign(rec.epoch, node.log.length);
          node.log.push(rec);
        }
        role.core.appended(node.log.length, action.leaderHighWatermark);
        this.#extendCommitted(node, role.core.highWatermark);
        return;
      case "truncate":
        this.stats.truncations++;
        node.log.length = action.offset;
        node.epochs.truncateFromEnd(action.offset);
        node.verifiedUpTo = Math.min(node.verifiedUpTo, action.offset);
        role.core.truncated(action.offset);
        return;
      case "truncateFullyAndStartAt":
        return this.#fail(`the simulated log never deletes records`);
      case "backoff":
        role.nextFetchMs = this.nowMs + 20;
        return;
      case "ignore":
        return;
    }
  }

  // ---- acknowledgements and invariants ----------------------------------

  #completions(done: readonly ProduceCompletion[], epoch = -1): void {
    for (const c of done) {
      if (!c.ok) {
        if (c.error.code === "REQUEST_TIMED_OUT") this.stats.timedOut++;
        continue;
      }
      for (let offset = c.baseOffset; offset <= c.lastOffset; offset++) {
        const id = this.committed[offset];
        const before = this.acked.get(offset);
        if (id === undefined) this.#fail(`acknowledged offset ${offset} is not committed`);
        if (before !== undefined && before.id !== id) {
          this.#fail(`offset ${offset} acknowledged as record ${before.id} and as ${id}`);
        }
        if (before === undefined) this.acked.set(offset, { id, epoch });
        this.stats.acked++;
      }
    }
  }

  #extendCommitted(node: Node, highWatermark: number): void {
    for (let o = this.committed.length; o < highWatermark; o++) this.committed.push(node.log[o].id);
  }

  #check(): void {
    for (const node of this.nodes) {
      const role = node.role;
      const hw = role.core.highWatermark;
      if (hw > node.log.length) this.#fail(`broker ${node.id} HW ${hw} > LEO ${node.log.length}`);
      this.#extendCommitted(node, hw);
      for (let o = node.verifiedUpTo; o < hw; o++) {
        if (node.log[o].id !== this.committed[o]) {
          this.#fail(`broker ${node.id} offset ${o} differs from the committed log below its HW`);
        }
      }
      node.verifiedUpTo = Math.max(node.verifiedUpTo, hw);
      if (role.kind !== "leader" || !role.core.isLeader) continue;
      const key = `${node.id}/${role.core.leaderEpoch}`;
      if (hw < (this.leaderHw.get(key) ?? 0)) this.#fail(`leader ${key} HW went back to ${hw}`);
      this.leaderHw.set(key, hw);
      for (const id of role.core.maximalIsr) {
        if (this.nodes[id].log.length < hw) {
          this.#fail(
            `leader ${key} HW ${hw} > LEO ${this.nodes[id].log.length} of ISR member ${id}`,
          );
        }
      }
    }
  }

  #converged(): boolean {
    const leader = this.nodes[this.controller.leader];
    const role = leader.role;
    if (role.kind !== "leader" || role.core.leaderEpoch !== this.controller.leaderEpoch) {
      return false;
    }
    if (this.controller.isr.length !== BROKERS.length) return false;
    if (role.produce.size > 0) return false;
    const hw = role.core.highWatermark;
    return this.nodes.every((n) =>
      n.log.length === leader.log.length && n.role.core.highWatermark === hw &&
      n.log.every((rec, o) => rec.id === leader.log[o].id)
    ) && hw === leader.log.length;
  }

  #describe(): string {
    return JSON.stringify({
      controller: this.controller,
      nodes: this.nodes.map((n) => ({
        id: n.id,
        role: n.role.kind,
        epoch: n.role.kind === "leader" ? n.role.core.leaderEpoch : n.role.core.leaderEpoch,
        leo: n.log.length,
        hw: n.role.core.highWatermark,
        pending: n.role.kind === "leader" ? n.role.core.pendingAlterPartition : undefined,
        isr: n.role.kind === "leader" ? n.role.core.isr : undefined,
      })),
    });
  }

  #fail(why: string): never {
    throw new Error(`replication sim seed ${this.seed} step ${this.step}: ${why}`);
  }
}

function simError(
  code: "FENCED_LEADER_EPOCH" | "INVALID_UPDATE_VERSION" | "NOT_LEADER_OR_FOLLOWER",
): StromError {
  return new StromError(code, `simulated ${code}`);
}
