/**
 * A tiny in-memory cluster for writing Raft edge cases as readable scripts:
 * "campaign 1, stabilize, partition 3, tick 10, stabilize". Messages queue
 * up until delivered; storage is synchronous and always durable.
 *
 * @module
 */

import { decodeConfigEntry } from "../config_change.ts";
import type { ConfigChange } from "../config_change.ts";
import type { RaftConfig } from "../config.ts";
import type { Message } from "../message.ts";
import { MemoryStorage } from "../memory_storage.ts";
import { createPrng } from "../prng.ts";
import type { ProposeResult, ReadState } from "../raft.ts";
import { RawNode } from "../raw_node.ts";
import type { RaftStatus } from "../raw_node.ts";
import type { ClusterConfig, Entry, NodeId, Snapshot } from "../types.ts";

/** One node of a {@link ScenarioEnv}: the core, its storage and a trivial state machine. */
export interface ScenarioNode {
  /** The core (replaced on restart). */
  raw: RawNode;
  /** Always-durable storage. */
  readonly storage: MemoryStorage;
  /** Data of applied normal entries, decoded as text. */
  applied: string[];
  /** Last applied index. */
  appliedIndex: number;
  /** Membership as of the applied index. */
  appliedConfig: ClusterConfig;
  /** ReadIndex answers received so far. */
  readStates: ReadState[];
}

/** Options of a {@link ScenarioEnv}. */
export interface ScenarioOptions {
  /** Initial voters. */
  readonly voters: readonly NodeId[];
  /** Initial learners. */
  readonly learners?: readonly NodeId[];
  /** Extra nodes that start empty, outside the membership (to be added later). */
  readonly spares?: readonly NodeId[];
  /** Seeds every node's randomness (default 1). */
  readonly seed?: number;
  /** Options for every node. */
  readonly raft?: Partial<Omit<RaftConfig, "id" | "random">>;
}

/** Bounds `stabilize()` so that a livelock fails a test instead of hanging it. */
const STABILIZE_ROUNDS_MAX = 1000;

/**
 * A scripted cluster.
 *
 * @example
 * ```ts
 * import { ScenarioEnv } from "@strom/raft/sim";
 * const env = new ScenarioEnv({ voters: [1, 2, 3] });
 * env.campaign(1).stabilize();
 * env.propose(1, "x").stabilize();
 * if (env.node(3).applied[0] !== "x") throw new Error("not replicated");
 * ```
 */
export class ScenarioEnv {
  /** Every node by id. */
  readonly nodes: Map<NodeId, ScenarioNode> = new Map();
  /** Called with every message just before it is delivered (for counting). */
  onDeliver: ((m: Message) => void) | undefined;
  /** Messages sent and not yet delivered. */
  queue: Message[] = [];
  /** Directed links that drop messages: `from→to`. */
  readonly #cut: Set<string> = new Set();
  readonly #down: Set<NodeId> = new Set();
  readonly #options: ScenarioOptions;

  /** Creates the nodes; nobody leads yet. */
  constructor(options: ScenarioOptions) {
    this.#options = options;
    const config = { voters: [...options.voters], learners: [...(options.learners ?? [])] };
    for (const id of [...config.voters, ...config.learners]) this.#add(id, config);
    for (const id of options.spares ?? []) this.#add(id, { voters: [], learners: [] });
  }

