import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import {
  type AdminFinalView,
  type AdminOp,
  type AdminOutcome,
  checkAdminOps,
} from "./admin_checker.ts";

function create(topic: string, outcome: AdminOutcome, partitions = 1): AdminOp {
  return {
    kind: "create",
    topic,
    partitions,
    invokeMs: 0,
    completeMs: 1,
    outcome,
    attempts: 1,
  };
}

function grow(topic: string, partitions: number, outcome: AdminOutcome): AdminOp {
  return { ...create(topic, outcome, partitions), kind: "add-partitions" };
}

function view(node: number, topics: Record<string, number>): AdminFinalView {
  return { node, topics: new Map(Object.entries(topics)) };
}

Deno.test("acknowledged creations and add-partitions that every node shows are no violation", () => {
  const ops = [create("a", "ok"), grow("a", 2, "ok"), grow("a", 3, "ok"), create("b", "ok")];
  const result = checkAdminOps(ops, [view(1, { a: 3, b: 1 }), view(2, { a: 3, b: 1 })]);
  strictEqual(result.violations, 0);
  deepStrictEqual(result.ops, { ok: 4, failed: 0, unknown: 0 });
  deepStrictEqual(result.examples, {});
});

Deno.test("an acknowledged topic missing on a node is an admin-lost, once per node", () => {
  const result = checkAdminOps([create("a", "ok")], [view(1, { a: 1 }), view(2, {}), view(3, {})]);
  strictEqual(result.counts["admin-lost"], 2);
  strictEqual(result.violations, 2);
  ok(result.examples["admin-lost"]![0].includes("node 2 has no such topic"));
});

Deno.test("fewer partitions than the largest acknowledged count is an admin-lost", () => {
  const ops = [create("a", "ok"), grow("a", 2, "ok"), grow("a", 3, "ok")];
  const result = checkAdminOps(ops, [view(1, { a: 2 })]);
  strictEqual(result.counts["admin-lost"], 1);
  ok(result.examples["admin-lost"]![0].includes("acknowledged with 3"));
});

Deno.test("a definitely failed creation that exists is an admin-failed-applied", () => {
  const result = checkAdminOps([create("a", "fail")], [view(1, { a: 1 })]);
  strictEqual(result.counts["admin-failed-applied"], 1);
  strictEqual(result.counts["admin-lost"], 0);
  deepStrictEqual(result.ops, { ok: 0, failed: 1, unknown: 0 });
});

Deno.test("a definitely failed creation that does not exist is fine", () => {
  strictEqual(checkAdminOps([create("a", "fail")], [view(1, {})]).violations, 0);
});

Deno.test("an unknown creation may or may not exist", () => {
  const ops = [create("a", "unknown"), create("b", "unknown")];
  strictEqual(checkAdminOps(ops, [view(1, { a: 1 })]).violations, 0);
});

Deno.test("a definitely failed add-partitions that took effect is an admin-failed-applied", () => {
  const ops = [create("a", "ok"), grow("a", 2, "fail")];
  const result = checkAdminOps(ops, [view(1, { a: 2 })]);
  strictEqual(result.counts["admin-failed-applied"], 1);
  ok(result.examples["admin-failed-applied"]![0].includes("asked for is 1"));
});

Deno.test("a failed add-partitions retried later with success is no violation", () => {
  const ops = [create("a", "ok"), grow("a", 2, "fail"), grow("a", 2, "ok")];
  strictEqual(checkAdminOps(ops, [view(1, { a: 2 })]).violations, 0);
});

Deno.test("an unknown add-partitions may have raised the count", () => {
  const ops = [create("a", "ok"), grow("a", 2, "unknown"), grow("a", 3, "fail")];
  strictEqual(checkAdminOps(ops, [view(1, { a: 2 })]).violations, 0);
  strictEqual(checkAdminOps(ops, [view(1, { a: 1 })]).violations, 0);
  strictEqual(checkAdminOps(ops, [view(1, { a: 3 })]).counts["admin-failed-applied"], 1);
});

Deno.test("add-partitions on a topic whose creation failed cannot make it exist", () => {
  const ops = [create("a", "fail"), grow("a", 2, "unknown")];
  strictEqual(checkAdminOps(ops, [view(1, {})]).violations, 0);
  strictEqual(checkAdminOps(ops, [view(1, { a: 2 })]).counts["admin-failed-applied"], 1);
});

Deno.test("topics the operations never touched are ignored", () => {
  strictEqual(checkAdminOps([create("a", "ok")], [view(1, { a: 1, chaos: 6 })]).violations, 0);
});

Deno.test("examples are bounded while counts are not", () => {
  const ops = Array.from({ length: 30 }, (_, i) => create(`t${i}`, "ok"));
  const result = checkAdminOps(ops, [view(1, {})], 5);
  strictEqual(result.counts["admin-lost"], 30);
  strictEqual(result.examples["admin-lost"]!.length, 5);
});
