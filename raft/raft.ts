/**
 * The Raft protocol as a pure state machine: one {@link Raft} per node, fed
 * with `tick()` and `step(message)`, leaving messages and log changes in its
 * fields for the {@link RawNode} to hand out as a `Ready`. It performs no I/O
 * and reads time and randomness only through its inputs.
 *
 * Invariants (checked where the state changes, and by the simulator):
 * 1. Election safety: at most one leader per term. A node votes at most once
 *    per term (`vote` is persisted before the vote is sent), and a leader
 *    needs votes from a majority of its voters.
 * 2. `term` never decreases; `vote` changes only together with `term` or from
 *    "none" to a candidate.
 * 3. Log matching: appends carry (index, term) of the preceding entry and are
 *    accepted only where it matches, so two logs with the same (index, term)
 *    agree on every entry up to it.
 * 4. Leader completeness: votes go only to candidates whose log is at least as
 *    up to date; a leader commits only entries of its own term by counting
 *    replicas (older entries commit indirectly), so every committed entry is
 *    in every later leader's log.
 * 5. The commit index never decreases and never exceeds the last index;
 *    committed entries are never truncated.
 * 6. Membership changes one server at a time; a leader proposes a change only
 *    after every earlier change and an entry of its own term are committed.
 *    Each node uses the latest membership in its log.
 * 7. A leader counts its own log for commitment only once it is persisted;
 *    votes and append acknowledgements leave only after persistence.
 *
 * @module
 */

import { applyConfigChange, decodeConfigEntry, encodeConfigEntry } from "./config_change.ts";
import type { ConfigChange } from "./config_change.ts";
import type { ResolvedRaftConfig } from "./config.ts";
import { assertInvariant, RaftError, RaftInvariantError } from "./errors.ts";
import type {
  AppendMessage,
  AppendResponseMessage,
  HeartbeatMessage,
  HeartbeatResponseMessage,
  Message,
  PreVoteMessage,
  SnapshotChunkMessage,
  SnapshotResponseMessage,
  VoteMessage,
} from "./message.ts";
import { Progress } from "./progress.ts";
import { committedIndex, hasQuorum, voteOutcome } from "./quorum.ts";
import { RaftLog } from "./raft_log.ts";
import type { RaftStorage } from "./storage.ts";
import { NO_NODE } from "./types.ts";
import type { ClusterConfig, Entry, EntryKind, NodeId, Snapshot, SnapshotMeta } from "./types.ts";

/** The role a node plays. */
export type Role = "follower" | "preCandidate" | "candidate" | "leader";

/** The answer to a ReadIndex request: reads are linearizable once `index` is applied. */
export interface ReadState {
  /** Apply up to this index, then serve the read. */
  readonly index: number;
  /** The context passed to `readIndex()`. */
  readonly context: Uint8Array;
}

/** What happened to a proposal. */
export type ProposeResult =
  | { readonly status: "appended"; readonly index: number; readonly term: number }
  | { readonly status: "forwarded"; readonly leaderId: NodeId };

interface PendingRead {
  readonly seq: number;
  /** Apply up to this index, then serve the read. */
  readonly index: number;
  /** The context passed to `readIndex()`. */
  readonly context: Uint8Array;
  readonly from: NodeId;
}

interface IncomingSnapshot {
  readonly meta: SnapshotMeta;
  readonly totalBytes: number;
  readonly chunks: Uint8Array[];
  received: number;
}

type Outgoing = Message extends infer M ? M extends Message ? Omit<M, "from" | "term"> & {
      term?: number;
    }
  : never
  : never;

const EMPTY = new Uint8Array(0);

/** One Raft node's protocol state. Drive it through {@link RawNode}. */
export class Raft {
  readonly id: NodeId;
  readonly cfg: ResolvedRaftConfig;
  readonly log: RaftLog;
  term = 0;
  vote: NodeId = NO_NODE;
  lead: NodeId = NO_NODE;
  role: Role = "follower";
  /** The latest membership in the log. */
  config: ClusterConfig = { voters: [], learners: [] };
  /** Index of the entry (or snapshot) that set `config`. */
  configIndex = 0;
  /** Leader only: one entry per member, including this node while it is a member. */
  readonly progress: Map<NodeId, Progress> = new Map();
  readonly votes: Map<NodeId, boolean> = new Map();
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  leadTransferee: NodeId = NO_NODE;
  /** Leader only: index of the latest config entry (or the election no-op); no new change until it commits. */
  pendingConfIndex = 0;
  /** Leader only: data bytes proposed in this term and not yet applied. */
  uncommittedBytes = 0;
  /** Leader only: ReadIndex bookkeeping. */
  readSeq = 0;
  pendingReads: PendingRead[] = [];
  readsAwaitingCommit: { context: Uint8Array; from: NodeId }[] = [];
  readonly ackedReadSeq: Map<NodeId, number> = new Map();
  readStates: ReadState[] = [];
  msgs: Message[] = [];
  msgsAfterPersist: Message[] = [];
  /** Messages dropped because the outgoing queues were at `maxPendingMessages`. */
  droppedMessages = 0;
  incoming: IncomingSnapshot | undefined;

