/**
 * The public face of the Raft core: feed it ticks, messages and proposals;
 * take the work it produces as a {@link Ready}; acknowledge it with
 * `advance()`.
 *
 * The driver loop, in order, for each `Ready`:
 * 1. persist `snapshot`, `entries` and `hardState` (one `DurableRaftStorage.save`);
 * 2. send `messages` (allowed even before step 1 completes) and then
 *    `messagesAfterPersist` (only once step 1 is durable);
 * 3. install `snapshot` into the application, then apply `committedEntries`,
 *    and serve `readStates` once their index is applied;
 * 4. call `advance()`.
 *
 * Between `ready()` and `advance()` the node may keep stepping messages and
 * ticking; a second `ready()` before `advance()` is an error.
 *
 * @module
 */

import { resolveRaftConfig } from "./config.ts";
import type { RaftConfig } from "./config.ts";
import type { ConfigChange } from "./config_change.ts";
import { RaftError } from "./errors.ts";
import type { Message } from "./message.ts";
import { Raft } from "./raft.ts";
import type { ProposeResult, ReadState, Role } from "./raft.ts";
import type { RaftStorage } from "./storage.ts";
import type { ClusterConfig, Entry, HardState, NodeId, Snapshot } from "./types.ts";

/** Volatile state worth reporting: who leads and what this node is. */
export interface SoftState {
  /** The known leader, or `NO_NODE`. */
  readonly leaderId: NodeId;
  /** This node's role. */
  readonly role: Role;
}

/** Work for the driver; see the module documentation for the order. */
export interface Ready {
  /** Set when the leader or role changed. */
  readonly softState?: SoftState;
  /** Set when term, vote or commit changed: persist it. */
  readonly hardState?: HardState;
  /** Entries to persist (may replace a conflicting stored suffix). */
  readonly entries: readonly Entry[];
  /** A snapshot from the leader: persist it and install it into the application. */
  readonly snapshot?: Snapshot;
  /** Committed entries to apply, in order. */
  readonly committedEntries: readonly Entry[];
  /** Messages that may be sent right away. */
  readonly messages: readonly Message[];
  /** Messages to send only after this `Ready`'s writes are durable (votes, append acknowledgements). */
  readonly messagesAfterPersist: readonly Message[];
  /** Answers to ReadIndex requests made on this node. */
  readonly readStates: readonly ReadState[];
}

/** A snapshot of a node's state, for observability and tests. */
export interface RaftStatus {
  /** This node's id. */
  readonly id: NodeId;
  /** The current term. */
  readonly term: number;
  /** The vote cast in `term`, or `NO_NODE`. */
  readonly vote: NodeId;
  /** The commit index. */
  readonly commit: number;
  /** The index the application acknowledged applying. */
  readonly applied: number;
  /** The known leader, or `NO_NODE`. */
  readonly leaderId: NodeId;
  /** This node's role. */
  readonly role: Role;
  /** The latest membership in the log. */
  readonly config: ClusterConfig;
  /** The first index still in the log. */
  readonly firstIndex: number;
  /** The last index in the log. */
  readonly lastIndex: number;
  /** Leader only: per member, how far its log matches and how the leader paces it. */
  readonly progress: ReadonlyMap<NodeId, { match: number; next: number; state: string }>;
  /** Outgoing messages dropped since start because the driver did not drain them in time. */
  readonly droppedMessages: number;
}

interface Outstanding {
  readonly hardState?: HardState;
  readonly lastEntry?: Entry;
  readonly snapshotIndex: number;
  readonly committedEntries: readonly Entry[];
}

/**
 * A Raft node without I/O.
 *
 * @example
 * ```ts
 * import { createPrng, MemoryStorage, RawNode } from "@strom/raft";
 * const storage = new MemoryStorage({ config: { voters: [1], learners: [] } });
 * const node = new RawNode({ id: 1, random: createPrng(1) }, storage);
 * node.campaign();
 * for (let i = 0; i < 3; i++) {
 *   const rd = node.ready();
 *   storage.saveSync({ snapshot: rd.snapshot, entries: rd.entries, hardState: rd.hardState });
 *   node.advance();
 * }
 * if (node.status().role !== "leader" || node.status().commit !== 1) throw new Error("not elected");
 * ```
 */
export class RawNode {
  readonly #raft: Raft;
  #prevHardState: HardState;
  #prevSoftState: SoftState;
  #outstanding: Outstanding | undefined;

  /** Starts a node from what `storage` holds (a follower, with no leader known). */
  constructor(config: RaftConfig, storage: RaftStorage) {
    this.#raft = new Raft(resolveRaftConfig(config), storage);
    this.#prevHardState = this.#hardState();
    this.#prevSoftState = this.#softState();
  }

  #hardState(): HardState {
    return { term: this.#raft.term, vote: this.#raft.vote, commit: this.#raft.log.committed };
  }

  #softState(): SoftState {
    return { leaderId: this.#raft.lead, role: this.#raft.role };
  }

  /** Advances logical time by one tick (drives elections and heartbeats). */
  tick(): void {
    this.#raft.tick();
  }

  /** Starts an election now (pre-vote first if enabled). Ignored by leaders and non-voters. */
  campaign(): void {
    this.#raft.hup(false);
  }

  /** Feeds a message from a peer. Messages for another node are ignored. */
  step(message: Message): void {
    this.#raft.step(message);
  }

  /**
   * Proposes an application command. On a follower it throws `NOT_LEADER` (with the
   * leader's id) or, with `forwardProposals`, forwards it to the leader.
   */
  propose(data: Uint8Array): ProposeResult {
    return this.#raft.propose(data);
  }

