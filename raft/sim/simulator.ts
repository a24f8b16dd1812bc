/**
 * The deterministic cluster simulator (in the spirit of TigerBeetle's VOPR):
 * real {@link RawNode}s on a simulated network and simulated disks, with
 * faults drawn from one seed. Every run has a fault phase (delay, loss,
 * duplication, reordering, symmetric and one-way partitions, crashes with
 * torn writes, restarts, membership changes, snapshots, leader transfers)
 * and then a liveness phase without faults, which must elect a leader and
 * commit a new entry within a bounded number of ticks. Invariants are
 * checked after every event. The same seed replays the same run exactly.
 *
 * @module
 */

import { applyConfigChange, decodeConfigEntry } from "../config_change.ts";
import type { ConfigChange } from "../config_change.ts";
import type { RaftConfig } from "../config.ts";
import { RaftError } from "../errors.ts";
import type { Message } from "../message.ts";
import { decodeMessages, encodeMessages } from "../message_codec.ts";
import { createPrng } from "../prng.ts";
import type { Prng } from "../prng.ts";
import { RawNode } from "../raw_node.ts";
import type { Ready } from "../raw_node.ts";
import type { ClusterConfig, Entry, NodeId, Snapshot } from "../types.ts";
import { EventQueue } from "./event_queue.ts";
import { entryFingerprint, mixHash } from "./hash.ts";
import { InvariantChecker, InvariantViolation } from "./invariants.ts";
import { SimDisk } from "./sim_disk.ts";

/** Options of one simulated run. */
export interface SimOptions {
  /** The seed (replay it with `--seed`). */
  readonly seed: number;
  /** Initial voters: 3 or 5 (default: drawn from the seed). */
  readonly voters?: 3 | 5;
  /** Ticks of the fault phase. Default 600. */
  readonly faultTicks?: number;
  /** Ticks the liveness phase may take at most. Default 300. */
  readonly livenessTicksMax?: number;
}

/** What one run did. */
export interface SimResult {
  /** The seed (replay it with `--seed`). */
  readonly seed: number;
  /** Whether every invariant and the liveness bound held. */
  readonly ok: boolean;
  /** Set when the run failed: which invariant or which liveness bound. */
  readonly error?: string;
  /** Events processed (ticks, deliveries, fsyncs). */
  readonly events: number;
  /** Node-level invariant checks run. */
  readonly checks: number;
  /** Ticks simulated. */
  readonly ticks: number;
  /** Counters of faults and work. */
  readonly stats: Readonly<Record<string, number>>;
}

/** Sub-tick time units: message delays and fsyncs take fractions of a tick. */
const UNITS_PER_TICK = 10;
/** Bound on events in one tick, so that a message storm fails the run instead of hanging it. */
const EVENTS_PER_TICK_MAX = 100_000;
const SNAPSHOT_PADDING_BYTES = 40;

interface SimNode {
  readonly id: NodeId;
  readonly disk: SimDisk;
  raw: RawNode | undefined;
  /** Incremented on each crash; stale fsync completions carry an older life. */
  life: number;
  persisting: Ready | undefined;
  restartAt: number;
  sm: { index: number; hash: number; config: ClusterConfig };
}

type SimEvent =
  | { readonly kind: "deliver"; readonly message: Message }
  | { readonly kind: "fsync"; readonly node: NodeId; readonly life: number };

interface Profile {
  lossRate: number;
  dupRate: number;
  maxDelayUnits: number;
  maxFsyncUnits: number;
  crashRate: number;
  partitionRate: number;
  healRate: number;
  configRate: number;
  compactRate: number;
  transferRate: number;
  proposeRate: number;
  readRate: number;
  tornRate: number;
  codecEvery: number;
}