  #add(id: NodeId, config: ClusterConfig): void {
    const storage = new MemoryStorage({ config });
    this.nodes.set(id, {
      raw: this.#newRawNode(id, storage),
      storage,
      applied: [],
      appliedIndex: 0,
      appliedConfig: config,
      readStates: [],
    });
  }

  #newRawNode(id: NodeId, storage: MemoryStorage, applied = 0): RawNode {
    const seed = (this.#options.seed ?? 1) * 1000 + id;
    return new RawNode({ ...this.#options.raft, id, random: createPrng(seed), applied }, storage);
  }

  /** The node `id` (throws if unknown). */
  node(id: NodeId): ScenarioNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** The status of node `id`. */
  status(id: NodeId): RaftStatus {
    return this.node(id).raw.status();
  }

  /** The leader with the highest term among running nodes, or 0. */
  leader(): NodeId {
    let best = 0;
    let bestTerm = -1;
    for (const [id, n] of this.nodes) {
      if (this.#down.has(id)) continue;
      const s = n.raw.status();
      if (s.role === "leader" && s.term > bestTerm) {
        best = id;
        bestTerm = s.term;
      }
    }
    return best;
  }

  /** Makes `id` start an election. */
  campaign(id: NodeId): this {
    this.node(id).raw.campaign();
    this.#process(id);
    return this;
  }

  /** Proposes `text` on `id` (throws as `RawNode.propose` does). */
  propose(id: NodeId, text: string): this {
    this.tryPropose(id, text);
    return this;
  }

  /** Proposes `text` on `id` and returns the result. */
  tryPropose(id: NodeId, text: string): ProposeResult {
    const result = this.node(id).raw.propose(new TextEncoder().encode(text));
    this.#process(id);
    return result;
  }

  /** Proposes a membership change on `id`. */
  changeConfig(id: NodeId, change: ConfigChange): this {
    this.node(id).raw.proposeConfigChange(change);
    this.#process(id);
    return this;
  }

  /** Asks leader `from` to hand over to `to`. */
  transferLeadership(from: NodeId, to: NodeId): this {
    this.node(from).raw.transferLeadership(to);
    this.#process(from);
    return this;
  }

  /** Issues a ReadIndex request on `id`. */
  readIndex(id: NodeId, context: string): this {
    this.node(id).raw.readIndex(new TextEncoder().encode(context));
    this.#process(id);
    return this;
  }

  /** Ticks `ids` (default: every running node) `times` times, processing after each tick. */
  tick(times = 1, ids?: readonly NodeId[]): this {
    for (let i = 0; i < times; i++) {
      for (const id of ids ?? [...this.nodes.keys()]) {
        if (this.#down.has(id)) continue;
        this.node(id).raw.tick();
        this.#process(id);
      }
    }
    return this;
  }

  /** Lets `ticks` ticks pass on every running node, delivering all messages after each. */
  run(ticks: number): this {
    for (let i = 0; i < ticks; i++) this.tick(1).stabilize();
    return this;
  }

  /** Delivers every queued message once (messages they trigger wait for the next round). */
  deliver(filter: (m: Message) => boolean = () => true): this {
    const batch = this.queue;
    this.queue = [];
    for (const m of batch) {
      if (!filter(m)) {
        this.queue.push(m);
        continue;
      }
      if (this.#cut.has(`${m.from}→${m.to}`) || this.#down.has(m.to)) continue;
      const target = this.nodes.get(m.to);
      if (!target) continue;
      this.onDeliver?.(m);
      target.raw.step(m);
      this.#process(m.to);
    }
    return this;
  }

  /** Drops queued messages matching `filter` (default: all). */
  drop(filter: (m: Message) => boolean = () => true): this {
    this.queue = this.queue.filter((m) => !filter(m));
    return this;
  }

  /** Delivers until no message is left, first dropping those matching `dropIf`. */
  stabilize(dropIf?: (m: Message) => boolean): this {
    for (let round = 0; this.queue.length > 0; round++) {
      if (round >= STABILIZE_ROUNDS_MAX) throw new Error("stabilize: messages keep flowing");
      if (dropIf) this.drop(dropIf);
      this.deliver();
    }
    return this;
  }

  /** Cuts every link between `ids` and the other nodes, both ways. */
  partition(...ids: NodeId[]): this {
    for (const a of ids) {
      for (const b of this.nodes.keys()) {
        if (ids.includes(b)) continue;
        this.#cut.add(`${a}→${b}`).add(`${b}→${a}`);
      }
    }
    return this;
  }

  /** Cuts the link from `from` to `to` only. */
  cutOneWay(from: NodeId, to: NodeId): this {
    this.#cut.add(`${from}→${to}`);
    return this;
  }

  /** Restores every link. */
  heal(): this {
    this.#cut.clear();
    return this;
  }

  /** Stops a node; its queued messages are lost. */
  crash(id: NodeId): this {
    this.#down.add(id);
    this.queue = this.queue.filter((m) => m.to !== id && m.from !== id);
    return this;
  }

  /** Restarts a node from its storage; its state machine is rebuilt from the snapshot. */
  restart(id: NodeId): this {
    const n = this.node(id);
    this.#down.delete(id);
    const snap = n.storage.snapshot();
    this.#installSnapshot(n, snap);
    n.raw = this.#newRawNode(id, n.storage, snap.meta.index);
    return this;
  }

  /** Takes a snapshot of `id`'s state machine at its applied index and compacts its log. */
  compact(id: NodeId): this {
    const n = this.node(id);
    const term = n.raw.logTerm(n.appliedIndex);
    if (term === undefined) throw new Error(`node ${id} cannot snapshot at ${n.appliedIndex}`);
    const data = new TextEncoder().encode(JSON.stringify(n.applied));
    n.storage.compactSync({ meta: { index: n.appliedIndex, term, config: n.appliedConfig }, data });
    return this;
  }

  #installSnapshot(n: ScenarioNode, snap: Snapshot): void {
    n.applied = snap.data.byteLength > 0 ? JSON.parse(new TextDecoder().decode(snap.data)) : [];
    n.appliedIndex = snap.meta.index;
    n.appliedConfig = snap.meta.config;
  }

  #apply(n: ScenarioNode, e: Entry): void {
    if (e.index !== n.appliedIndex + 1) {
      throw new Error(`applied ${e.index} after ${n.appliedIndex}: gap or repeat`);
    }
    n.appliedIndex = e.index;
    if (e.kind === "normal") n.applied.push(new TextDecoder().decode(e.data));
    if (e.kind === "config") n.appliedConfig = decodeConfigEntry(e.data).config;
  }

  /** The driver loop: persist, send, apply, advance. */
  #process(id: NodeId): void {
    const n = this.node(id);
    while (n.raw.hasReady()) {
      const rd = n.raw.ready();
      n.storage.saveSync({ snapshot: rd.snapshot, entries: rd.entries, hardState: rd.hardState });
      this.queue.push(...rd.messages, ...rd.messagesAfterPersist);
      if (rd.snapshot) this.#installSnapshot(n, rd.snapshot);
      for (const e of rd.committedEntries) this.#apply(n, e);
      n.readStates.push(...rd.readStates);
      n.raw.advance();
    }
  }
}
