import assert from "node:assert/strict";
import { FaultSchedule, WIPE_EVERY_ROUNDS } from "./schedule.ts";
import { FAULT_KINDS } from "./options.ts";

Deno.test("one seed gives the same schedule twice", () => {
  const a = new FaultSchedule(42, FAULT_KINDS);
  const b = new FaultSchedule(42, FAULT_KINDS);
  for (let i = 0; i < 50; i++) assert.deepEqual(a.next(), b.next());
});

Deno.test("every kind runs in the first round and wipes stay rare", () => {
  const schedule = new FaultSchedule(7, FAULT_KINDS);
  const first = Array.from({ length: FAULT_KINDS.length }, () => schedule.next().kind);
  assert.deepEqual([...first].sort(), [...FAULT_KINDS].sort());
  const more = Array.from({ length: 4 * (WIPE_EVERY_ROUNDS - 1) }, () => schedule.next().kind);
  assert.equal(more.filter((k) => k === "wipe").length, 0);
});