  constructor(cfg: ResolvedRaftConfig, storage: RaftStorage) {
    this.id = cfg.id;
    this.cfg = cfg;
    const init = storage.initialState();
    this.log = new RaftLog(storage, 0);
    const hs = init.hardState;
    if (hs.commit > this.log.lastIndex()) {
      throw new RaftError(
        "ILLEGAL_STATE",
        `stored commit ${hs.commit} is beyond the stored log (last index ${this.log.lastIndex()})`,
      );
    }
    this.log.commitTo(hs.commit);
    if (cfg.applied > this.log.committed) {
      throw new RaftError(
        "INVALID_CONFIG",
        `applied ${cfg.applied} is beyond the commit index ${this.log.committed}`,
      );
    }
    this.log.appliedTo(cfg.applied);
    this.term = hs.term;
    this.vote = hs.vote;
    this.rescanConfig(this.log.lastIndex());
    this.becomeFollower(this.term, NO_NODE);
  }

  // ---------------------------------------------------------------- helpers

  promotable(): boolean {
    return this.config.voters.includes(this.id);
  }

  send(m: Outgoing, afterPersist = false): void {
    if (this.msgs.length + this.msgsAfterPersist.length >= this.cfg.maxPendingMessages) {
      this.droppedMessages++;
      return;
    }
    const full = { ...m, from: this.id, term: m.term ?? this.term } as Message;
    (afterPersist ? this.msgsAfterPersist : this.msgs).push(full);
  }

