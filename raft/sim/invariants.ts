/**
 * The safety invariants the simulator checks after every event, kept
 * incremental so that a check costs O(nodes) plus the entries that changed:
 *
 * - election safety: at most one leader per term;
 * - log matching: every (index, term) ever written to any disk has one hash
 *   of the log prefix it ends (a hash chain over the entries);
 * - leader completeness: a new leader of term T holds every entry committed
 *   in a term below T;
 * - state-machine safety: every node commits and applies the same entry at an
 *   index, and reaches the same state there (snapshots included);
 * - term and commit never decrease on a node while it runs, its durable hard
 *   state never regresses, and a restart resumes at least from it;
 * - ReadIndex: a read point is at least the highest commit index any node
 *   knew when the read was issued.
 *
 * @module
 */

import type { RawNode } from "../raw_node.ts";
import type { Entry, NodeId, Snapshot } from "../types.ts";
import { entryFingerprint, mixHash } from "./hash.ts";
import type { DiskObserver, SimDisk } from "./sim_disk.ts";

/**
 * A broken safety property; the message says which and where.
 *
 * @example
 * ```ts
 * import { InvariantChecker, InvariantViolation } from "@strom/raft/sim";
 * try {
 *   new InvariantChecker().onReadState(1, 5, 4);
 * } catch (e) {
 *   if (!(e instanceof InvariantViolation)) throw e;
 * }
 * ```
 */
export class InvariantViolation extends Error {
  /** Creates the violation report. */
  constructor(message: string) {
    super(message);
    this.name = "InvariantViolation";
  }
}

interface NodeTrack {
  /** Index of `chain[0]` (the disk's snapshot index). */
  base: number;
  /** `chain[k]`: hash of the disk's log prefix ending at `base + k`. */
  chain: number[];
  lastTerm: number;
  lastCommit: number;
  durableTerm: number;
  durableCommit: number;
  /** Term in which this node was last seen leading (to detect new leaderships). */
  ledTerm: number;
}

/** What the checker needs to see of a running node. */
export interface CheckedNode {
  /** The node id. */
  readonly id: NodeId;
  /** Its running core. */
  readonly raw: RawNode;
}

const key = (index: number, term: number) => index * 0x20_0000 + term;

/**
 * Incremental invariant checks over a simulated cluster.
 *
 * @example
 * ```ts
 * import { InvariantChecker } from "@strom/raft/sim";
 * const checker = new InvariantChecker();
 * checker.checkAfterEvent([]);
 * if (checker.checks !== 1) throw new Error("one check ran");
 * ```
 */
export class InvariantChecker implements DiskObserver {
  /** Node-level invariant evaluations run (each covers every property above for one node). */
  checks = 0;
  /** The leader seen in each term. */
  readonly leaderOfTerm: Map<number, NodeId> = new Map();
  #committedFp: number[] = [];
  #commitTerm: number[] = [];
  #appliedHash: number[] = [];
  #maxCommit = 0;
  readonly #chainAt: Map<number, number> = new Map([[key(0, 0), 0]]);
  readonly #nodes: Map<NodeId, NodeTrack> = new Map();