function drawProfile(r: Prng): Profile {
  return {
    lossRate: r.nextFloat() * 0.08,
    dupRate: r.nextFloat() * 0.05,
    maxDelayUnits: 1 + r.nextInt(25),
    maxFsyncUnits: r.nextInt(15),
    crashRate: r.nextFloat() < 0.2 ? 0.02 + r.nextFloat() * 0.03 : r.nextFloat() * 0.008,
    partitionRate: r.nextFloat() * 0.01,
    healRate: 0.01 + r.nextFloat() * 0.04,
    configRate: r.nextFloat() * 0.02,
    compactRate: r.nextFloat() * 0.03,
    transferRate: r.nextFloat() * 0.006,
    proposeRate: 0.1 + r.nextFloat() * 0.5,
    readRate: r.nextFloat() * 0.1,
    tornRate: r.nextFloat(),
    codecEvery: 1 + r.nextInt(8),
  };
}

/** A whole simulated cluster for one seed. */
class Simulation {
  readonly r: Prng;
  readonly profile: Profile;
  readonly checker: InvariantChecker = new InvariantChecker();
  readonly nodes: Map<NodeId, SimNode> = new Map();
  readonly queue: EventQueue<SimEvent> = new EventQueue();
  readonly raftOptions: Omit<RaftConfig, "id" | "random" | "applied">;
  /** Directed links that drop messages, as `from * 1000 + to`. */
  cut: Set<number> = new Set();
  now = 0;
  tick = 0;
  events = 0;
  faultsOn = true;
  proposals = 0;
  sent = 0;
  /** Counters of faults and work. */
  readonly stats: Record<string, number> = {
    crashes: 0,
    restarts: 0,
    tornWrites: 0,
    partitions: 0,
    configChanges: 0,
    compactions: 0,
    snapshotsInstalled: 0,
    transfers: 0,
    proposals: 0,
    applied: 0,
    readsAnswered: 0,
    messages: 0,
    dropped: 0,
    duplicated: 0,
  };
  readonly pendingReads: Map<number, number> = new Map();
  readSeq = 0;
  liveMarker: Uint8Array | undefined;
  liveDone = false;

  constructor(readonly seed: number, voterCount: 3 | 5) {
    this.r = createPrng(seed);
    this.profile = drawProfile(this.r);
    this.raftOptions = {
      electionTimeoutTicks: 10,
      heartbeatTicks: 1 + this.r.nextInt(2),
      preVote: this.r.nextFloat() < 0.85,
      checkQuorum: this.r.nextFloat() < 0.85,
      maxSizePerMsgBytes: 16 + this.r.nextInt(200),
      maxInflightMsgs: 1 + this.r.nextInt(8),
      maxUncommittedEntriesBytes: 64 + this.r.nextInt(2000),
      maxSnapshotChunkBytes: 8 + this.r.nextInt(64),
      maxCommittedSizePerReadyBytes: 16 + this.r.nextInt(500),
      forwardProposals: this.r.nextFloat() < 0.5,
    };
    const voters = Array.from({ length: voterCount }, (_, i) => i + 1);
    const config = { voters, learners: [] };
    const spares = [voterCount + 1, voterCount + 2];
    for (const id of [...voters, ...spares]) {
      const initial = voters.includes(id) ? config : { voters: [], learners: [] };
      const disk = new SimDisk(id, initial, this.checker);
      const node: SimNode = {
        id,
        disk,
        raw: undefined,
        life: 0,
        persisting: undefined,
        restartAt: 0,
        sm: { index: 0, hash: 0, config: initial },
      };
      this.nodes.set(id, node);
      this.#start(node);
    }
  }

