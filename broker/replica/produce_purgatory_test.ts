import assert from "node:assert/strict";
import { ReplicaInvariantError } from "./_assert.ts";
import type { PendingProduce, ProduceCompletion } from "./produce_purgatory.ts";
import { ProducePurgatory } from "./produce_purgatory.ts";

function req(
  requestId: number,
  baseOffset: number,
  lastOffset: number,
  over: Partial<PendingProduce> = {},
) {
  return {
    requestId,
    baseOffset,
    lastOffset,
    sizeBytes: 100,
    deadlineMs: 1_000,
    minInsyncReplicas: 2,
    ...over,
  };
}

const summary = (done: ProduceCompletion[]) =>
  done.map((c) =>
    c.ok ? `${c.requestId}:ok@${c.baseOffset}-${c.lastOffset}` : `${c.requestId}:${c.error.code}`
  );

Deno.test("requests complete once the HW passes their last offset, in order", () => {
  const p = new ProducePurgatory({ partition: "t-0" });
  assert.deepEqual(p.add(req(1, 0, 4), 0, 3), []);
  assert.deepEqual(p.add(req(2, 5, 9), 0, 3), []);
  assert.deepEqual(summary(p.highWatermarkAdvanced(4, 3)), [], "offset 4 is not below HW 4");
  assert.deepEqual(summary(p.highWatermarkAdvanced(5, 3)), ["1:ok@0-4"]);
  assert.deepEqual(summary(p.highWatermarkAdvanced(20, 3)), ["2:ok@5-9"]);
  assert.equal(p.size, 0);
  assert.equal(p.sizeBytes, 0);
});

Deno.test("a request the HW already covers completes when added", () => {
  const p = new ProducePurgatory({ partition: "t-0" });
  assert.deepEqual(summary(p.add(req(1, 0, 2), 3, 2)), ["1:ok@0-2"]);
});

Deno.test("a covered request fails with NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR shrank meanwhile", () => {
  const p = new ProducePurgatory({ partition: "t-0" });
  p.add(req(1, 0, 2), 0, 3);
  assert.deepEqual(summary(p.highWatermarkAdvanced(3, 1)), ["1:NOT_ENOUGH_REPLICAS_AFTER_APPEND"]);
});

Deno.test("admit() refuses past the request and byte limits, with a retriable error", () => {
  const p = new ProducePurgatory({ partition: "t-0", requestsMax: 2, bytesMax: 250 });
  p.add(req(1, 0, 0), 0, 3);
  assert.equal(p.admit(200)?.code, "NOT_READY");
  assert.equal(p.admit(200)?.retriable, true);
  assert.equal(p.admit(150), undefined);
  p.add(req(2, 1, 1, { sizeBytes: 150 }), 0, 3);
  assert.equal(p.admit(0)?.code, "NOT_READY", "two requests is the maximum");
  assert.throws(() => p.add(req(3, 2, 2, { sizeBytes: 0 }), 0, 3), ReplicaInvariantError);
  p.highWatermarkAdvanced(1, 3);
  assert.equal(p.admit(100), undefined, "a completion frees room");
});

Deno.test("expire() times out requests at their deadline; the others still complete", () => {
  const p = new ProducePurgatory({ partition: "t-0" });
  p.add(req(1, 0, 0, { deadlineMs: 500 }), 0, 3);
  p.add(req(2, 1, 1, { deadlineMs: 100 }), 0, 3);
  p.add(req(3, 2, 2, { deadlineMs: 900 }), 0, 3);
  assert.deepEqual(summary(p.expire(99)), []);
  const timedOut = p.expire(100);
  assert.deepEqual(summary(timedOut), ["2:REQUEST_TIMED_OUT"]);
  assert.match((timedOut[0] as { error: Error }).error.message, /may or may not be committed/);
  assert.deepEqual(summary(p.highWatermarkAdvanced(3, 3)), ["1:ok@0-0", "3:ok@2-2"]);
  assert.equal(p.size, 0);
});

Deno.test("leadershipLost() fails every waiting request with NOT_LEADER_OR_FOLLOWER", () => {
  const p = new ProducePurgatory({ partition: "t-0" });
  p.add(req(1, 0, 0), 0, 3);
  p.add(req(2, 1, 1), 0, 3);
  p.highWatermarkAdvanced(1, 3);
  assert.deepEqual(summary(p.leadershipLost("epoch 6 began")), ["2:NOT_LEADER_OR_FOLLOWER"]);
  assert.equal(p.size, 0);
  assert.deepEqual(p.highWatermarkAdvanced(10, 3), []);
});

Deno.test("requests must be added in offset order", () => {
  const p = new ProducePurgatory({ partition: "t-0" });
  p.add(req(1, 5, 9), 0, 3);
  assert.throws(() => p.add(req(2, 9, 12), 0, 3), ReplicaInvariantError);
});

Deno.test("many completions keep the queue compact", () => {
  const p = new ProducePurgatory({ partition: "t-0", requestsMax: 10 });
  for (let i = 0; i < 5_000; i++) {
    p.add(req(i, i, i, { sizeBytes: 1 }), i, 3);
    assert.equal(p.highWatermarkAdvanced(i + 1, 3).length, 1);
  }
  assert.equal(p.size, 0);
});
