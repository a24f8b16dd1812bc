/**
 * Classic Raft edge cases as short scripts over a {@link ScenarioEnv}.
 */
import { deepStrictEqual, equal, notEqual, ok, throws } from "node:assert/strict";
import { RaftError } from "./errors.ts";
import type { Message } from "./message.ts";
import { ScenarioEnv } from "./sim/scenario_env.ts";

/** Delivers until quiet, losing entry `index` (and later ones) from every append on the way. */
function stabilizeLosing(env: ScenarioEnv, index: number): void {
  const strip = (m: Message): Message =>
    m.type === "app" ? { ...m, entries: m.entries.filter((e) => e.index < index) } : m;
  for (let round = 0; round < 100 && env.queue.length > 0; round++) {
    env.queue = env.queue.map(strip);
    env.deliver();
  }
}

Deno.test("Figure 8: a leader does not commit an old-term entry by counting replicas", () => {
  // The paper's setting: no pre-vote, no leases.
  const env = new ScenarioEnv({
    voters: [1, 2, 3, 4, 5],
    raft: { preVote: false, checkQuorum: false },
  });
  env.campaign(1).stabilize(); // 1 leads term 1; its no-op (index 1) commits everywhere
  env.partition(1, 2).propose(1, "old").stabilize(); // index 2 (term 1) only on 1 and 2
  env.campaign(5);
  stabilizeLosing(env, 2); // 5 leads term 2 with 3 and 4; its no-op (index 2) stays local
  env.heal().partition(5).tick(1, [1]).stabilize(); // the stale leader 1 learns of term 2
  env.campaign(1);
  stabilizeLosing(env, 3); // 1 leads term 3 and spreads index 2, but its no-op (index 3) is lost
  equal(env.status(1).role, "leader");
  equal(env.status(1).term, 3);
  ok([1, 2, 3, 4].every((id) => env.node(id).raw.logTerm(2) === 1), "index 2 is on a majority");
  equal(env.status(1).commit, 1, "an old-term entry must not commit by counting");
  env.crash(1).heal().tick(1, [5]).stabilize(); // the stale leader 5 learns of term 3
  env.campaign(5).stabilize(); // 5 (last term 2) wins term 4 and overwrites index 2
  equal(env.leader(), 5);
  env.propose(5, "new").stabilize();
  for (const id of [2, 3, 4, 5]) deepStrictEqual(env.node(id).applied, ["new"]);
});

Deno.test("a partitioned stale leader rejoins as a follower and loses its uncommitted entries", () => {
  const env = new ScenarioEnv({ voters: [1, 2, 3] });
  env.campaign(1).stabilize().propose(1, "a").stabilize();
  env.partition(1).propose(1, "lost").run(40); // 1 steps down (check-quorum); 2 or 3 takes over
  const leader = env.leader();
  notEqual(leader, 1);
  notEqual(env.status(1).role, "leader");
  env.propose(leader, "b").stabilize();
  env.heal().run(5);
  equal(env.leader(), leader, "the old leader does not disrupt the new one");
  for (const id of [1, 2, 3]) deepStrictEqual(env.node(id).applied, ["a", "b"]);
});

Deno.test("pre-vote keeps a partitioned node from inflating terms and disrupting the leader", () => {
  const env = new ScenarioEnv({ voters: [1, 2, 3] });
  env.campaign(1).stabilize();
  const term = env.status(1).term;
  env.partition(3).run(100);
  equal(env.status(3).term, term, "pre-votes never bump the term");
  env.heal().run(10);
  equal(env.leader(), 1);
  equal(env.status(1).term, term);

  const noPreVote = new ScenarioEnv({ voters: [1, 2, 3], raft: { preVote: false } });
  noPreVote.campaign(1).stabilize().partition(3).run(100);
  ok(noPreVote.status(3).term > term + 3, "without pre-vote the isolated node's term climbs");
});

Deno.test("a follower with a long divergent log is repaired with few round trips", () => {
  const env = new ScenarioEnv({ voters: [1, 2, 3] });
  env.campaign(1).stabilize().propose(1, "shared").stabilize();
  env.partition(1);
  for (let i = 0; i < 50; i++) env.propose(1, `divergent-${i}`);
  env.run(40);
  const leader = env.leader();
  notEqual(leader, 1);
  for (let i = 0; i < 20; i++) env.propose(leader, `kept-${i}`).stabilize();
  let rejections = 0;
  env.onDeliver = (m) => {
    if (m.type === "appResp" && m.reject) rejections++;
  };
  env.heal().run(10);
  ok(rejections <= 3, `fast backtracking skips whole terms (${rejections} rejections)`);
  deepStrictEqual(env.node(1).applied, env.node(leader).applied);
  equal(env.status(1).lastIndex, env.status(leader).lastIndex);
  ok(!env.node(1).applied.some((x) => x.startsWith("divergent")));
});