  #start(node: SimNode): void {
    const snap = node.disk.snapshot();
    node.sm = this.#decodeState(snap);
    this.checker.onSnapshotInstalled(node.id, snap.meta.index, node.sm.hash);
    node.raw = new RawNode(
      {
        ...this.raftOptions,
        id: node.id,
        random: createPrng(this.r.nextUint32()),
        applied: snap.meta.index,
      },
      node.disk,
    );
    this.checker.onRestart({ id: node.id, raw: node.raw });
  }

  #decodeState(snap: Snapshot): SimNode["sm"] {
    const hash = snap.data.byteLength >= 4
      ? new DataView(snap.data.buffer, snap.data.byteOffset).getUint32(0)
      : 0;
    return { index: snap.meta.index, hash, config: snap.meta.config };
  }

  #encodeState(node: SimNode): Uint8Array {
    const data = new Uint8Array(4 + SNAPSHOT_PADDING_BYTES);
    new DataView(data.buffer).setUint32(0, node.sm.hash);
    data.fill(node.id, 4);
    return data;
  }

  // ------------------------------------------------------------ plumbing

  #check(): void {
    this.events++;
    const up = [];
    for (const n of this.nodes.values()) if (n.raw) up.push({ id: n.id, raw: n.raw });
    this.checker.checkAfterEvent(up);
  }

  #send(m: Message): void {
    this.stats.messages++;
    const p = this.profile;
    if (this.faultsOn && this.r.nextFloat() < p.lossRate) {
      this.stats.dropped++;
      return;
    }
    let msg = m;
    // Round-trips a sample of messages through the wire codec.
    if (++this.sent % p.codecEvery === 0) msg = decodeMessages(encodeMessages([m]))[0];
    this.queue.push(this.now + 1 + this.r.nextInt(p.maxDelayUnits), {
      kind: "deliver",
      message: msg,
    });
    if (this.faultsOn && this.r.nextFloat() < p.dupRate) {
      this.stats.duplicated++;
      this.queue.push(this.now + 1 + this.r.nextInt(p.maxDelayUnits), {
        kind: "deliver",
        message: msg,
      });
    }
  }

  #pump(node: SimNode): void {
    for (;;) {
      const raw = node.raw;
      if (!raw || node.persisting || !raw.hasReady()) return;
      const rd = raw.ready();
      const writes = rd.snapshot !== undefined || rd.entries.length > 0 ||
        rd.hardState !== undefined;
      if (writes) {
        node.disk.save({ snapshot: rd.snapshot, entries: rd.entries, hardState: rd.hardState });
      }
      for (const m of rd.messages) this.#send(m);
      if (writes) {
        node.persisting = rd;
        const at = this.now + this.r.nextInt(this.profile.maxFsyncUnits + 1);
        this.queue.push(at, { kind: "fsync", node: node.id, life: node.life });
        return;
      }
      this.#finish(node, rd);
    }
  }

  /** The part of the driver loop after persistence: send, apply, advance. */
  #finish(node: SimNode, rd: Ready): void {
    const raw = node.raw!;
    for (const m of rd.messagesAfterPersist) this.#send(m);
    if (rd.snapshot) {
      node.sm = this.#decodeState(rd.snapshot);
      this.stats.snapshotsInstalled++;
      this.checker.onSnapshotInstalled(node.id, node.sm.index, node.sm.hash);
    }
    for (const e of rd.committedEntries) this.#apply(node, e);
    for (const rs of rd.readStates) {
      const ctx = new DataView(rs.context.buffer, rs.context.byteOffset).getUint32(0);
      const min = this.pendingReads.get(ctx);
      if (min !== undefined) {
        this.pendingReads.delete(ctx);
        this.checker.onReadState(node.id, min, rs.index);
        this.stats.readsAnswered++;
      }
    }
    raw.advance();
  }

  #apply(node: SimNode, e: Entry): void {
    if (e.index !== node.sm.index + 1) {
      this.checker.fail(`node ${node.id} applied ${e.index} after ${node.sm.index}`);
    }
    node.sm.index = e.index;
    node.sm.hash = mixHash(node.sm.hash, entryFingerprint(e));
    if (e.kind === "config") node.sm.config = decodeConfigEntry(e.data).config;
    this.stats.applied++;
    this.checker.onApply(node.id, e, node.sm.hash);
    const marker = this.liveMarker;
    if (marker && e.kind === "normal" && sameBytes(e.data, marker)) this.liveDone = true;
  }

  #handle(ev: SimEvent): void {
    if (ev.kind === "deliver") {
      const m = ev.message;
      const to = this.nodes.get(m.to);
      if (!to || !to.raw || this.cut.has(m.from * 1000 + m.to)) return;
      to.raw.step(m);
      this.#pump(to);
    } else {
      const node = this.nodes.get(ev.node)!;
      if (node.life !== ev.life || !node.raw || !node.persisting) return;
      node.disk.sync();
      this.checker.onSynced(node.disk);
      const rd = node.persisting;
      node.persisting = undefined;
      this.#finish(node, rd);
      this.#pump(node);
    }
    this.#check();
  }

  // --------------------------------------------------------------- faults

  #upNodes(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.raw !== undefined);
  }

  #pick<T>(xs: readonly T[]): T | undefined {
    return xs.length === 0 ? undefined : xs[this.r.nextInt(xs.length)];
  }

  #leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodes.values()) {
      if (n.raw?.role === "leader" && (!best || n.raw.term > best.raw!.term)) best = n;
    }
    return best;
  }

  #crash(node: SimNode): void {
    node.raw = undefined;
    node.life++;
    node.persisting = undefined;
    const torn = node.disk.hasUnsynced();
    node.disk.crash(this.r, this.profile.tornRate);
    if (torn) this.stats.tornWrites++;
    this.checker.onDiskReset(node.disk);
    node.restartAt = this.tick + 5 + this.r.nextInt(150);
    this.stats.crashes++;
  }

  #partition(): void {
    this.cut = new Set();
    const ids = [...this.nodes.keys()];
    const kind = this.r.nextInt(3);
    if (kind === 0) {
      // Symmetric: a random group against the rest.
      const group = ids.filter(() => this.r.nextFloat() < 0.4);
      for (const a of group) for (const b of ids) if (!group.includes(b)) this.#cutBoth(a, b);
    } else if (kind === 1) {
      // One node isolated both ways.
      const a = this.#pick(ids)!;
      for (const b of ids) if (b !== a) this.#cutBoth(a, b);
    } else {
      // One-way cuts.
      for (let i = 0; i < 1 + this.r.nextInt(4); i++) {
        this.cut.add(this.#pick(ids)! * 1000 + this.#pick(ids)!);
      }
    }
    this.stats.partitions++;
  }

  #cutBoth(a: NodeId, b: NodeId): void {
    this.cut.add(a * 1000 + b).add(b * 1000 + a);
  }

  #changeConfig(leader: SimNode): void {
    const raw = leader.raw!;
    const config = raw.config;
    const members = new Set([...config.voters, ...config.learners]);
    const outsiders = [...this.nodes.keys()].filter((id) => !members.has(id));
    const options: ConfigChange[] = [];
    const maxVoters = this.nodes.size - 1;
    for (const id of outsiders) options.push({ type: "addLearner", nodeId: id });
    if (config.voters.length < maxVoters) {
      for (const id of config.learners) options.push({ type: "addVoter", nodeId: id });
    }
    for (const id of config.learners) options.push({ type: "removeNode", nodeId: id });
    if (config.voters.length > 3) {
      for (const id of config.voters) options.push({ type: "removeNode", nodeId: id });
    }
    const change = this.#pick(options);
    if (!change) return;
    try {
      applyConfigChange(config, change);
      raw.proposeConfigChange(change);
      this.stats.configChanges++;
    } catch (e) {
      if (!(e instanceof RaftError)) throw e;
    }
    this.#pump(leader);
  }

  #compact(node: SimNode): void {
    const raw = node.raw!;
    const index = node.sm.index;
    if (index <= node.disk.firstIndex() + 2) return;
    const term = raw.logTerm(index);
    if (term === undefined) return;
    const snapshot = {
      meta: { index, term, config: node.sm.config },
      data: this.#encodeState(node),
    };
    node.disk.compact(snapshot);
    this.checker.onCompacted(node.id, index);
    this.stats.compactions++;
  }

  #propose(): void {
    const target = this.r.nextFloat() < 0.8 ? this.#leader() : this.#pick(this.#upNodes());
    if (!target?.raw) return;
    const data = new Uint8Array(4 + this.r.nextInt(12));
    new DataView(data.buffer).setUint32(0, ++this.proposals);
    try {
      target.raw.propose(data);
      this.stats.proposals++;
    } catch (e) {
      if (!(e instanceof RaftError)) throw e;
    }
    this.#pump(target);
  }

  #read(): void {
    const node = this.#pick(this.#upNodes());
    if (!node?.raw) return;
    const ctx = ++this.readSeq;
    const context = new Uint8Array(4);
    new DataView(context.buffer).setUint32(0, ctx);
    try {
      node.raw.readIndex(context);
      this.pendingReads.set(ctx, this.checker.maxCommit);
    } catch (e) {
      if (!(e instanceof RaftError)) throw e;
    }
    this.#pump(node);
  }

  #faults(): void {
    const p = this.profile;
    const r = this.r;
    for (const n of this.nodes.values()) {
      if (!n.raw && this.tick >= n.restartAt) {
        this.#start(n);
        this.stats.restarts++;
        this.#check();
      }
    }
    if (r.nextFloat() < p.crashRate) {
      // Half the crashes hit a node with unsynced writes: where durability bugs hide.
      const up = this.#upNodes();
      const writing = up.filter((n) => n.persisting !== undefined);
      const victim = this.#pick(writing.length > 0 && r.nextFloat() < 0.5 ? writing : up);
      if (victim) this.#crash(victim);
    }
    if (r.nextFloat() < p.partitionRate) this.#partition();
    else if (this.cut.size > 0 && r.nextFloat() < p.healRate) this.cut = new Set();
    const leader = this.#leader();
    if (leader && r.nextFloat() < p.configRate) this.#changeConfig(leader);
    if (leader?.raw && r.nextFloat() < p.transferRate) {
      const target = this.#pick(leader.raw.config.voters.filter((id) => id !== leader.id));
      if (target !== undefined) {
        try {
          leader.raw.transferLeadership(target);
          this.stats.transfers++;
        } catch (e) {
          if (!(e instanceof RaftError)) throw e;
        }
        this.#pump(leader);
      }
    }
    if (r.nextFloat() < p.compactRate) {
      const n = this.#pick(this.#upNodes());
      if (n) this.#compact(n);
    }
  }

  // ------------------------------------------------------------------ run

  #step(): void {
    this.now = this.tick * UNITS_PER_TICK;
    if (this.faultsOn) this.#faults();
    if (this.r.nextFloat() < this.profile.proposeRate) this.#propose();
    if (this.r.nextFloat() < this.profile.readRate) this.#read();
    for (const n of this.nodes.values()) {
      if (!n.raw) continue;
      n.raw.tick();
      this.#pump(n);
      this.#check();
    }
    const end = (this.tick + 1) * UNITS_PER_TICK;
    let budget = EVENTS_PER_TICK_MAX;
    while (this.queue.peekTime() < end) {
      if (--budget < 0) {
        throw new InvariantViolation(
          `more than ${EVENTS_PER_TICK_MAX} events in tick ${this.tick}`,
        );
      }
      const slot = this.queue.pop()!;
      this.now = Math.max(this.now, slot.at);
      this.#handle(slot.item);
    }
    this.tick++;
  }

  /** One line per node: role, term, commit, last index, membership. */
  describe(): string {
    return [...this.nodes.values()].map((n) => {
      const raw = n.raw;
      if (!raw) return `${n.id}: down`;
      const c = raw.config;
      return `${n.id}: ${raw.role} t${raw.term} lead${raw.leaderId} c${raw.commitIndex} ` +
        `last${raw.lastIndex} applied${n.sm.index} voters[${c.voters}] learners[${c.learners}]` +
        (n.persisting ? " persisting" : "");
    }).join("; ");
  }

  #startLiveness(): void {
    this.faultsOn = false;
    this.cut = new Set();
    for (const n of this.nodes.values()) {
      if (!n.raw) {
        this.#start(n);
        this.stats.restarts++;
      }
    }
    const marker = new TextEncoder().encode(`liveness-${this.seed}`);
    this.liveMarker = marker;
  }

  run(faultTicks: number, livenessTicksMax: number): void {
    while (this.tick < faultTicks) this.#step();
    this.#startLiveness();
    const deadline = this.tick + livenessTicksMax;
    let proposedAt: { node: NodeId; term: number } | undefined;
    while (!this.liveDone) {
      if (this.tick >= deadline) {
        throw new LivenessFailure(
          `liveness: no leader committed a new entry within ${livenessTicksMax} ticks after the faults ` +
            `(leader: ${this.#leader()?.id ?? "none"}; ${this.describe()})`,
        );
      }
      const leader = this.#leader();
      if (
        leader?.raw && this.liveMarker &&
        (proposedAt?.node !== leader.id || proposedAt.term !== leader.raw.term)
      ) {
        try {
          leader.raw.propose(this.liveMarker);
          proposedAt = { node: leader.id, term: leader.raw.term };
        } catch (e) {
          if (!(e instanceof RaftError)) throw e;
        }
        this.#pump(leader);
      }
      this.#step();
    }
  }
}