  #track(id: NodeId): NodeTrack {
    let t = this.#nodes.get(id);
    if (!t) {
      t = {
        base: 0,
        chain: [0],
        lastTerm: 0,
        lastCommit: 0,
        durableTerm: 0,
        durableCommit: 0,
        ledTerm: 0,
      };
      this.#nodes.set(id, t);
    }
    return t;
  }

  /** Reports a violation. */
  fail(message: string): never {
    throw new InvariantViolation(message);
  }

  /** The highest commit index any node has reached. */
  get maxCommit(): number {
    return this.#maxCommit;
  }

  // ----------------------------------------------------------- log matching

  #chainEntry(nodeId: NodeId, t: NodeTrack, e: Entry): void {
    const at = e.index - t.base;
    if (at <= 0) return;
    if (at > t.chain.length) this.fail(`node ${nodeId} wrote entry ${e.index} after a gap`);
    t.chain.length = at;
    const h = mixHash(t.chain[at - 1], entryFingerprint(e));
    t.chain.push(h);
    const k = key(e.index, e.term);
    const seen = this.#chainAt.get(k);
    if (seen === undefined) this.#chainAt.set(k, h);
    else if (seen !== h) {
      this.fail(
        `log matching: node ${nodeId} holds entry (${e.index}, term ${e.term}) ` +
          `after a prefix that differs from another log's`,
      );
    }
  }

  /** Extends the written log's hash chain and checks log matching. */
  onEntriesWritten(disk: SimDisk, entries: readonly Entry[]): void {
    const t = this.#track(disk.nodeId);
    for (const e of entries) this.#chainEntry(disk.nodeId, t, e);
  }

  /** Restarts the hash chain at a written snapshot. */
  onSnapshotWritten(disk: SimDisk, snapshot: Snapshot): void {
    const t = this.#track(disk.nodeId);
    const { index, term } = snapshot.meta;
    if (index <= t.base) return;
    const h = this.#chainAt.get(key(index, term));
    if (h === undefined) this.fail(`snapshot (${index}, term ${term}) ends no log ever written`);
    t.base = index;
    t.chain = [h];
  }

  /** The application compacted `nodeId`'s log up to `index`. */
  onCompacted(nodeId: NodeId, index: number): void {
    const t = this.#track(nodeId);
    if (index <= t.base) return;
    t.chain = t.chain.slice(index - t.base);
    t.base = index;
  }

  /** Rebuilds the hash chain of a disk after a crash left a prefix of it. */
  onDiskReset(disk: SimDisk): void {
    const t = this.#track(disk.nodeId);
    const snap = disk.snapshot();
    const h = this.#chainAt.get(key(snap.meta.index, snap.meta.term));
    if (h === undefined) this.fail(`node ${disk.nodeId} restarted from an unknown snapshot`);
    t.base = snap.meta.index;
    t.chain = [h];
    if (disk.lastIndex() >= disk.firstIndex()) {
      const entries = disk.entries(
        disk.firstIndex(),
        disk.lastIndex() + 1,
        Number.MAX_SAFE_INTEGER,
      );
      for (const e of entries) this.#chainEntry(disk.nodeId, t, e);
    }
  }

  // ---------------------------------------------------- durability and restart

  /** Checks that the durable hard state did not regress. */
  onSynced(disk: SimDisk): void {
    const t = this.#track(disk.nodeId);
    const hs = disk.durableHardState();
    if (hs.term < t.durableTerm || hs.commit < t.durableCommit) {
      this.fail(
        `node ${disk.nodeId}: durable (term, commit) went from (${t.durableTerm}, ${t.durableCommit}) ` +
          `to (${hs.term}, ${hs.commit})`,
      );
    }
    t.durableTerm = hs.term;
    t.durableCommit = hs.commit;
  }

  /** Checks that a restarted node resumes from its durable state. */
  onRestart(node: CheckedNode): void {
    const t = this.#track(node.id);
    const raw = node.raw;
    if (raw.term < t.durableTerm || raw.commitIndex < t.durableCommit) {
      this.fail(
        `node ${node.id} restarted at (term ${raw.term}, commit ${raw.commitIndex}) below its durable ` +
          `(${t.durableTerm}, ${t.durableCommit})`,
      );
    }
    t.lastTerm = raw.term;
    t.lastCommit = raw.commitIndex;
  }

  // ------------------------------------------------------ state machine safety

  /** Checks an applied entry and the state it leads to. */
  onApply(nodeId: NodeId, e: Entry, stateHash: number): void {
    const fp = entryFingerprint(e);
    const known = this.#committedFp[e.index];
    if (known === undefined) this.#committedFp[e.index] = fp;
    else if (known !== fp) {
      this.fail(`state machine safety: node ${nodeId} applied a different entry at ${e.index}`);
    }
    this.#checkState(nodeId, e.index, stateHash);
  }

  /** Checks the state a snapshot restores. */
  onSnapshotInstalled(nodeId: NodeId, index: number, stateHash: number): void {
    this.#checkState(nodeId, index, stateHash);
  }

  #checkState(nodeId: NodeId, index: number, stateHash: number): void {
    const known = this.#appliedHash[index];
    if (known === undefined) this.#appliedHash[index] = stateHash;
    else if (known !== stateHash) {
      this.fail(`state machine safety: node ${nodeId} reached a different state at ${index}`);
    }
  }

  // ------------------------------------------------------------- per event

  /** Checks every running node after one event. */
  checkAfterEvent(nodes: readonly CheckedNode[]): void {
    this.checks += Math.max(1, nodes.length);
    for (const n of nodes) this.#checkNode(n);
  }

  #checkNode(n: CheckedNode): void {
    const raw = n.raw;
    const t = this.#track(n.id);
    const term = raw.term;
    const commit = raw.commitIndex;
    if (term < t.lastTerm) this.fail(`node ${n.id}: term went back from ${t.lastTerm} to ${term}`);
    if (commit < t.lastCommit) {
      this.fail(`node ${n.id}: commit went back from ${t.lastCommit} to ${commit}`);
    }
    if (raw.role === "leader") {
      const other = this.leaderOfTerm.get(term);
      if (other === undefined) this.leaderOfTerm.set(term, n.id);
      else if (other !== n.id) {
        this.fail(`election safety: nodes ${other} and ${n.id} lead term ${term}`);
      }
      if (t.ledTerm !== term) {
        t.ledTerm = term;
        this.#checkLeaderCompleteness(n);
      }
    }
    if (commit > t.lastCommit) this.#recordCommits(n, t.lastCommit, commit);
    t.lastTerm = term;
    t.lastCommit = commit;
  }

  #recordCommits(n: CheckedNode, from: number, to: number): void {
    const lo = Math.max(from + 1, n.raw.firstIndex);
    if (to > this.#maxCommit) this.#maxCommit = to;
    if (lo > to) return;
    const entries = n.raw.logEntries(lo, to + 1);
    for (const e of entries) {
      const fp = entryFingerprint(e);
      const known = this.#committedFp[e.index];
      if (known === undefined) {
        this.#committedFp[e.index] = fp;
        this.#commitTerm[e.index] = n.raw.term;
      } else if (known !== fp) {
        this.fail(`state machine safety: node ${n.id} committed a different entry at ${e.index}`);
      }
    }
  }

  #checkLeaderCompleteness(n: CheckedNode): void {
    const raw = n.raw;
    const lo = raw.firstIndex;
    const hi = Math.min(this.#maxCommit, raw.lastIndex);
    const entries = lo <= hi ? raw.logEntries(lo, hi + 1) : [];
    for (let i = lo; i <= this.#maxCommit; i++) {
      const ct = this.#commitTerm[i];
      if (ct === undefined || ct >= raw.term) continue;
      const e = entries[i - lo];
      if (e === undefined || entryFingerprint(e) !== this.#committedFp[i]) {
        this.fail(
          `leader completeness: leader ${n.id} of term ${raw.term} lacks entry ${i} committed in term ${ct}`,
        );
      }
    }
  }

  /** A read issued when the highest known commit was `minIndex` got read point `index`. */
  onReadState(nodeId: NodeId, minIndex: number, index: number): void {
    if (index < minIndex) {
      this.fail(
        `ReadIndex on node ${nodeId} answered ${index}, below the commit ${minIndex} known at issue`,
      );
    }
  }
}
