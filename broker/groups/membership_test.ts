import assert from "node:assert/strict";
import { StromError } from "@strom/client";
import { GROUPS_MAX, MEMBERS_PER_GROUP_MAX } from "./config.ts";
import type { TestMember } from "./_test_util.ts";
import { count, settle, TestCoordinator } from "./_test_util.ts";

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof StromError) return e.code;
    throw e;
  }
  return "no error";
}

function joined(t: TestCoordinator, extra = {}): TestMember {
  const r = t.join(["orders"], extra);
  return { memberId: r.memberId, memberEpoch: r.memberEpoch, owned: r.assignment };
}

const owners = (members: TestMember[]) => {
  const m = new Map<string, string>();
  for (const x of members) {
    for (const tp of x.owned) for (const p of tp.partitions) m.set(`${tp.topic}-${p}`, x.memberId);
  }
  return m;
};

Deno.test("a first join creates the group at epoch 1 and assigns the member every partition", () => {
  const t = new TestCoordinator();
  const r = t.join();
  assert.equal(r.memberId, "m1");
  assert.equal(r.memberEpoch, 1);
  assert.deepEqual(r.assignment, [{ topic: "orders", partitions: [0, 1, 2, 3, 4, 5] }]);
  assert.equal(r.heartbeatIntervalMs, 1_000);
  assert.equal(t.coordinator.describeGroup("g").state, "stable");
  assert.equal(t.rebuilt().canonical(), t.coordinator.state.canonical());
});

Deno.test("a member keeps the member id it chose", () => {
  const t = new TestCoordinator();
  assert.equal(t.join(["orders"], { memberId: "chosen" }).memberId, "chosen");
});

Deno.test("a partition moves only after its previous owner reported it revoked", () => {
  const t = new TestCoordinator();
  const a = joined(t);
  const b = joined(t);
  // b joined while a owns everything: b gets nothing yet, a is asked to give up three.
  assert.deepEqual(b.owned, []);
  const ra = t.heartbeat({
    memberId: a.memberId,
    memberEpoch: a.memberEpoch,
    ownedPartitions: a.owned,
  });
  assert.equal(ra.memberEpoch, 1, "the epoch holds while revoking, so a can still commit");
  assert.equal(count(ra.assignment), 3);
  assert.equal(t.coordinator.describeGroup("g").state, "reconciling");
  // b asks again before a acknowledged: still nothing.
  const rb = t.heartbeat({ memberId: b.memberId, memberEpoch: b.memberEpoch, ownedPartitions: [] });
  assert.deepEqual(rb.assignment, []);
  // a acknowledges by reporting what it owns now; then b gets the rest.
  const ra2 = t.heartbeat({ memberId: a.memberId, memberEpoch: 1, ownedPartitions: ra.assignment });
  assert.equal(ra2.memberEpoch, 2);
  const rb2 = t.heartbeat({
    memberId: b.memberId,
    memberEpoch: rb.memberEpoch,
    ownedPartitions: [],
  });
  assert.equal(count(rb2.assignment), 3);
  assert.equal(t.coordinator.describeGroup("g").state, "stable");
});

Deno.test("3 members owning 2 of 6 partitions each: a 4th joining moves exactly one partition, and no partition ever has two owners", () => {
  const t = new TestCoordinator();
  const members = [joined(t), joined(t), joined(t)];
  settle(t, members);
  assert.deepEqual(members.map((m) => count(m.owned)), [2, 2, 2]);
  const before = owners(members);
  members.push(joined(t));
  for (let round = 0; round < 10; round++) {
    for (const m of members) {
      const r = t.heartbeat({
        memberId: m.memberId,
        memberEpoch: m.memberEpoch,
        ownedPartitions: m.owned,
      });
      m.memberEpoch = r.memberEpoch;
      m.owned = r.assignment;
      // owners() would throw away duplicates: count claims instead.
      const claims = members.flatMap((x) => x.owned.flatMap((tp) => tp.partitions));
      assert.equal(new Set(claims).size, claims.length, "a partition has two owners");
    }
  }
  const after = owners(members);
  const movedPartitions = [...after].filter(([k, id]) => before.get(k) !== id);
  assert.equal(movedPartitions.length, 1);
  assert.equal(count(members[3].owned), 1);
});

Deno.test("heartbeats from an unknown member or group are answered UNKNOWN_MEMBER_ID", () => {
  const t = new TestCoordinator();
  assert.equal(code(() => t.heartbeat({ memberId: "x", memberEpoch: 3 })), "UNKNOWN_MEMBER_ID");
  t.join();
  assert.equal(code(() => t.heartbeat({ memberId: "x", memberEpoch: 1 })), "UNKNOWN_MEMBER_ID");
  assert.equal(code(() => t.heartbeat({ memberId: "x", memberEpoch: -1 })), "UNKNOWN_MEMBER_ID");
});

