import assert from "node:assert/strict";
import { StromError } from "@strom/client";
import { OFFSET_METADATA_CHARS_MAX, OFFSETS_PER_COMMIT_MAX } from "./config.ts";
import { GroupCoordinatorState } from "./group_state.ts";
import { compact } from "./_group_sim.ts";
import { TestCoordinator } from "./_test_util.ts";

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof StromError) return e.code;
    throw e;
  }
  return "no error";
}

const at = (partition: number, offset: number) => ({ topic: "orders", partition, offset });

Deno.test("a member commits at its current epoch and reads the offsets back", () => {
  const t = new TestCoordinator();
  const m = t.join();
  const c = t.coordinator;
  t.commit(
    c.commitOffsets({
      groupId: "g",
      memberId: m.memberId,
      memberEpoch: 1,
      offsets: [at(0, 42), { ...at(1, 7), metadata: "x", leaderEpoch: 3 }],
    }, t.nowMs),
  );
  assert.deepEqual(
    c.fetchOffsets("g").map((o) => [o.partition, o.offset, o.metadata, o.leaderEpoch]),
    [
      [0, 42, "", null],
      [1, 7, "x", 3],
    ],
  );
  assert.deepEqual(
    c.fetchOffsets("g", [{ topic: "orders", partitions: [1, 5] }]).map((o) => o.offset),
    [7, -1],
  );
  assert.deepEqual(c.fetchOffsets("nope"), []);
});

Deno.test("commits from a stale epoch, an unknown member or for partitions the member does not hold are rejected", () => {
  const t = new TestCoordinator();
  const a = t.join();
  const c = t.coordinator;
  const commit = (memberId: string, memberEpoch: number, partition = 0) =>
    code(() =>
      c.commitOffsets({ groupId: "g", memberId, memberEpoch, offsets: [at(partition, 1)] }, t.nowMs)
    );
  assert.equal(commit(a.memberId, 0), "STALE_MEMBER_EPOCH");
  assert.equal(commit(a.memberId, 2), "STALE_MEMBER_EPOCH");
  assert.equal(commit("ghost", 1), "UNKNOWN_MEMBER_ID");
  // b joins: a is asked to revoke 3 partitions, at the same epoch — it may still commit them.
  t.join();
  const r = t.heartbeat({ memberId: a.memberId, memberEpoch: 1, ownedPartitions: a.assignment });
  const revoked = [0, 1, 2, 3, 4, 5].find((p) => !r.assignment[0].partitions.includes(p))!;
  assert.equal(commit(a.memberId, 1, revoked), "no error");
  // Once a has acknowledged the revocation, a late commit of that partition is rejected.
  t.heartbeat({ memberId: a.memberId, memberEpoch: 1, ownedPartitions: r.assignment });
  assert.equal(commit(a.memberId, 1, revoked), "STALE_MEMBER_EPOCH");
  assert.equal(commit(a.memberId, 2, revoked), "STALE_MEMBER_EPOCH");
});

Deno.test("a commit without a member is accepted only while the group has no members", () => {
  const t = new TestCoordinator();
  const c = t.coordinator;
  t.commit(c.commitOffsets({ groupId: "admin", offsets: [at(0, 5)] }, t.nowMs));
  assert.equal(c.fetchOffsets("admin")[0].offset, 5);
  assert.equal(c.describeGroup("admin").state, "empty");
  t.join();
  assert.equal(
    code(() => c.commitOffsets({ groupId: "g", offsets: [at(0, 5)] }, t.nowMs)),
    "UNKNOWN_MEMBER_ID",
  );
  assert.equal(
    code(() =>
      c.commitOffsets(
        { groupId: "g", memberId: "m1", memberEpoch: -1, offsets: [at(0, 5)] },
        t.nowMs,
      )
    ),
    "UNKNOWN_MEMBER_ID",
  );
});

