import assert from "node:assert/strict";
import type { AnyBrokerRequest, Connection } from "../connection/connection.ts";
import { StromError } from "../errors.ts";
import type { GroupMemberHost, OffsetToCommit } from "./group_member.ts";
import { GroupMember } from "./group_member.ts";

/** A coordinator that assigns `t-0` at once and stores commits unless told to fail them. */
function fakeCoordinator() {
  const commits: unknown[] = [];
  let failCommits = false;
  const conn = {
    anyBroker(req: AnyBrokerRequest): Promise<unknown> {
      if (req.path.endsWith("/heartbeat")) {
        return Promise.resolve({
          memberId: "m1",
          memberEpoch: 1,
          heartbeatIntervalMs: 20,
          assignment: [{ topic: "t", partitions: [0] }],
        });
      }
      if (req.method === "POST" && req.path.endsWith("/offsets")) {
        if (failCommits) {
          return Promise.reject(new StromError("STALE_MEMBER_EPOCH", "stale"));
        }
        commits.push(req.body);
        return Promise.resolve({});
      }
      if (req.path.endsWith("/offsets")) return Promise.resolve({ offsets: [] });
      return Promise.resolve({});
    },
  } as unknown as Connection;
  return {
    conn,
    commits,
    failNextCommits: () => (failCommits = true),
  };
}

function hostAt(offset: () => number): GroupMemberHost {
  return {
    setPartitions() {},
    waitDelivered: () => Promise.resolve(),
    offsets: () => [{ topic: "t", partition: 0, offset: offset() }],
  };
}

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.ok(condition(), "condition not reached within 1 s");
}

Deno.test("onOffsetsCommitted is told each accepted commit, and not a rejected one", async () => {
  const coordinator = fakeCoordinator();
  const seen: OffsetToCommit[][] = [];
  let position = 5;
  const member = new GroupMember(coordinator.conn, hostAt(() => position), {
    groupId: "g",
    autoCommit: false,
    onOffsetsCommitted: (offsets) => seen.push(offsets),
  }, ["t"]);
  member.start();
  try {
    await until(() => member.owned().length === 1);
    await member.commit("completed");
    assert.deepEqual(seen, [[{ topic: "t", partition: 0, offset: 5 }]]);

    await member.commit("completed");
    assert.equal(seen.length, 1, "an unchanged offset is not committed again");

    position = 9;
    coordinator.failNextCommits();
    await assert.rejects(member.commit("completed"), /stale/);
    assert.equal(seen.length, 1, "a rejected commit is not reported");
  } finally {
    await member.close();
  }
});

Deno.test("a throwing onOffsetsCommitted does not make a stored commit fail", async () => {
  const coordinator = fakeCoordinator();
  const member = new GroupMember(coordinator.conn, hostAt(() => 3), {
    groupId: "g",
    autoCommit: false,
    onOffsetsCommitted: () => {
      throw new Error("observer failed");
    },
  }, ["t"]);
  member.start();
  try {
    await until(() => member.owned().length === 1);
    await member.commit("completed");
    assert.equal(coordinator.commits.length, 1);
  } finally {
    await member.close();
  }
});
