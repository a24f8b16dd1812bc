import { deepStrictEqual, equal, ok, throws } from "node:assert/strict";
import { RaftError, RaftInvariantError } from "./errors.ts";
import { MemoryStorage } from "./memory_storage.ts";
import { createPrng } from "./prng.ts";
import { Raft } from "./raft.ts";
import { resolveRaftConfig } from "./config.ts";
import { RawNode } from "./raw_node.ts";
import type { RaftConfig } from "./config.ts";

const voters3 = { voters: [1, 2, 3], learners: [] };

function single(options: Partial<RaftConfig> = {}) {
  const storage = new MemoryStorage({ config: { voters: [1], learners: [] } });
  const node = new RawNode({ id: 1, random: createPrng(1), ...options }, storage);
  const drive = () => {
    const applied = [];
    while (node.hasReady()) {
      const rd = node.ready();
      storage.saveSync({ snapshot: rd.snapshot, entries: rd.entries, hardState: rd.hardState });
      applied.push(...rd.committedEntries);
      node.advance();
    }
    return applied;
  };
  return { node, storage, drive };
}

Deno.test("a single voter elects itself and commits its proposals after persisting them", () => {
  const { node, drive } = single();
  node.campaign();
  drive();
  equal(node.role, "leader");
  const result = node.propose(new Uint8Array([7]));
  deepStrictEqual(result, { status: "appended", index: 2, term: 1 });
  equal(node.commitIndex, 1, "not committed before it is persisted");
  const applied = drive();
  equal(node.commitIndex, 2);
  deepStrictEqual(applied.map((e) => e.index), [2]);
});

Deno.test("ready() twice without advance() is refused, and so is advance() without ready()", () => {
  const { node } = single();
  node.campaign();
  node.ready();
  throws(() => node.ready(), (e: unknown) => e instanceof RaftError && e.code === "ILLEGAL_STATE");
  node.advance();
  throws(
    () => node.advance(),
    (e: unknown) => e instanceof RaftError && e.code === "ILLEGAL_STATE",
  );
});

Deno.test("a Ready carries the hard state, entries and soft state of a new leader", () => {
  const { node } = single();
  node.campaign();
  const rd = node.ready();
  deepStrictEqual(rd.hardState, { term: 1, vote: 1, commit: 0 });
  deepStrictEqual(rd.softState, { leaderId: 1, role: "leader" });
  deepStrictEqual(rd.entries.map((e) => [e.index, e.term, e.kind]), [[1, 1, "noop"]]);
  deepStrictEqual(rd.committedEntries, []);
});

Deno.test("vote requests wait for persistence; pre-votes do not", () => {
  const storage = new MemoryStorage({ config: voters3 });
  const node = new RawNode({ id: 1, random: createPrng(1) }, storage);
  node.campaign();
  let rd = node.ready();
  deepStrictEqual(rd.messages.map((m) => [m.type, m.to, m.term]), [["preVote", 2, 1], [
    "preVote",
    3,
    1,
  ]]);
  node.advance();
  node.step({ type: "preVoteResp", from: 2, to: 1, term: 1, reject: false });
  rd = node.ready();
  equal(node.role, "candidate");
  deepStrictEqual(rd.hardState, { term: 1, vote: 1, commit: 0 });
  deepStrictEqual(rd.messages, []);
  deepStrictEqual(rd.messagesAfterPersist.map((m) => [m.type, m.to]), [["vote", 2], ["vote", 3]]);
});

Deno.test("proposals are validated: size, uncommitted bytes, role", () => {
  const { node, drive } = single({ maxSizePerMsgBytes: 8, maxUncommittedEntriesBytes: 10 });
  throws(
    () => node.propose(new Uint8Array(1)),
    (e: unknown) => e instanceof RaftError && e.code === "NOT_LEADER",
  );
  node.campaign();
  drive();
  throws(
    () => node.propose(new Uint8Array(9)),
    (e: unknown) => e instanceof RaftError && e.code === "MESSAGE_TOO_LARGE",
  );
  node.propose(new Uint8Array(8));
  throws(
    () => node.propose(new Uint8Array(8)),
    (e: unknown) =>
      e instanceof RaftError && e.code === "UNCOMMITTED_BYTES_EXCEEDED" && e.retriable,
  );
  drive();
  node.propose(new Uint8Array(8));
});

