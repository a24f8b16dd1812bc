import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { StromError } from "@strom/client";
import { answerError, notLeader, offsetOutOfRange } from "./errors.ts";

Deno.test("answer errors are StromErrors without a stack, and leave stack capture on for others", () => {
  const limit = Error.stackTraceLimit;
  const answer = offsetOutOfRange("orders-0", 9, 0, 5);
  ok(answer instanceof StromError);
  strictEqual(answer.code, "OFFSET_OUT_OF_RANGE");
  deepStrictEqual(answer.details, { offset: 9, logStartOffset: 0, logEndOffset: 5 });
  ok(!/\n\s+at /.test(answer.stack ?? ""), "no stack frames captured");
  ok(!/\n\s+at /.test(notLeader("orders-0", "it is not the leader").stack ?? ""));
  const hinted = answerError("NOT_LEADER_OR_FOLLOWER", "moved", { leader: { id: 2, url: "u" } });
  deepStrictEqual(hinted.leader, { id: 2, url: "u" });
  strictEqual(Error.stackTraceLimit, limit);
  ok(/\n\s+at /.test(new Error("elsewhere").stack ?? ""), "other errors keep their stacks");
});
