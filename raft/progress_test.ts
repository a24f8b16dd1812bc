import { equal, throws } from "node:assert/strict";
import { Inflights, Progress } from "./progress.ts";
import { RaftInvariantError } from "./errors.ts";

Deno.test("Inflights refuses to grow beyond its capacity", () => {
  const inflights = new Inflights(2);
  inflights.add(1);
  inflights.add(2);
  throws(() => inflights.add(3), RaftInvariantError);
  inflights.freeLE(1);
  inflights.add(3);
  equal(inflights.count, 2);
  inflights.freeLE(10);
  equal(inflights.count, 0);
});

Deno.test("a probing follower gets one append per interval", () => {
  const pr = new Progress({ next: 5, maxInflightMsgs: 4 });
  equal(pr.isPaused(), false);
  pr.sentEntries(7, 3);
  equal(pr.isPaused(), true);
  pr.maybeUpdate(7);
  equal(pr.isPaused(), false);
});

Deno.test("a replicating follower pauses when the inflight window is full", () => {
  const pr = new Progress({ next: 1, maxInflightMsgs: 2 });
  pr.becomeReplicate();
  pr.sentEntries(3, 3);
  pr.sentEntries(5, 2);
  equal(pr.isPaused(), true);
  equal(pr.next, 6);
  pr.maybeUpdate(3);
  pr.inflights.freeLE(3);
  equal(pr.isPaused(), false);
});

Deno.test("maybeDecrTo() ignores stale rejections and jumps back to the hint", () => {
  const pr = new Progress({ next: 10, maxInflightMsgs: 2 });
  equal(pr.maybeDecrTo(5, 0), false);
  equal(pr.maybeDecrTo(9, 3), true);
  equal(pr.next, 4);
  pr.maybeUpdate(2);
  pr.becomeReplicate();
  equal(pr.maybeDecrTo(2, 0), false);
  equal(pr.maybeDecrTo(6, 0), true);
  equal(pr.next, 3);
});

Deno.test("leaving snapshot state resumes after the installed snapshot", () => {
  const pr = new Progress({ next: 3, maxInflightMsgs: 2 });
  pr.becomeSnapshot(50);
  equal(pr.isPaused(), true);
  pr.becomeProbe();
  equal(pr.next, 51);
});