Deno.test("one membership change at a time", () => {
  const { node, drive } = single();
  node.campaign();
  throws(
    () => node.proposeConfigChange({ type: "addLearner", nodeId: 2 }),
    (e: unknown) => e instanceof RaftError && e.code === "CONFIG_CHANGE_IN_PROGRESS",
  );
  drive();
  node.proposeConfigChange({ type: "addLearner", nodeId: 2 });
  deepStrictEqual(node.config, { voters: [1], learners: [2] }, "used as soon as appended");
  throws(
    () => node.proposeConfigChange({ type: "addLearner", nodeId: 3 }),
    (e: unknown) => e instanceof RaftError && e.code === "CONFIG_CHANGE_IN_PROGRESS",
  );
  drive();
  throws(
    () => node.proposeConfigChange({ type: "removeNode", nodeId: 1 }),
    (e: unknown) => e instanceof RaftError && e.code === "INVALID_CONFIG_CHANGE",
  );
});

Deno.test("illegal role transitions throw", () => {
  const raft = new Raft(
    resolveRaftConfig({ id: 1, random: createPrng(1) }),
    new MemoryStorage({ config: voters3 }),
  );
  throws(() => raft.becomeLeader(), RaftInvariantError);
  raft.becomeCandidate();
  raft.becomeLeader();
  throws(() => raft.becomeCandidate(), RaftInvariantError);
  throws(() => raft.becomePreCandidate(), RaftInvariantError);
});

Deno.test("a node restarts from storage with its term, vote, commit and membership", () => {
  const { node, storage, drive } = single();
  node.campaign();
  drive();
  node.propose(new Uint8Array([1]));
  drive();
  node.proposeConfigChange({ type: "addLearner", nodeId: 9 });
  drive();
  const restarted = new RawNode({ id: 1, random: createPrng(2), applied: 3 }, storage);
  const s = restarted.status();
  deepStrictEqual([s.term, s.vote, s.commit, s.applied, s.role], [1, 1, 3, 3, "follower"]);
  deepStrictEqual(s.config, { voters: [1], learners: [9] });
});

Deno.test("invalid options are refused up front", () => {
  for (
    const bad of [
      { id: 0 },
      { electionTimeoutTicks: 1, heartbeatTicks: 1 },
      { maxInflightMsgs: 0 },
      { maxSizePerMsgBytes: 1.5 },
    ]
  ) {
    throws(
      () => new RawNode({ id: 1, random: createPrng(1), ...bad }, new MemoryStorage()),
      (e: unknown) => e instanceof RaftError && e.code === "INVALID_CONFIG",
    );
  }
});

Deno.test("a leader that loses its quorum steps down after an election timeout", () => {
  const storage = new MemoryStorage({ config: voters3 });
  const node = new RawNode({ id: 1, random: createPrng(1), preVote: false }, storage);
  node.campaign();
  node.ready();
  node.advance();
  node.step({ type: "voteResp", from: 2, to: 1, term: 1, reject: false });
  equal(node.role, "leader");
  for (let i = 0; i < 10; i++) node.tick();
  ok(node.role !== "leader");
});

Deno.test("outgoing messages past maxPendingMessages are dropped and counted, not queued", () => {
  const storage = new MemoryStorage({ config: voters3 });
  const node = new RawNode({ id: 1, random: createPrng(3), maxPendingMessages: 3 }, storage);
  // Ticking past the election timeout without draining Ready: the campaign
  // sends a (pre-)vote to each of the two peers, then every further timeout
  // campaigns again; only 3 messages may wait.
  for (let i = 0; i < 200; i++) node.tick();
  const rd = node.ready();
  ok(rd.messages.length + rd.messagesAfterPersist.length <= 3);
  ok(node.status().droppedMessages > 0, "the overflow was counted");
  node.advance();
});

Deno.test("a negative or zero maxPendingMessages is an invalid config", () => {
  throws(
    () => resolveRaftConfig({ id: 1, random: createPrng(1), maxPendingMessages: 0 }),
    (e: unknown) => e instanceof RaftError && e.code === "INVALID_CONFIG",
  );
});
