import assert from "node:assert/strict";
import { StromError } from "@strom/client";
import { parseCommit, parseHeartbeat, parseReset } from "./group_bodies.ts";

const invalid = (code = "INVALID_REQUEST") => (e: unknown) =>
  e instanceof StromError && e.code === code;

Deno.test("parseHeartbeat() takes the group from the path and keeps only the fields sent", () => {
  assert.deepEqual(
    parseHeartbeat("g", { memberEpoch: 0, subscribedTopicNames: ["a"], instanceId: null }),
    { groupId: "g", memberId: "", memberEpoch: 0, instanceId: null, subscribedTopicNames: ["a"] },
  );
});

Deno.test("parseHeartbeat() refuses bodies that are not objects or carry mistyped fields", () => {
  for (const body of [null, [1], "x", { memberEpoch: "1" }, { memberEpoch: 1, memberId: 7 }]) {
    assert.throws(() => parseHeartbeat("g", body), invalid(), JSON.stringify(body));
  }
  assert.throws(() => parseHeartbeat("g", { memberEpoch: 0, instanceId: 3 }), invalid());
});

Deno.test("parseCommit() checks every offset and the commit size", () => {
  assert.deepEqual(
    parseCommit("g", {
      memberId: "m",
      memberEpoch: 2,
      offsets: [{ topic: "t", partition: 0, offset: 5 }],
    }),
    {
      groupId: "g",
      memberId: "m",
      memberEpoch: 2,
      offsets: [{ topic: "t", partition: 0, offset: 5 }],
    },
  );
  assert.throws(
    () => parseCommit("g", { offsets: [{ topic: "t", partition: -1, offset: 5 }] }),
    invalid(),
  );
  assert.throws(() => parseCommit("g", { offsets: "all" }), invalid());
  const many = Array.from({ length: 10_001 }, () => ({ topic: "t", partition: 0, offset: 0 }));
  assert.throws(() => parseCommit("g", { offsets: many }), invalid("INVALID_COMMIT_OFFSET_SIZE"));
});

Deno.test("parseReset() accepts earliest, latest, a timestamp or an offset, with an optional topic", () => {
  assert.deepEqual(parseReset({ to: "earliest" }), { to: "earliest" });
  assert.deepEqual(parseReset({ to: { timestampMs: 5 }, topic: "t" }), {
    to: { timestampMs: 5 },
    topic: "t",
  });
  assert.deepEqual(parseReset({ to: { offset: 3 } }), { to: { offset: 3 } });
  for (const to of ["yesterday", { offset: -1 }, {}, undefined]) {
    assert.throws(() => parseReset({ to }), invalid(), JSON.stringify(to));
  }
});