Deno.test("a far-behind follower catches up through a snapshot sent in chunks", () => {
  const env = new ScenarioEnv({ voters: [1, 2, 3], raft: { maxSnapshotChunkBytes: 16 } });
  env.campaign(1).stabilize().crash(3);
  for (let i = 0; i < 30; i++) env.propose(1, `entry-${i}`).stabilize();
  env.compact(1).compact(2);
  let chunks = 0;
  env.onDeliver = (m) => {
    if (m.type === "snapshot") chunks++;
  };
  env.restart(3).run(10);
  ok(chunks > 5, `the snapshot travels in bounded chunks (${chunks})`);
  ok(env.status(3).firstIndex > 30, "node 3 starts from the snapshot");
  deepStrictEqual(env.node(3).applied, env.node(1).applied);
  env.propose(1, "after").stabilize();
  equal(env.node(3).applied.at(-1), "after");
});

Deno.test("removing the current leader hands leadership to a remaining voter", () => {
  const env = new ScenarioEnv({ voters: [1, 2, 3] });
  env.campaign(1).stabilize().run(2);
  env.changeConfig(1, { type: "removeNode", nodeId: 1 }).stabilize().run(3);
  equal(env.status(1).role, "follower");
  const leader = env.leader();
  ok(leader === 2 || leader === 3, `a remaining voter leads (${leader})`);
  deepStrictEqual(env.status(leader).config.voters, [2, 3]);
  env.propose(leader, "without 1").stabilize().run(2);
  equal(env.node(2).applied.at(-1), "without 1");
  equal(env.node(3).applied.at(-1), "without 1");
  env.run(50);
  equal(env.leader(), leader, "the removed node does not disrupt the cluster");
});

Deno.test("a learner receives the log and is promoted to voter once caught up", () => {
  const env = new ScenarioEnv({ voters: [1, 2, 3], spares: [4] });
  env.campaign(1).stabilize().run(2);
  env.changeConfig(1, { type: "addLearner", nodeId: 4 }).stabilize().run(2);
  env.crash(4);
  env.propose(1, "while 4 is down").stabilize().run(2);
  throws(
    () => env.changeConfig(1, { type: "addVoter", nodeId: 4 }),
    (e: unknown) => e instanceof RaftError && e.code === "LEARNER_NOT_CAUGHT_UP",
  );
  env.restart(4).run(3);
  deepStrictEqual(env.node(4).applied, ["while 4 is down"]);
  equal(env.status(4).role, "follower");
  env.changeConfig(1, { type: "addVoter", nodeId: 4 }).stabilize().run(2);
  deepStrictEqual(env.status(1).config, { voters: [1, 2, 3, 4], learners: [] });
  deepStrictEqual(env.status(4).config.voters, [1, 2, 3, 4]);
  // With four voters a leader needs three acknowledgements: without 2, 4 must count.
  env.crash(2).propose(1, "needs 4").stabilize();
  equal(env.node(4).applied.at(-1), "needs 4");
  equal(env.node(1).applied.at(-1), "needs 4");
});

Deno.test("leadership moves to the transfer target and proposals are refused meanwhile", () => {
  const env = new ScenarioEnv({ voters: [1, 2, 3] });
  env.campaign(1).stabilize().run(2).transferLeadership(1, 3);
  env.stabilize().run(2);
  equal(env.leader(), 3);
  env.propose(3, "after transfer").stabilize();
  equal(env.node(1).applied.at(-1), "after transfer");

  env.crash(2).transferLeadership(3, 2);
  throws(
    () => env.propose(3, "during"),
    (e: unknown) => e instanceof RaftError && e.code === "LEADER_TRANSFER_IN_PROGRESS",
  );
  env.run(12);
  env.propose(3, "transfer abandoned").stabilize();
  equal(env.node(1).applied.at(-1), "transfer abandoned");
});

Deno.test("ReadIndex answers on the leader and through a follower after a quorum round", () => {
  const env = new ScenarioEnv({ voters: [1, 2, 3] });
  env.campaign(1).stabilize().propose(1, "x").stabilize();
  env.readIndex(1, "on-leader");
  deepStrictEqual(env.node(1).readStates, [], "waits for a heartbeat quorum");
  env.stabilize();
  equal(env.node(1).readStates.length, 1);
  equal(env.node(1).readStates[0].index, env.status(1).commit);
  env.readIndex(2, "on-follower").stabilize();
  equal(env.node(2).readStates.length, 1);
  equal(new TextDecoder().decode(env.node(2).readStates[0].context), "on-follower");
  env.partition(1).readIndex(1, "cut off").stabilize();
  equal(env.node(1).readStates.length, 1, "an isolated leader cannot confirm a read");
});

Deno.test("a follower refuses proposals with the leader's id, or forwards them", () => {
  const env = new ScenarioEnv({ voters: [1, 2, 3] });
  env.campaign(1).stabilize();
  throws(
    () => env.propose(2, "x"),
    (e: unknown) => e instanceof RaftError && e.code === "NOT_LEADER" && e.leaderId === 1,
  );
  const fwd = new ScenarioEnv({ voters: [1, 2, 3], raft: { forwardProposals: true } });
  fwd.campaign(1).stabilize();
  deepStrictEqual(fwd.tryPropose(2, "forwarded"), { status: "forwarded", leaderId: 1 });
  fwd.stabilize().run(1);
  deepStrictEqual(fwd.node(3).applied, ["forwarded"]);
});