Deno.test("malformed commits are rejected with a clear code", () => {
  const t = new TestCoordinator();
  const c = t.coordinator;
  const commit = (offsets: unknown[]) =>
    code(() => c.commitOffsets({ groupId: "g", offsets: offsets as never }, t.nowMs));
  assert.equal(commit([at(0, -1)]), "INVALID_REQUEST");
  assert.equal(commit([at(-1, 0)]), "INVALID_REQUEST");
  assert.equal(commit([{ topic: "", partition: 0, offset: 0 }]), "INVALID_REQUEST");
  assert.equal(commit([{ ...at(0, 1), leaderEpoch: -2 }]), "INVALID_REQUEST");
  assert.equal(
    commit([{ ...at(0, 1), metadata: "x".repeat(OFFSET_METADATA_CHARS_MAX + 1) }]),
    "OFFSET_METADATA_TOO_LARGE",
  );
  assert.equal(
    commit(Array.from({ length: OFFSETS_PER_COMMIT_MAX + 1 }, (_, i) => at(i, 0))),
    "INVALID_COMMIT_OFFSET_SIZE",
  );
  assert.equal(
    code(() => c.commitOffsets({ groupId: "", offsets: [] }, t.nowMs)),
    "INVALID_GROUP_ID",
  );
});

Deno.test("offsets of a group are kept while it has members and expire once it has been empty for the retention", () => {
  const t = new TestCoordinator({ offsetsRetentionMs: 10_000 });
  const c = t.coordinator;
  const m = t.join();
  t.commit(
    c.commitOffsets(
      { groupId: "g", memberId: m.memberId, memberEpoch: 1, offsets: [at(0, 1)] },
      t.nowMs,
    ),
  );
  t.nowMs += 60_000;
  t.heartbeat({ memberId: m.memberId, memberEpoch: 1, ownedPartitions: m.assignment });
  assert.deepEqual(t.commit(c.expireOffsets(t.nowMs)), { expiredOffsets: 0, deletedGroups: [] });
  t.heartbeat({ memberId: m.memberId, memberEpoch: -1 });
  t.nowMs += 9_999;
  assert.deepEqual(t.commit(c.expireOffsets(t.nowMs)), { expiredOffsets: 0, deletedGroups: [] });
  t.nowMs += 1;
  assert.deepEqual(t.commit(c.expireOffsets(t.nowMs)), { expiredOffsets: 1, deletedGroups: ["g"] });
  assert.equal(c.describeGroup("g").state, "dead");
  // Nothing of the group survives compaction either.
  assert.equal(GroupCoordinatorState.fromRecords(compact(t.log, true)).canonical(), "[]");
});

Deno.test("resetOffsets() sets offsets of a group without members, and refuses while it has members", () => {
  const t = new TestCoordinator();
  const c = t.coordinator;
  t.commit(c.resetOffsets("g", [at(0, 10), at(1, 20)], t.nowMs));
  assert.deepEqual(c.fetchOffsets("g").map((o) => o.offset), [10, 20]);
  t.join();
  assert.equal(code(() => c.resetOffsets("g", [at(0, 0)], t.nowMs)), "NON_EMPTY_GROUP");
});

Deno.test("deleteGroup() deletes an empty group with its offsets, and refuses unknown or non-empty groups", () => {
  const t = new TestCoordinator();
  const c = t.coordinator;
  assert.equal(code(() => c.deleteGroup("g")), "GROUP_ID_NOT_FOUND");
  const m = t.join();
  assert.equal(code(() => c.deleteGroup("g")), "NON_EMPTY_GROUP");
  t.commit(
    c.commitOffsets(
      { groupId: "g", memberId: m.memberId, memberEpoch: 1, offsets: [at(0, 3)] },
      t.nowMs,
    ),
  );
  t.heartbeat({ memberId: m.memberId, memberEpoch: -1 });
  assert.deepEqual(t.commit(c.deleteGroup("g")), { deletedOffsets: 1 });
  assert.equal(c.describeGroup("g").state, "dead");
  assert.equal(t.rebuilt().canonical(), "[]");
  assert.equal(GroupCoordinatorState.fromRecords(compact(t.log, false)).canonical(), "[]");
});