  /** Proposes a membership change (leader only; one uncommitted change at a time). */
  proposeConfigChange(change: ConfigChange): ProposeResult {
    return this.#raft.proposeConfigChange(change);
  }

  /** Hands leadership to `target` (leader only); proposals are refused until it completes or times out. */
  transferLeadership(target: NodeId): void {
    this.#raft.transferLeadership(target);
  }

  /**
   * Asks for a linearizable read point; the answer arrives as a `ReadState` carrying
   * `context`. Throws `NOT_LEADER` when no leader is known.
   */
  readIndex(context: Uint8Array): void {
    this.#raft.readIndex(context);
  }

  /** Whether {@link ready} has anything to hand out. */
  hasReady(): boolean {
    if (this.#outstanding) return false;
    const r = this.#raft;
    const hs = this.#prevHardState;
    const ss = this.#prevSoftState;
    return r.msgs.length > 0 || r.msgsAfterPersist.length > 0 ||
      r.log.unstableEntries().length > 0 || r.log.hasPendingSnapshot() ||
      r.log.hasNextCommittedEntries() || r.readStates.length > 0 ||
      r.term !== hs.term || r.vote !== hs.vote || r.log.committed !== hs.commit ||
      r.lead !== ss.leaderId || r.role !== ss.role;
  }

  /** Takes the pending work. Call {@link advance} once it is done, before the next `ready()`. */
  ready(): Ready {
    if (this.#outstanding) {
      throw new RaftError("ILLEGAL_STATE", "ready() called again before advance()");
    }
    const r = this.#raft;
    const hs = this.#hardState();
    const ss = this.#softState();
    const prevHs = this.#prevHardState;
    const hardChanged = hs.term !== prevHs.term || hs.vote !== prevHs.vote ||
      hs.commit !== prevHs.commit;
    const softChanged = ss.leaderId !== this.#prevSoftState.leaderId ||
      ss.role !== this.#prevSoftState.role;
    const entries = [...r.log.unstableEntries()];
    const snapshot = r.log.unstableSnapshot();
    const committedEntries = r.log.nextCommittedEntries(r.cfg.maxCommittedSizePerReadyBytes);
    const rd: Ready = {
      ...(softChanged ? { softState: ss } : {}),
      ...(hardChanged ? { hardState: hs } : {}),
      entries,
      ...(snapshot ? { snapshot } : {}),
      committedEntries,
      messages: r.msgs,
      messagesAfterPersist: r.msgsAfterPersist,
      readStates: r.readStates,
    };
    r.msgs = [];
    r.msgsAfterPersist = [];
    r.readStates = [];
    if (softChanged) this.#prevSoftState = ss;
    this.#outstanding = {
      ...(hardChanged ? { hardState: hs } : {}),
      ...(entries.length > 0 ? { lastEntry: entries[entries.length - 1] } : {}),
      snapshotIndex: snapshot ? snapshot.meta.index : 0,
      committedEntries,
    };
    return rd;
  }

  /** Acknowledges the last `Ready`: its writes are durable and its committed entries applied. */
  advance(): void {
    const out = this.#outstanding;
    if (!out) {
      throw new RaftError("ILLEGAL_STATE", "advance() called without an outstanding ready()");
    }
    this.#outstanding = undefined;
    const r = this.#raft;
    if (out.hardState) this.#prevHardState = out.hardState;
    if (out.snapshotIndex > 0) {
      r.log.stableSnapTo(out.snapshotIndex);
      r.log.appliedTo(out.snapshotIndex);
    }
    if (out.lastEntry) r.log.stableTo(out.lastEntry.index, out.lastEntry.term);
    const applied = out.committedEntries;
    if (applied.length > 0) {
      r.log.appliedTo(applied[applied.length - 1].index);
      r.onApplied(applied);
    }
    r.onPersisted();
  }

  /** The current term. */
  get term(): number {
    return this.#raft.term;
  }

  /** The current role. */
  get role(): Role {
    return this.#raft.role;
  }

  /** The known leader, or `NO_NODE`. */
  get leaderId(): NodeId {
    return this.#raft.lead;
  }

  /** The commit index. */
  get commitIndex(): number {
    return this.#raft.log.committed;
  }

  /** The first index still in the log (one past the snapshot). */
  get firstIndex(): number {
    return this.#raft.log.firstIndex();
  }

  /** The last index in the log (persisted or not). */
  get lastIndex(): number {
    return this.#raft.log.lastIndex();
  }

  /** The latest membership in this node's log. */
  get config(): ClusterConfig {
    return this.#raft.config;
  }

  /** The node's current state. */
  status(): RaftStatus {
    const r = this.#raft;
    const progress = new Map<NodeId, { match: number; next: number; state: string }>();
    for (const [id, pr] of r.progress) {
      progress.set(id, { match: pr.match, next: pr.next, state: pr.state });
    }
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      commit: r.log.committed,
      applied: r.log.applied,
      leaderId: r.lead,
      role: r.role,
      config: r.config,
      firstIndex: r.log.firstIndex(),
      lastIndex: r.log.lastIndex(),
      progress,
      droppedMessages: r.droppedMessages,
    };
  }

  /** Entries `lo <= index < hi` of this node's log (stable or not), at most `maxBytes` after the first. */
  logEntries(lo: number, hi: number, maxBytes: number = Number.MAX_SAFE_INTEGER): Entry[] {
    return this.#raft.log.slice(lo, hi, maxBytes);
  }

  /** Term of the entry at `index` in this node's log, or `undefined` if compacted or absent. */
  logTerm(index: number): number | undefined {
    const t = this.#raft.log.termOr(index, -1);
    return t < 0 ? undefined : t;
  }
}