Deno.test("an epoch ahead of the member's is fenced; its previous epoch is accepted only with owned partitions within its assignment", () => {
  const t = new TestCoordinator();
  const a = joined(t);
  joined(t);
  const ra = t.heartbeat({ memberId: a.memberId, memberEpoch: 1, ownedPartitions: a.owned });
  t.heartbeat({ memberId: a.memberId, memberEpoch: 1, ownedPartitions: ra.assignment }); // now at epoch 2
  assert.equal(
    code(() => t.heartbeat({ memberId: a.memberId, memberEpoch: 3 })),
    "FENCED_MEMBER_EPOCH",
  );
  // Epoch 1 (its previous) with more than it holds: fenced.
  assert.equal(
    code(() => t.heartbeat({ memberId: a.memberId, memberEpoch: 1, ownedPartitions: a.owned })),
    "FENCED_MEMBER_EPOCH",
  );
  // Epoch 1 owning only what it holds: it missed our answer, so it is answered again.
  const r = t.heartbeat({ memberId: a.memberId, memberEpoch: 1, ownedPartitions: ra.assignment });
  assert.equal(r.memberEpoch, 2);
  assert.equal(
    code(() => t.heartbeat({ memberId: a.memberId, memberEpoch: 1 })),
    "FENCED_MEMBER_EPOCH",
  );
});

Deno.test("a member leaving with epoch -1 releases its partitions at once", () => {
  const t = new TestCoordinator();
  const members = [joined(t), joined(t)];
  settle(t, members);
  const epoch = t.coordinator.describeGroup("g").groupEpoch;
  const r = t.heartbeat({ memberId: members[1].memberId, memberEpoch: -1 });
  assert.equal(r.memberEpoch, -1);
  assert.equal(t.coordinator.describeGroup("g").groupEpoch, epoch + 1);
  const rest = [members[0]];
  settle(t, rest);
  assert.equal(count(rest[0].owned), 6);
});

Deno.test("leaveGroup() (DELETE .../members/{id}) removes the member; the group becomes empty", () => {
  const t = new TestCoordinator();
  const a = joined(t);
  t.commit(t.coordinator.leaveGroup("g", a.memberId, t.nowMs));
  assert.equal(t.coordinator.describeGroup("g").state, "empty");
  assert.equal(code(() => t.coordinator.leaveGroup("g", a.memberId, t.nowMs)), "UNKNOWN_MEMBER_ID");
});

Deno.test("a static member leaving with -2 keeps its partitions for a new process with its instance id, without a rebalance", () => {
  const t = new TestCoordinator();
  const s = joined(t, { instanceId: "host-1" });
  const d = joined(t);
  const members = [s, d];
  settle(t, members);
  const groupEpoch = t.coordinator.describeGroup("g").groupEpoch;
  const kept = s.owned;
  assert.equal(t.heartbeat({ memberId: s.memberId, memberEpoch: -2 }).memberEpoch, -2);
  // The other member does not get the absent member's partitions.
  const rd = t.heartbeat({
    memberId: d.memberId,
    memberEpoch: d.memberEpoch,
    ownedPartitions: d.owned,
  });
  assert.equal(count(rd.assignment), 3);
  // A restarted process (new member id) with the same instance id takes them over.
  const r = t.join(["orders"], { instanceId: "host-1" });
  assert.notEqual(r.memberId, s.memberId);
  assert.deepEqual(r.assignment, kept);
  assert.equal(r.memberEpoch, s.memberEpoch);
  assert.equal(t.coordinator.describeGroup("g").groupEpoch, groupEpoch);
  assert.equal(t.coordinator.describeGroup("g").members.length, 2);
});

Deno.test("a static member that crashed is replaced by its restarted process, which keeps its partitions", () => {
  const t = new TestCoordinator();
  const members = [joined(t, { instanceId: "host-1" }), joined(t)];
  settle(t, members);
  const r = t.join(["orders"], { instanceId: "host-1" });
  assert.deepEqual(r.assignment, members[0].owned);
  // The old process's member id is gone.
  assert.equal(
    code(() => t.heartbeat({ memberId: members[0].memberId, memberEpoch: members[0].memberEpoch })),
    "UNKNOWN_MEMBER_ID",
  );
});