class LivenessFailure extends Error {}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Runs one seed and reports what happened; a failure names the broken
 * invariant and is reproduced exactly by running the same seed again.
 *
 * @example
 * ```ts
 * import { runSeed } from "@strom/raft/sim";
 * const result = runSeed({ seed: 1, faultTicks: 100 });
 * if (!result.ok) throw new Error(`seed 1 failed: ${result.error}`);
 * ```
 */
export function runSeed(options: SimOptions): SimResult {
  const seedRandom = createPrng(options.seed ^ 0x5eed);
  const voters = options.voters ?? (seedRandom.nextInt(2) === 0 ? 3 : 5);
  const sim = new Simulation(options.seed, voters);
  let error: string | undefined;
  try {
    sim.run(options.faultTicks ?? 600, options.livenessTicksMax ?? 300);
  } catch (e) {
    if (!(e instanceof Error)) throw e;
    error = `${e.name}: ${e.message}`;
    if (!(e instanceof InvariantViolation) && !(e instanceof LivenessFailure)) {
      error += `\n${e.stack ?? ""}`;
    }
  }
  return {
    seed: options.seed,
    ok: error === undefined,
    ...(error !== undefined ? { error } : {}),
    events: sim.events,
    checks: sim.checker.checks,
    ticks: sim.tick,
    stats: { ...sim.stats, voters, elections: sim.checker.leaderOfTerm.size },
  };
}

