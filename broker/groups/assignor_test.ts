import assert from "node:assert/strict";
import fc from "fast-check";
import type { Assignment } from "./assignment.ts";
import { assignmentFromList, partitionCount } from "./assignment.ts";
import type { AssignmentInput } from "./assignor.ts";
import { chooseAssignor } from "./assignor.ts";
import { rangeAssign } from "./range_assignor.ts";
import { uniformAssign } from "./uniform_assignor.ts";
import type { MemberMetadata } from "./group_state.ts";

const member = (memberId: string, topics = ["t"], instanceId: string | null = null) => ({
  memberId,
  instanceId,
  topics,
});

/** Partitions whose owner changed between two assignments, among members in both. */
function moved(before: Map<string, Assignment>, after: Map<string, Assignment>): number {
  const owner = new Map<string, string>();
  for (const [id, a] of before) {
    for (const [t, ps] of a) for (const p of ps) owner.set(`${t}-${p}`, id);
  }
  let n = 0;
  for (const [id, a] of after) {
    for (const [t, ps] of a) {
      for (const p of ps) {
        const was = owner.get(`${t}-${p}`);
        if (was !== undefined && was !== id && after.has(was)) n++;
      }
    }
  }
  return n;
}

Deno.test("uniformAssign() gives 3 members 2 of 6 partitions each", () => {
  const out = uniformAssign({
    members: ["a", "b", "c"].map((id) => member(id)),
    topics: new Map([["t", 6]]),
    previous: new Map(),
  });
  assert.deepEqual([...out.values()].map(partitionCount), [2, 2, 2]);
});

Deno.test("a 4th member joining 3 that own 2 of 6 partitions each takes exactly one partition: the minimum for balance within one", () => {
  const topics = new Map([["t", 6]]);
  const three = uniformAssign({
    members: ["a", "b", "c"].map((id) => member(id)),
    topics,
    previous: new Map(),
  });
  const four = uniformAssign({
    members: ["a", "b", "c", "d"].map((id) => member(id)),
    topics,
    previous: three,
  });
  // 6 over 4 members balanced within one is {2, 2, 1, 1}: one partition must move, and only one does.
  assert.deepEqual([...four.values()].map(partitionCount).sort(), [1, 1, 2, 2]);
  assert.equal(moved(three, four), 1);
  assert.equal(partitionCount(four.get("d")!), 1);
});

Deno.test("three members joining three that own 2 of 6 partitions each move exactly three partitions", () => {
  const topics = new Map([["t", 6]]);
  const three = uniformAssign({
    members: ["a", "b", "c"].map((id) => member(id)),
    topics,
    previous: new Map(),
  });
  const six = uniformAssign({
    members: ["a", "b", "c", "d", "e", "f"].map((id) => member(id)),
    topics,
    previous: three,
  });
  assert.deepEqual([...six.values()].map(partitionCount), [1, 1, 1, 1, 1, 1]);
  assert.equal(moved(three, six), 3);
});

Deno.test("a departed member's partitions go to the least loaded survivors and nothing else moves", () => {
  const topics = new Map([["t", 7]]);
  const before = uniformAssign({
    members: ["a", "b", "c"].map((id) => member(id)),
    topics,
    previous: new Map(),
  });
  const after = uniformAssign({
    members: ["a", "b"].map((id) => member(id)),
    topics,
    previous: before,
  });
  assert.equal(moved(before, after), 0);
  assert.deepEqual([...after.values()].map(partitionCount).sort(), [3, 4]);
});

Deno.test("uniformAssign() gives each partition only to members subscribed to its topic", () => {
  const out = uniformAssign({
    members: [member("a", ["x"]), member("b", ["x", "y"]), member("c", ["y"])],
    topics: new Map([["x", 4], ["y", 2]]),
    previous: new Map(),
  });
  for (const [id, a] of out) {
    for (const t of a.keys()) {
      assert.ok(id === "b" || (id === "a" ? t === "x" : t === "y"), `${id} got ${t}`);
    }
  }
  assert.equal([...out.values()].reduce((n, a) => n + partitionCount(a), 0), 6);
});

/** The fewest moves any balanced assignment needs: excess above each survivor's final quota. */
function minimalMoves(prevCounts: number[], total: number): number {
  const m = prevCounts.length;
  const floor = Math.floor(total / m);
  const ceilCount = total % m;
  const sorted = [...prevCounts].sort((a, b) => b - a);
  return sorted.reduce((n, c, i) => n + Math.max(0, c - (i < ceilCount ? floor + 1 : floor)), 0);
}

Deno.test("uniformAssign() with one subscription is balanced within one, covers every partition once, and moves no more than balance requires (checked against a simple count)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 0, max: 40 }),
      fc.integer({ min: 1, max: 8 }),
      fc.integer({ min: 0, max: 8 }),
      (before, partitions, after, keep) => {
        const topics = new Map([["t", partitions]]);
        const ids = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `m${from + i}`);
        const first = uniformAssign({
          members: ids(before).map((id) => member(id)),
          topics,
          previous: new Map(),
        });
        // Some members stay, some leave, some join.
        const stay = ids(Math.min(keep, before));
        const members = [...stay, ...ids(after, 100)].map((id) => member(id));
        const second = uniformAssign({ members, topics, previous: first });
        const counts = [...second.values()].map(partitionCount);
        assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `counts ${counts}`);
        const seen = new Set<string>();
        for (const a of second.values()) {
          for (const [t, ps] of a) for (const p of ps) seen.add(`${t}-${p}`);
        }
        assert.equal(seen.size, partitions);
        assert.equal(counts.reduce((x, y) => x + y, 0), partitions);
        const prevCounts = members.map((m) => partitionCount(first.get(m.memberId) ?? new Map()));
        assert.equal(moved(first, second), minimalMoves(prevCounts, partitions));
      },
    ),
    { seed: 42, numRuns: 300 },
  );
});

Deno.test("rangeAssign() gives contiguous ranges in instance id order, the first ones one partition more", () => {
  const input: AssignmentInput = {
    members: [member("z", ["t"], "i1"), member("y", ["t"], "i2"), member("x", ["t"], "i0")],
    topics: new Map([["t", 7]]),
    previous: new Map(),
  };
  const out = rangeAssign(input);
  assert.deepEqual(out.get("x"), assignmentFromList([{ topic: "t", partitions: [0, 1, 2] }]));
  assert.deepEqual(out.get("z"), assignmentFromList([{ topic: "t", partitions: [3, 4] }]));
  assert.deepEqual(out.get("y"), assignmentFromList([{ topic: "t", partitions: [5, 6] }]));
});

Deno.test("chooseAssignor() picks the assignor most members ask for, else the default", () => {
  const m = (serverAssignor: "uniform" | "range" | null) => ({ serverAssignor }) as MemberMetadata;
  assert.equal(chooseAssignor([], "uniform"), "uniform");
  assert.equal(chooseAssignor([m("range"), m(null)], "uniform"), "range");
  assert.equal(chooseAssignor([m("range"), m("uniform"), m("uniform")], "range"), "uniform");
  assert.equal(chooseAssignor([m("range"), m("uniform")], "range"), "uniform");
});