Deno.test("a static member that left with -2 and does not return is removed after the session timeout", () => {
  const t = new TestCoordinator({ sessionTimeoutMs: 5_000 });
  const members = [joined(t, { instanceId: "host-1" }), joined(t)];
  settle(t, members);
  t.heartbeat({ memberId: members[0].memberId, memberEpoch: -2 });
  t.nowMs += 4_000;
  t.heartbeat({
    memberId: members[1].memberId,
    memberEpoch: members[1].memberEpoch,
    ownedPartitions: members[1].owned,
  });
  assert.deepEqual(t.commit(t.coordinator.expireMembers(t.nowMs)), []);
  t.nowMs += 1_000;
  assert.deepEqual(t.commit(t.coordinator.expireMembers(t.nowMs)), [
    { groupId: "g", memberId: members[0].memberId, reason: "session_timeout" },
  ]);
  const rest = [members[1]];
  settle(t, rest);
  assert.equal(count(rest[0].owned), 6);
});

Deno.test("epoch -2 is only for static members", () => {
  const t = new TestCoordinator();
  const a = joined(t);
  assert.equal(
    code(() => t.heartbeat({ memberId: a.memberId, memberEpoch: -2 })),
    "INVALID_REQUEST",
  );
});

Deno.test("a member stuck revoking past its rebalance timeout is removed, and a silent one after its session timeout", () => {
  const t = new TestCoordinator({ sessionTimeoutMs: 10_000 });
  const a = joined(t, { rebalanceTimeoutMs: 2_000 });
  const b = joined(t);
  // a is asked to revoke and never acknowledges.
  t.heartbeat({ memberId: a.memberId, memberEpoch: 1, ownedPartitions: a.owned });
  t.nowMs += 1_999;
  t.heartbeat({ memberId: a.memberId, memberEpoch: 1, ownedPartitions: a.owned });
  assert.deepEqual(t.commit(t.coordinator.expireMembers(t.nowMs)), []);
  t.nowMs += 1;
  assert.deepEqual(t.commit(t.coordinator.expireMembers(t.nowMs)), [
    { groupId: "g", memberId: a.memberId, reason: "rebalance_timeout" },
  ]);
  t.nowMs += 10_000;
  assert.deepEqual(t.commit(t.coordinator.expireMembers(t.nowMs)), [
    { groupId: "g", memberId: b.memberId, reason: "session_timeout" },
  ]);
  assert.equal(t.coordinator.describeGroup("g").state, "empty");
});

Deno.test("a new coordinator gives every member a fresh session when it activates", () => {
  const t = new TestCoordinator({ sessionTimeoutMs: 1_000 });
  joined(t);
  t.nowMs += 5_000;
  t.coordinator.activate(t.nowMs);
  assert.deepEqual(t.coordinator.expireMembers(t.nowMs + 999).response, []);
  assert.equal(t.coordinator.expireMembers(t.nowMs + 1_000).response.length, 1);
});

Deno.test("a member rejoining with epoch 0 starts over at a new epoch", () => {
  const t = new TestCoordinator();
  const a = joined(t);
  const r = t.join(["orders"], { memberId: a.memberId });
  assert.equal(r.memberId, a.memberId);
  assert.ok(r.memberEpoch > a.memberEpoch);
  assert.equal(count(r.assignment), 6);
});

Deno.test("a regex subscription follows topics as they are created, but never internal ones", () => {
  const t = new TestCoordinator();
  t.topics.set("__consumer_offsets", 50);
  t.topics.set("orders-eu", 2);
  const r = t.heartbeat({ memberEpoch: 0, subscribedTopicRegex: "orders.*" });
  assert.deepEqual(r.assignment.map((tp) => tp.topic), ["orders", "orders-eu"]);
  t.topics.set("orders-us", 1);
  const epoch = r.memberEpoch;
  const r2 = t.heartbeat({
    memberId: r.memberId,
    memberEpoch: epoch,
    ownedPartitions: r.assignment,
  });
  assert.equal(r2.memberEpoch, epoch + 1);
  assert.deepEqual(r2.assignment.map((tp) => tp.topic), ["orders", "orders-eu", "orders-us"]);
  assert.equal(count(r2.assignment), 9);
  assert.equal(
    code(() => t.heartbeat({ memberEpoch: 0, subscribedTopicRegex: "(" })),
    "INVALID_REGULAR_EXPRESSION",
  );
});

Deno.test("a topic gaining partitions bumps the group epoch and assigns them", () => {
  const t = new TestCoordinator();
  const a = joined(t);
  t.topics.set("orders", 8);
  const r = t.heartbeat({
    memberId: a.memberId,
    memberEpoch: a.memberEpoch,
    ownedPartitions: a.owned,
  });
  assert.equal(r.memberEpoch, a.memberEpoch + 1);
  assert.equal(count(r.assignment), 8);
});

