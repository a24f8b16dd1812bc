import assert from "node:assert/strict";
import { FETCH_WAIT_MS_MAX } from "./config.ts";
import type { DelayedFetchRequest, FetchableLog } from "./fetch_purgatory.ts";
import { FetchPurgatory } from "./fetch_purgatory.ts";

/** A log of 10-byte records. */
function log(highWatermark: number, logEndOffset: number, logStartOffset = 0): FetchableLog {
  return { logStartOffset, logEndOffset, highWatermark, bytesBetween: (a, b) => (b - a) * 10 };
}

function fetch(requestId: number, over: Partial<DelayedFetchRequest> = {}): DelayedFetchRequest {
  return { requestId, reader: "consumer", fetchOffset: 10, minBytes: 25, maxWaitMs: 500, ...over };
}

Deno.test("a fetch waits until minBytes are readable below the HW", () => {
  const p = new FetchPurgatory();
  assert.equal(p.add(fetch(1), log(10, 20), 0), "waiting");
  assert.deepEqual(p.logChanged(log(12, 20)), [], "20 bytes are not 25");
  assert.deepEqual(p.logChanged(log(13, 20)), [1]);
  assert.equal(p.size, 0);
});

Deno.test("a follower's fetch reads up to the LEO, not the HW", () => {
  const p = new FetchPurgatory();
  assert.equal(p.add(fetch(1, { reader: "follower" }), log(10, 12), 0), "waiting");
  assert.deepEqual(p.logChanged(log(10, 13)), [1]);
});

Deno.test("a fetch that is satisfied already, or does not wait, is answered now", () => {
  const p = new FetchPurgatory();
  assert.equal(p.add(fetch(1), log(20, 20), 0), "answerNow");
  assert.equal(p.add(fetch(2, { minBytes: 0 }), log(10, 10), 0), "answerNow");
  assert.equal(p.add(fetch(3, { maxWaitMs: 0 }), log(10, 10), 0), "answerNow");
  assert.equal(p.size, 0);
});

Deno.test("a consumer ahead of a new leader's HW waits; one past the LEO is answered now", () => {
  const p = new FetchPurgatory();
  assert.equal(p.add(fetch(1, { fetchOffset: 15 }), log(10, 20), 0), "waiting");
  assert.equal(p.add(fetch(2, { fetchOffset: 21 }), log(10, 20), 0), "answerNow");
  assert.equal(p.add(fetch(3, { fetchOffset: 5 }), log(10, 20, 8), 0), "answerNow");
});

Deno.test("a truncated log wakes the fetches it cut under", () => {
  const p = new FetchPurgatory();
  p.add(fetch(1, { reader: "follower", fetchOffset: 20 }), log(10, 20), 0);
  assert.deepEqual(p.logChanged(log(10, 18)), [1]);
});

Deno.test("expire() answers fetches whose wait is over, capped at FETCH_WAIT_MS_MAX", () => {
  const p = new FetchPurgatory();
  p.add(fetch(1, { maxWaitMs: 100 }), log(10, 10), 1_000);
  p.add(fetch(2, { maxWaitMs: 10 * FETCH_WAIT_MS_MAX }), log(10, 10), 1_000);
  assert.deepEqual(p.expire(1_099), []);
  assert.deepEqual(p.expire(1_100), [1]);
  assert.deepEqual(p.expire(1_000 + FETCH_WAIT_MS_MAX), [2]);
});

Deno.test("a full purgatory answers new fetches now instead of refusing them", () => {
  const p = new FetchPurgatory({ requestsMax: 2 });
  assert.equal(p.add(fetch(1), log(10, 10), 0), "waiting");
  assert.equal(p.add(fetch(2), log(10, 10), 0), "waiting");
  assert.equal(p.add(fetch(3), log(10, 10), 0), "answerNow");
  assert.equal(p.remove(1), true);
  assert.equal(p.add(fetch(4), log(10, 10), 0), "waiting");
});

Deno.test("leadershipLost() returns every waiting fetch once", () => {
  const p = new FetchPurgatory();
  p.add(fetch(1), log(10, 10), 0);
  p.add(fetch(2), log(10, 10), 0);
  assert.deepEqual(p.leadershipLost(), [1, 2]);
  assert.deepEqual(p.leadershipLost(), []);
});