  #resetRandomizedElectionTimeout(): void {
    const t = this.cfg.electionTimeoutTicks;
    this.randomizedElectionTimeout = t + this.cfg.random.nextInt(t);
  }

  #reset(term: number): void {
    if (this.term !== term) {
      assertInvariant(term > this.term, `term would go back from ${this.term} to ${term}`);
      this.term = term;
      this.vote = NO_NODE;
      this.incoming = undefined;
    }
    this.lead = NO_NODE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.#resetRandomizedElectionTimeout();
    this.leadTransferee = NO_NODE;
    this.votes.clear();
    this.progress.clear();
    this.pendingReads = [];
    this.readsAwaitingCommit = [];
    this.ackedReadSeq.clear();
    this.uncommittedBytes = 0;
    this.pendingConfIndex = 0;
  }

  // ------------------------------------------------------------ transitions

  becomeFollower(term: number, lead: NodeId): void {
    this.#reset(term);
    this.lead = lead;
    this.role = "follower";
  }

  becomePreCandidate(): void {
    if (this.role === "leader") throw new RaftInvariantError("leader → pre-candidate is illegal");
    // Neither term nor vote change: a pre-vote disturbs nobody.
    this.votes.clear();
    this.lead = NO_NODE;
    this.electionElapsed = 0;
    this.#resetRandomizedElectionTimeout();
    this.role = "preCandidate";
  }

  becomeCandidate(): void {
    if (this.role === "leader") throw new RaftInvariantError("leader → candidate is illegal");
    this.#reset(this.term + 1);
    this.vote = this.id;
    this.role = "candidate";
  }

  becomeLeader(): void {
    if (this.role !== "candidate") {
      throw new RaftInvariantError(`${this.role} → leader is illegal (only a candidate can win)`);
    }
    this.#reset(this.term);
    this.lead = this.id;
    this.role = "leader";
    this.#syncProgress();
    const self = this.progress.get(this.id);
    if (self) {
      self.maybeUpdate(this.log.stableLastIndex());
      self.becomeReplicate();
      self.recentActive = true;
    }
    // The no-op commits everything before it; no membership change until it has.
    this.#appendAsLeader([{ kind: "noop", data: EMPTY }]);
    this.pendingConfIndex = this.log.lastIndex();
  }

  /** Creates progress for new members and drops it for removed ones (leader only). */
  #syncProgress(): void {
    const members = [...this.config.voters, ...this.config.learners];
    for (const id of members) {
      if (!this.progress.has(id)) {
        const pr = new Progress({
          next: this.log.lastIndex() + 1,
          maxInflightMsgs: this.cfg.maxInflightMsgs,
        });
        this.progress.set(id, pr);
      }
    }
    for (const id of [...this.progress.keys()]) {
      if (!members.includes(id)) this.progress.delete(id);
    }
  }

  // -------------------------------------------------------------- membership

  /** Adopts `config`, set by the entry (or snapshot) at `index`. */
  setConfig(config: ClusterConfig, index: number): void {
    this.config = config;
    this.configIndex = index;
    if (this.role !== "leader") return;
    this.#syncProgress();
    if (this.leadTransferee !== NO_NODE && !config.voters.includes(this.leadTransferee)) {
      this.leadTransferee = NO_NODE;
    }
  }

  /** Recomputes the membership from the log at or below `from` (after a truncation). */
  rescanConfig(from: number): void {
    const first = this.log.firstIndex();
    for (let i = from; i >= first; i--) {
      const [e] = this.log.slice(i, i + 1, 0);
      if (e.kind === "config") {
        this.setConfig(decodeConfigEntry(e.data).config, i);
        return;
      }
    }
    const snap = this.log.snapshot();
    this.setConfig(snap.meta.config, snap.meta.index);
  }

  /** Keeps `config` in step with appended `entries`, given where the log was truncated (0: nowhere). */
  #afterAppend(entries: readonly Entry[], truncatedAt: number): void {
    if (truncatedAt !== 0 && this.configIndex >= truncatedAt) this.rescanConfig(truncatedAt - 1);
    for (let i = entries.length - 1; i >= 0; i--) {
      if (entries[i].kind === "config") {
        this.setConfig(decodeConfigEntry(entries[i].data).config, entries[i].index);
        return;
      }
    }
  }

  // ------------------------------------------------------------------ inputs

  tick(): void {
    if (this.role === "leader") this.#tickHeartbeat();
    else this.#tickElection();
  }

  #tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  #tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTimeoutTicks) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum && !this.#quorumActive()) {
        this.becomeFollower(this.term, NO_NODE);
        return;
      }
      // A transfer that did not finish within an election timeout is abandoned.
      this.leadTransferee = NO_NODE;
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.#bcastHeartbeat();
    }
  }

  /** Whether a majority answered during the last election timeout; resets the marks. */
  #quorumActive(): boolean {
    const active = hasQuorum(
      this.config.voters,
      (id) => id === this.id || (this.progress.get(id)?.recentActive ?? false),
    );
    for (const [id, pr] of this.progress) pr.recentActive = id === this.id;
    return active;
  }

  /** Starts an election if this node may (`transfer`: skip pre-vote and leases). */
  hup(transfer: boolean): void {
    if (this.role === "leader" || !this.promotable()) return;
    if (this.cfg.preVote && !transfer) this.#campaign("preVote", false);
    else this.#campaign("vote", transfer);
  }

  #campaign(kind: "preVote" | "vote", transfer: boolean): void {
    let voteTerm: number;
    if (kind === "preVote") {
      this.becomePreCandidate();
      voteTerm = this.term + 1;
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
    }
    this.votes.set(this.id, true);
    if (this.tally()) return;
    const index = this.log.lastIndex();
    const logTerm = this.log.lastTerm();
    for (const to of this.config.voters) {
      if (to === this.id) continue;
      if (kind === "preVote") {
        this.send({ type: "preVote", to, term: voteTerm, index, logTerm });
      } else {
        // Sent only once the new term and the self-vote are persisted.
        this.send({ type: "vote", to, term: voteTerm, index, logTerm, transfer }, true);
      }
    }
  }

  /** Counts votes; acts on a decided election and says whether it was decided. */
  tally(): boolean {
    const outcome = voteOutcome(this.config.voters, this.votes);
    if (outcome === "pending") return false;
    if (outcome === "lost") {
      this.becomeFollower(this.term, NO_NODE);
    } else if (this.role === "preCandidate") {
      this.#campaign("vote", false);
    } else {
      this.becomeLeader();
    }
    return true;
  }

  /** The single entry point for messages from peers. */
  step(m: Message): void {
    if (m.to !== this.id) return;
    if (m.term > this.term) {
      if (m.type === "vote" || m.type === "preVote") {
        const transfer = m.type === "vote" && m.transfer;
        const inLease = this.cfg.checkQuorum && this.lead !== NO_NODE &&
          this.electionElapsed < this.cfg.electionTimeoutTicks;
        // A live leader is heard from: ignore disruptive campaigns (e.g. a rejoining node).
        if (inLease && !transfer) return;
      }
      if (m.type === "preVote" || (m.type === "preVoteResp" && !m.reject)) {
        // Pre-votes never change terms.
      } else {
        const fromLeader = m.type === "app" || m.type === "heartbeat" || m.type === "snapshot";
        this.becomeFollower(m.term, fromLeader ? m.from : NO_NODE);
      }
    } else if (m.term < this.term) {
      if (
        m.type === "app" || m.type === "heartbeat"
      ) {
        // Tell a stale leader the new term (with pre-vote or leases it might never learn it otherwise).
        this.send({
          type: "appResp",
          to: m.from,
          index: 0,
          reject: false,
          rejectHint: 0,
          logTerm: 0,
        });
      } else if (m.type === "preVote") {
        this.send({ type: "preVoteResp", to: m.from, reject: true });
      }
      return;
    }
    if (m.type === "vote" || m.type === "preVote") {
      this.#handleVoteRequest(m);
      return;
    }
    switch (this.role) {
      case "follower":
        stepFollower(this, m);
        return;
      case "preCandidate":
        stepPreCandidate(this, m);
        return;
      case "candidate":
        stepCandidate(this, m);
        return;
      case "leader":
        stepLeader(this, m);
        return;
    }
  }

  #handleVoteRequest(m: VoteMessage | PreVoteMessage): void {
    const isPre = m.type === "preVote";
    const canVote = this.vote === m.from ||
      (this.vote === NO_NODE && this.lead === NO_NODE) ||
      (isPre && m.term > this.term);
    const grant = canVote && this.log.isUpToDate(m.index, m.logTerm);
    if (isPre) {
      this.send({
        type: "preVoteResp",
        to: m.from,
        term: grant ? m.term : this.term,
        reject: !grant,
      });
      return;
    }
    if (grant) {
      this.electionElapsed = 0;
      this.vote = m.from;
    }
    this.send({ type: "voteResp", to: m.from, reject: !grant }, true);
  }

  // ------------------------------------------------------- follower handling

  handleAppend(m: AppendMessage): void {
    const log = this.log;
    if (m.index < log.committed) {
      this.#respondAppend(m.from, log.committed);
      return;
    }
    if (!log.matchTerm(m.index, m.logTerm)) {
      const hint = log.findConflictByTerm(Math.min(m.index, log.lastIndex()), m.logTerm);
      this.send({
        type: "appResp",
        to: m.from,
        index: m.index,
        reject: true,
        rejectHint: hint.index,
        logTerm: hint.term,
      }, true);
      return;
    }
    const lastNew = m.index + m.entries.length;
    const conflict = log.findConflict(m.entries);
    if (conflict !== 0) {
      assertInvariant(
        conflict > log.committed,
        `entry ${conflict} conflicts with committed ${log.committed}`,
      );
      const fresh = m.entries.slice(conflict - m.index - 1);
      this.#afterAppend(fresh, log.append(fresh));
    }
    log.commitTo(Math.min(m.commit, lastNew));
    this.#respondAppend(m.from, lastNew);
  }

  #respondAppend(to: NodeId, index: number): void {
    this.send({ type: "appResp", to, index, reject: false, rejectHint: 0, logTerm: 0 }, true);
  }

  handleHeartbeat(m: HeartbeatMessage): void {
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.send({ type: "heartbeatResp", to: m.from, readSeq: m.readSeq });
  }

  handleSnapshotChunk(m: SnapshotChunkMessage): void {
    const meta = m.meta;
    if (meta.index <= this.log.committed) {
      // Already covered (perhaps the install was acknowledged and the answer lost).
      this.incoming = undefined;
      this.#respondAppend(m.from, this.log.committed);
      return;
    }
    if (m.totalBytes > this.cfg.maxSnapshotBytes) return;
    let inc = this.incoming;
    const same = inc !== undefined && inc.meta.index === meta.index && inc.meta.term === meta.term;
    if (m.offset === 0 && !same) {
      inc = { meta, totalBytes: m.totalBytes, chunks: [], received: 0 };
      this.incoming = inc;
    } else if (!same || inc === undefined) {
      this.send({ type: "snapshotResp", to: m.from, index: meta.index, nextOffset: 0 });
      return;
    }
    if (m.offset === inc.received && m.totalBytes === inc.totalBytes) {
      inc.chunks.push(m.data);
      inc.received += m.data.byteLength;
    }
    if (inc.received < inc.totalBytes) {
      this.send({ type: "snapshotResp", to: m.from, index: meta.index, nextOffset: inc.received });
      return;
    }
    this.incoming = undefined;
    const data = new Uint8Array(inc.totalBytes);
    let at = 0;
    for (const c of inc.chunks) {
      data.set(c, at);
      at += c.byteLength;
    }
    if (this.restore({ meta, data })) this.#respondAppend(m.from, this.log.lastIndex());
    else this.#respondAppend(m.from, this.log.committed);
  }

  /** Installs a leader's snapshot; false if the log already covers it. */
  restore(snapshot: Snapshot): boolean {
    const { index, term } = snapshot.meta;
    if (index <= this.log.committed) return false;
    if (this.log.matchTerm(index, term)) {
      // The log already has the snapshot's last entry, hence everything before it.
      this.log.commitTo(index);
      return false;
    }
    this.log.restore(snapshot);
    this.setConfig(snapshot.meta.config, index);
    return true;
  }

  // --------------------------------------------------------- leader handling

  #appendAsLeader(items: readonly { kind: EntryKind; data: Uint8Array }[]): Entry[] {
    let bytes = 0;
    for (const it of items) bytes += it.data.byteLength;
    if (
      this.uncommittedBytes > 0 &&
      this.uncommittedBytes + bytes > this.cfg.maxUncommittedEntriesBytes
    ) {
      throw new RaftError(
        "UNCOMMITTED_BYTES_EXCEEDED",
        `${this.uncommittedBytes} uncommitted bytes plus ${bytes} would exceed maxUncommittedEntriesBytes ` +
          `(${this.cfg.maxUncommittedEntriesBytes}); retry once entries commit`,
        { leaderId: this.id },
      );
    }
    this.uncommittedBytes += bytes;
    const last = this.log.lastIndex();
    const entries = items.map((it, i) => ({
      index: last + 1 + i,
      term: this.term,
      kind: it.kind,
      data: it.data,
    }));
    this.#afterAppend(entries, this.log.append(entries));
    this.bcastAppend();
    return entries;
  }

  #checkProposable(data: Uint8Array): void {
    if (data.byteLength > this.cfg.maxSizePerMsgBytes) {
      throw new RaftError(
        "MESSAGE_TOO_LARGE",
        `entry of ${data.byteLength} bytes exceeds maxSizePerMsgBytes (${this.cfg.maxSizePerMsgBytes})`,
      );
    }
    if (this.role !== "leader") {
      throw new RaftError("NOT_LEADER", `node ${this.id} is a ${this.role}, not the leader`, {
        leaderId: this.lead,
      });
    }
    if (this.leadTransferee !== NO_NODE) {
      throw new RaftError(
        "LEADER_TRANSFER_IN_PROGRESS",
        `leadership is moving to node ${this.leadTransferee}`,
        { leaderId: this.id },
      );
    }
  }

  propose(data: Uint8Array): ProposeResult {
    if (this.role !== "leader" && this.cfg.forwardProposals && this.lead !== NO_NODE) {
      if (data.byteLength > this.cfg.maxSizePerMsgBytes) this.#checkProposable(data);
      this.send({ type: "propose", to: this.lead, data: [data] });
      return { status: "forwarded", leaderId: this.lead };
    }
    this.#checkProposable(data);
    const [e] = this.#appendAsLeader([{ kind: "normal", data }]);
    return { status: "appended", index: e.index, term: e.term };
  }

  proposeConfigChange(change: ConfigChange): ProposeResult {
    const data = encodeConfigEntry({ change, config: { voters: [], learners: [] } });
    this.#checkProposable(data);
    if (this.pendingConfIndex > this.log.committed) {
      throw new RaftError(
        "CONFIG_CHANGE_IN_PROGRESS",
        `the membership change at index ${this.pendingConfIndex} is not committed yet`,
        { leaderId: this.id },
      );
    }
    const config = applyConfigChange(this.config, change);
    if (change.type === "addVoter" && this.config.learners.includes(change.nodeId)) {
      const match = this.progress.get(change.nodeId)?.match ?? 0;
      if (match < this.log.committed) {
        throw new RaftError(
          "LEARNER_NOT_CAUGHT_UP",
          `learner ${change.nodeId} has ${match} of ${this.log.committed} committed entries`,
          { leaderId: this.id },
        );
      }
    }
    const [e] = this.#appendAsLeader([{
      kind: "config",
      data: encodeConfigEntry({ change, config }),
    }]);
    this.pendingConfIndex = e.index;
    return { status: "appended", index: e.index, term: e.term };
  }

  transferLeadership(target: NodeId): void {
    if (this.role !== "leader") {
      throw new RaftError("NOT_LEADER", `node ${this.id} is not the leader`, {
        leaderId: this.lead,
      });
    }
    if (target === this.id) return;
    if (!this.config.voters.includes(target)) {
      throw new RaftError("INVALID_TRANSFER_TARGET", `node ${target} is not a voter`);
    }
    if (this.leadTransferee === target) return;
    this.leadTransferee = target;
    this.electionElapsed = 0;
    const pr = this.progress.get(target);
    if (!pr) return;
    if (pr.match === this.log.lastIndex()) this.send({ type: "timeoutNow", to: target });
    else this.sendAppend(target, pr, true);
  }

  /** Sends an append (or a snapshot) to `to` if its pacing allows; says whether anything was sent. */
  sendAppend(to: NodeId, pr: Progress, sendIfEmpty: boolean): boolean {
    if (pr.isPaused()) return false;
    const log = this.log;
    const prevIndex = pr.next - 1;
    const prevTerm = log.termOr(prevIndex, -1);
    if (prevTerm < 0) return this.#sendSnapshot(to, pr);
    const entries = log.slice(pr.next, log.lastIndex() + 1, this.cfg.maxSizePerMsgBytes);
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send({
      type: "app",
      to,
      index: prevIndex,
      logTerm: prevTerm,
      entries,
      commit: log.committed,
    });
    pr.sentEntries(prevIndex + entries.length, entries.length);
    return true;
  }

  #sendSnapshot(to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) return false;
    pr.becomeSnapshot(this.log.snapshot().meta.index);
    this.#sendSnapshotChunk(to, pr);
    return true;
  }

  #sendSnapshotChunk(to: NodeId, pr: Progress): void {
    const snap = this.log.snapshot();
    if (snap.meta.index !== pr.pendingSnapshotIndex) pr.becomeSnapshot(snap.meta.index);
    const total = snap.data.byteLength;
    const offset = Math.min(pr.snapshotOffset, total);
    const end = Math.min(total, offset + this.cfg.maxSnapshotChunkBytes);
    this.send({
      type: "snapshot",
      to,
      meta: snap.meta,
      totalBytes: total,
      offset,
      data: snap.data.subarray(offset, end),
    });
  }

  bcastAppend(): void {
    for (const [id, pr] of this.progress) if (id !== this.id) this.sendAppend(id, pr, true);
  }

  #bcastHeartbeat(): void {
    const readSeq = this.pendingReads.length > 0 ? this.readSeq : 0;
    for (const [to, pr] of this.progress) {
      if (to === this.id) continue;
      this.send({
        type: "heartbeat",
        to,
        commit: Math.min(pr.match, this.log.committed),
        readSeq,
      });
      if (pr.state === "snapshot") {
        // Chunks are not acknowledged reliably; resend one that went unanswered.
        if (!pr.snapshotAcked && pr.recentActive) this.#sendSnapshotChunk(to, pr);
        pr.snapshotAcked = false;
      }
    }
  }

  /** Advances the commit index to what a majority holds, if that entry is of this term. */
  maybeCommit(): boolean {
    const mci = committedIndex(this.config.voters, (id) => this.progress.get(id)?.match ?? 0);
    if (mci <= this.log.committed || this.log.termOr(mci, 0) !== this.term) return false;
    this.log.commitTo(mci);
    this.#afterCommit();
    return true;
  }

  #afterCommit(): void {
    if (this.readsAwaitingCommit.length > 0) {
      const waiting = this.readsAwaitingCommit;
      this.readsAwaitingCommit = [];
      for (const r of waiting) this.#handleReadRequest(r.from, r.context);
    }
    if (!this.promotable() && this.configIndex <= this.log.committed) this.#stepDownRemoved();
  }

  /** A leader whose removal committed hands over to the most caught-up voter and steps down. */
  #stepDownRemoved(): void {
    let best = NO_NODE;
    let bestMatch = -1;
    for (const id of this.config.voters) {
      const m = this.progress.get(id)?.match ?? 0;
      if (m > bestMatch) {
        best = id;
        bestMatch = m;
      }
    }
    if (best !== NO_NODE && bestMatch === this.log.lastIndex()) {
      this.send({ type: "timeoutNow", to: best });
    }
    this.becomeFollower(this.term, NO_NODE);
  }

  handleAppendResponse(m: AppendResponseMessage): void {
    const pr = this.progress.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    if (m.reject) {
      const hint = m.logTerm > 0
        ? this.log.findConflictByTerm(m.rejectHint, m.logTerm).index
        : m.rejectHint;
      if (pr.maybeDecrTo(m.index, hint)) {
        if (pr.state === "replicate") pr.becomeProbe();
        this.sendAppend(m.from, pr, true);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(Math.min(m.index, this.log.lastIndex()))) return;
    if (pr.state === "probe") {
      pr.becomeReplicate();
    } else if (pr.state === "snapshot") {
      if (pr.match + 1 >= this.log.firstIndex()) pr.becomeReplicate();
    } else {
      pr.inflights.freeLE(m.index);
    }
    if (this.maybeCommit()) {
      if (this.role !== "leader") return;
      this.bcastAppend();
    } else if (wasPaused) {
      this.sendAppend(m.from, pr, true);
    }
    while (this.sendAppend(m.from, pr, false)) { /* fill the inflight window */ }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.send({ type: "timeoutNow", to: m.from });
    }
  }

  handleHeartbeatResponse(m: HeartbeatResponseMessage): void {
    const pr = this.progress.get(m.from);
    if (!pr) return;
    pr.recentActive = true;
    pr.probeSent = false;
    // A full window with a live follower means acknowledgements were lost: make room for one.
    if (pr.state === "replicate" && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.state !== "snapshot" && pr.match < this.log.lastIndex()) {
      this.sendAppend(m.from, pr, true);
    }
    if (m.readSeq > 0 && m.readSeq > (this.ackedReadSeq.get(m.from) ?? 0)) {
      this.ackedReadSeq.set(m.from, m.readSeq);
      this.#releaseReads();
    }
  }

  handleSnapshotResponse(m: SnapshotResponseMessage): void {
    const pr = this.progress.get(m.from);
    if (!pr || pr.state !== "snapshot" || m.index !== pr.pendingSnapshotIndex) return;
    pr.recentActive = true;
    pr.snapshotAcked = true;
    const total = this.log.snapshot().meta.index === m.index
      ? this.log.snapshot().data.byteLength
      : 0;
    pr.snapshotOffset = m.nextOffset;
    if (m.nextOffset < total || total === 0) this.#sendSnapshotChunk(m.from, pr);
  }

  // -------------------------------------------------------------- ReadIndex

  readIndex(context: Uint8Array): void {
    if (this.role === "leader") {
      this.#handleReadRequest(this.id, context);
      return;
    }
    if (this.lead === NO_NODE) {
      throw new RaftError("NOT_LEADER", `node ${this.id} knows no leader to confirm a read`);
    }
    this.send({ type: "readIndex", to: this.lead, context });
  }

  #committedInTerm(): boolean {
    return this.log.termOr(this.log.committed, 0) === this.term;
  }

  handleReadRequest(from: NodeId, context: Uint8Array): void {
    try {
      this.#handleReadRequest(from, context);
    } catch (e) {
      // A forwarded read that cannot be queued is dropped; the follower retries.
      if (!(e instanceof RaftError)) throw e;
    }
  }

  #handleReadRequest(from: NodeId, context: Uint8Array): void {
    const max = this.cfg.maxPendingReadIndexRequests;
    if (!this.#committedInTerm()) {
      // Until an entry of this term commits, the commit index may be stale.
      if (this.readsAwaitingCommit.length >= max) this.#readQueueFull();
      this.readsAwaitingCommit.push({ context, from });
      return;
    }
    const index = this.log.committed;
    if (hasQuorum(this.config.voters, (id) => id === this.id)) {
      this.#respondRead(from, index, context);
      return;
    }
    if (this.pendingReads.length >= max) this.#readQueueFull();
    this.readSeq++;
    this.pendingReads.push({ seq: this.readSeq, index, context, from });
    this.#bcastHeartbeat();
  }

  #readQueueFull(): never {
    throw new RaftError(
      "READ_INDEX_QUEUE_FULL",
      `${this.cfg.maxPendingReadIndexRequests} ReadIndex requests are already waiting`,
      { leaderId: this.id },
    );
  }

  #releaseReads(): void {
    // The newest request a majority has confirmed leadership for (this node counts as confirmed).
    const confirmed = committedIndex(
      this.config.voters,
      (id) => id === this.id ? Number.MAX_SAFE_INTEGER : this.ackedReadSeq.get(id) ?? 0,
    );
    while (this.pendingReads.length > 0 && this.pendingReads[0].seq <= confirmed) {
      const r = this.pendingReads.shift()!;
      this.#respondRead(r.from, r.index, r.context);
    }
  }

  #respondRead(to: NodeId, index: number, context: Uint8Array): void {
    if (to === this.id) this.readStates.push({ index, context });
    else this.send({ type: "readIndexResp", to, index, context });
  }

  // ------------------------------------------------------------ persistence

  /** Called once the driver has persisted what a `Ready` asked for. */
  onPersisted(): void {
    if (this.role !== "leader") return;
    const self = this.progress.get(this.id);
    if (self && self.maybeUpdate(this.log.stableLastIndex()) && this.maybeCommit()) {
      if (this.role === "leader") this.bcastAppend();
    }
  }

  /** Called with the committed entries the application has applied. */
  onApplied(entries: readonly Entry[]): void {
    if (this.role !== "leader") return;
    let bytes = 0;
    for (const e of entries) bytes += e.data.byteLength;
    this.uncommittedBytes = Math.max(0, this.uncommittedBytes - bytes);
  }
}