Deno.test("a subscription change is revoked and reassigned incrementally", () => {
  const t = new TestCoordinator();
  t.topics.set("payments", 2);
  const a = joined(t);
  const r = t.heartbeat({
    memberId: a.memberId,
    memberEpoch: 1,
    subscribedTopicNames: ["payments"],
    ownedPartitions: a.owned,
  });
  assert.deepEqual(r.assignment, [], "orders must be revoked first");
  const r2 = t.heartbeat({ memberId: a.memberId, memberEpoch: r.memberEpoch, ownedPartitions: [] });
  assert.deepEqual(r2.assignment, [{ topic: "payments", partitions: [0, 1] }]);
});

Deno.test("malformed heartbeats are rejected with a clear code", () => {
  const t = new TestCoordinator();
  assert.equal(code(() => t.heartbeat({ groupId: "" })), "INVALID_GROUP_ID");
  assert.equal(code(() => t.heartbeat({ groupId: "x".repeat(300) })), "INVALID_GROUP_ID");
  assert.equal(code(() => t.heartbeat({ memberEpoch: 0 })), "INVALID_REQUEST", "no subscription");
  assert.equal(code(() => t.heartbeat({ memberEpoch: -3, memberId: "a" })), "INVALID_REQUEST");
  assert.equal(code(() => t.heartbeat({ memberEpoch: 2 })), "INVALID_REQUEST", "no member id");
  assert.equal(
    code(() => t.heartbeat({ subscribedTopicNames: ["a"], subscribedTopicRegex: "a" })),
    "INVALID_REQUEST",
  );
  assert.equal(
    code(() => t.join(["orders"], { serverAssignor: "sticky" as "range" })),
    "UNSUPPORTED_ASSIGNOR",
  );
  assert.equal(code(() => t.join(["orders"], { rebalanceTimeoutMs: 0 })), "INVALID_REQUEST");
  assert.equal(
    code(() => t.join(["orders"], { ownedPartitions: [{ topic: "orders", partitions: [-1] }] })),
    "INVALID_REQUEST",
  );
});

Deno.test("a full group answers GROUP_MAX_SIZE_REACHED, a full coordinator TOO_MANY_GROUPS", () => {
  const t = new TestCoordinator();
  for (let i = 0; i < MEMBERS_PER_GROUP_MAX; i++) {
    t.coordinator.replay([{
      type: "MemberMetadata",
      groupId: "g",
      memberId: `x${i}`,
      instanceId: null,
      rackId: null,
      clientId: "",
      subscribedTopicNames: ["orders"],
      subscribedTopicRegex: null,
      serverAssignor: null,
      rebalanceTimeoutMs: 1_000,
    }]);
  }
  assert.equal(code(() => t.join()), "GROUP_MAX_SIZE_REACHED");
  for (let i = 0; i < GROUPS_MAX; i++) {
    t.coordinator.replay([{ type: "GroupMetadata", groupId: `g${i}`, epoch: 1, emptySinceMs: 0 }]);
  }
  assert.equal(code(() => t.join(["orders"], { groupId: "new" })), "TOO_MANY_GROUPS");
});

Deno.test("describeGroup() reports dead, stable, reconciling and assigning groups with members' assignments", () => {
  const t = new TestCoordinator();
  assert.equal(t.coordinator.describeGroup("g").state, "dead");
  const a = joined(t, { clientId: "app" });
  let d = t.coordinator.describeGroup("g");
  assert.equal(d.state, "stable");
  assert.equal(d.assignor, "uniform");
  assert.deepEqual(
    d.members.map((m) => [m.memberId, m.clientId, m.memberEpoch, count(m.assigned)]),
    [
      [a.memberId, "app", 1, 6],
    ],
  );
  joined(t);
  d = t.coordinator.describeGroup("g");
  assert.equal(d.state, "reconciling");
  t.heartbeat({ memberId: a.memberId, memberEpoch: -1 });
  assert.deepEqual(t.coordinator.listGroups(), [{
    groupId: "g",
    state: "assigning",
    members: 1,
  }]);
  // The target is recomputed lazily, at the next heartbeat.
  assert.equal(t.coordinator.describeGroup("g").members.length, 1);
});

Deno.test("operations change nothing until their records are replayed", () => {
  const t = new TestCoordinator();
  joined(t);
  const before = t.coordinator.state.canonical();
  const result = t.coordinator.heartbeat(
    { groupId: "g", memberId: "", memberEpoch: 0, subscribedTopicNames: ["orders"] },
    { nowMs: t.nowMs, topics: t.topics },
  );
  assert.ok(result.records.length > 0);
  assert.equal(t.coordinator.state.canonical(), before);
  t.commit(result);
  assert.notEqual(t.coordinator.state.canonical(), before);
  assert.equal(t.rebuilt().canonical(), t.coordinator.state.canonical());
});