/** Totals over many seeds. */
export interface SimSummary {
  /** Seeds run. */
  readonly seeds: number;
  /** The failed runs. */
  readonly failures: readonly SimResult[];
  /** Events processed (ticks, deliveries, fsyncs). */
  readonly events: number;
  /** Node-level invariant checks run. */
  readonly checks: number;
  /** Ticks simulated. */
  readonly ticks: number;
  /** Counters of faults and work. */
  readonly stats: Readonly<Record<string, number>>;
}

/**
 * Runs seeds `first .. first + count - 1`.
 *
 * @example
 * ```ts
 * import { runSeeds } from "@strom/raft/sim";
 * const summary = runSeeds({ first: 1, count: 2, faultTicks: 50 });
 * if (summary.failures.length > 0) throw new Error(summary.failures[0].error);
 * ```
 */
export function runSeeds(
  options: { first: number; count: number } & Omit<SimOptions, "seed">,
): SimSummary {
  const failures: SimResult[] = [];
  let events = 0;
  let checks = 0;
  let ticks = 0;
  const stats: Record<string, number> = {};
  for (let i = 0; i < options.count; i++) {
    const result = runSeed({ ...options, seed: options.first + i });
    if (!result.ok) failures.push(result);
    events += result.events;
    checks += result.checks;
    ticks += result.ticks;
    for (const [k, v] of Object.entries(result.stats)) stats[k] = (stats[k] ?? 0) + v;
  }
  return { seeds: options.count, failures, events, checks, ticks, stats };
}