// ------------------------------------------------------------ step functions

function stepFollower(r: Raft, m: Message): void {
  switch (m.type) {
    case "app":
      r.electionElapsed = 0;
      r.lead = m.from;
      r.handleAppend(m);
      return;
    case "heartbeat":
      r.electionElapsed = 0;
      r.lead = m.from;
      r.handleHeartbeat(m);
      return;
    case "snapshot":
      r.electionElapsed = 0;
      r.lead = m.from;
      r.handleSnapshotChunk(m);
      return;
    case "timeoutNow":
      r.hup(true);
      return;
    case "readIndexResp":
      r.readStates.push({ index: m.index, context: m.context });
      return;
    default:
      // Responses meant for another role, forwarded requests: not ours to act on.
      return;
  }
}

/** Shared by both candidate roles: a leader of this term exists, so follow it. */
function followLeaderOfTerm(r: Raft, m: Message): boolean {
  if (m.type !== "app" && m.type !== "heartbeat" && m.type !== "snapshot") return false;
  r.becomeFollower(m.term, m.from);
  stepFollower(r, m);
  return true;
}

function stepPreCandidate(r: Raft, m: Message): void {
  if (followLeaderOfTerm(r, m)) return;
  if (m.type === "preVoteResp") {
    r.votes.set(m.from, !m.reject);
    tallyVotes(r);
  }
}

function stepCandidate(r: Raft, m: Message): void {
  if (followLeaderOfTerm(r, m)) return;
  if (m.type === "voteResp") {
    r.votes.set(m.from, !m.reject);
    tallyVotes(r);
  }
}

function tallyVotes(r: Raft): void {
  r.tally();
}

function stepLeader(r: Raft, m: Message): void {
  switch (m.type) {
    case "appResp":
      r.handleAppendResponse(m);
      return;
    case "heartbeatResp":
      r.handleHeartbeatResponse(m);
      return;
    case "snapshotResp":
      r.handleSnapshotResponse(m);
      return;
    case "propose":
      for (const data of m.data) {
        try {
          r.propose(data);
        } catch (e) {
          // A forwarded proposal that cannot be accepted is dropped; the client retries.
          if (!(e instanceof RaftError)) throw e;
        }
      }
      return;
    case "readIndex":
      r.handleReadRequest(m.from, m.context);
      return;
    case "app":
    case "heartbeat":
    case "snapshot":
      throw new RaftInvariantError(
        `leader ${r.id} of term ${r.term} got a ${m.type} from node ${m.from} in the same term`,
      );
    default:
      return;
  }
}
