import assert from "node:assert/strict";
import { StromError } from "@strom/client";
import type { EpochEntry } from "../storage/leader_epoch_cache.ts";
import { LeaderEpochCache } from "../storage/leader_epoch_cache.ts";
import { ReplicaInvariantError } from "./_assert.ts";
import { PartitionFollower } from "./follower_state.ts";

function setup(options: { leo: number; hw: number; epochs: EpochEntry[] }) {
  let leo = options.leo;
  const epochs = new LeaderEpochCache(options.epochs, () => leo);
  const follower = new PartitionFollower({
    partition: "t-0",
    localBrokerId: 2,
    leaderId: 1,
    leaderEpoch: 7,
    logEndOffset: leo,
    highWatermark: options.hw,
  });
  const log = () => ({ logEndOffset: leo, epochs });
  const setLeo = (n: number) => {
    leo = n;
  };
  return { follower, log, setLeo, epochs };
}

Deno.test("nextFetch() starts at the LEO with the last epoch, one fetch at a time", () => {
  const { follower, log } = setup({
    leo: 20,
    hw: 5,
    epochs: [{ epoch: 0, startOffset: 0 }, { epoch: 4, startOffset: 12 }],
  });
  const req = follower.nextFetch(log())!;
  assert.deepEqual(
    { ...req },
    {
      requestId: 1,
      leaderId: 1,
      replicaId: 2,
      currentLeaderEpoch: 7,
      fetchOffset: 20,
      lastFetchedEpoch: 4,
    },
  );
  assert.equal(follower.nextFetch(log()), undefined);
  follower.abandonFetch(req);
  assert.equal(follower.nextFetch(log())?.requestId, 2);
});

Deno.test("an answer with records is appended at the LEO and moves the HW to min(leader HW, LEO)", () => {
  const { follower, log, setLeo } = setup({
    leo: 10,
    hw: 2,
    epochs: [{ epoch: 0, startOffset: 0 }],
  });
  const req = follower.nextFetch(log())!;
  const action = follower.handleFetchResponse(req, { kind: "read", highWatermark: 30 }, log());
  assert.deepEqual(action, { kind: "append", baseOffset: 10, leaderHighWatermark: 30 });
  setLeo(15);
  follower.appended(15, 30);
  assert.equal(follower.highWatermark, 15);
  follower.appended(15, 12);
  assert.equal(follower.highWatermark, 15, "the HW never decreases");
});

Deno.test("a diverging answer truncates to the smaller end of the shared epoch", () => {
  const { follower, log } = setup({
    leo: 20,
    hw: 5,
    epochs: [{ epoch: 0, startOffset: 0 }, { epoch: 3, startOffset: 10 }],
  });
  const req = follower.nextFetch(log())!;
  const action = follower.handleFetchResponse(
    req,
    { kind: "diverging", divergingEpoch: { epoch: 3, endOffset: 14 }, highWatermark: 5 },
    log(),
  );
  assert.deepEqual(action, { kind: "truncate", offset: 14 });
});

Deno.test("a diverging answer for an epoch the follower lacks truncates to its own end below it", () => {
  // Follower: epoch 0 [0, 10), epoch 4 [10, 20). Leader: epoch 2 ends at 16, no epoch 4.
  const { follower, log } = setup({
    leo: 20,
    hw: 5,
    epochs: [{ epoch: 0, startOffset: 0 }, { epoch: 4, startOffset: 10 }],
  });
  assert.equal(follower.truncationOffset({ epoch: 2, endOffset: 16 }, log()), 10);
});

Deno.test("a diverging answer never truncates past the follower's own LEO", () => {
  const { follower, log } = setup({ leo: 12, hw: 5, epochs: [{ epoch: 3, startOffset: 0 }] });
  assert.equal(follower.truncationOffset({ epoch: 3, endOffset: 40 }, log()), 12);
});

Deno.test("a leader without any epoch makes the follower truncate to its HW", () => {
  const { follower, log } = setup({ leo: 12, hw: 5, epochs: [{ epoch: 3, startOffset: 0 }] });
  assert.equal(follower.truncationOffset({ epoch: -1, endOffset: -1 }, log()), 5);
});

Deno.test("truncating below the HW is refused: it would lose committed records", () => {
  const { follower, log } = setup({ leo: 20, hw: 15, epochs: [{ epoch: 3, startOffset: 0 }] });
  assert.throws(
    () => follower.truncationOffset({ epoch: 3, endOffset: 10 }, log()),
    ReplicaInvariantError,
  );
  assert.throws(() => follower.truncated(14), ReplicaInvariantError);
});

Deno.test("answers to abandoned requests, older leaders or a changed log are ignored", () => {
  const { follower, log, setLeo } = setup({
    leo: 10,
    hw: 0,
    epochs: [{ epoch: 0, startOffset: 0 }],
  });
  const read = { kind: "read", highWatermark: 10 } as const;
  const first = follower.nextFetch(log())!;
  follower.abandonFetch(first);
  const second = follower.nextFetch(log())!;
  assert.deepEqual(follower.handleFetchResponse(first, read, log()), { kind: "ignore" });
  follower.updateLeader(3, 8);
  assert.equal(follower.inFlight, undefined, "a new leader forgets the fetch to the old one");
  assert.deepEqual(follower.handleFetchResponse(second, read, log()), { kind: "ignore" });
  const third = follower.nextFetch(log())!;
  assert.equal(third.leaderId, 3);
  assert.equal(third.currentLeaderEpoch, 8);
  setLeo(11);
  assert.deepEqual(follower.handleFetchResponse(third, read, log()), { kind: "ignore" });
});

Deno.test("updateLeader() ignores older epochs", () => {
  const { follower } = setup({ leo: 0, hw: 0, epochs: [] });
  follower.updateLeader(3, 6);
  assert.equal(follower.leaderId, 1);
  assert.equal(follower.leaderEpoch, 7);
});

Deno.test("errors back off; OFFSET_OUT_OF_RANGE below the leader's start restarts the log there", () => {
  const { follower, log } = setup({ leo: 10, hw: 0, epochs: [{ epoch: 0, startOffset: 0 }] });
  const fenced = new StromError("FENCED_LEADER_EPOCH", "stale");
  let req = follower.nextFetch(log())!;
  assert.deepEqual(follower.handleFetchResponse(req, { kind: "error", error: fenced }, log()), {
    kind: "backoff",
    error: fenced,
  });
  req = follower.nextFetch(log())!;
  const trimmed = new StromError("OFFSET_OUT_OF_RANGE", "trimmed", {
    details: { offset: 10, logStartOffset: 50, logEndOffset: 90 },
  });
  assert.deepEqual(follower.handleFetchResponse(req, { kind: "error", error: trimmed }, log()), {
    kind: "truncateFullyAndStartAt",
    offset: 50,
  });
  follower.restartedAt(50);
  assert.equal(follower.logEndOffset, 50);
  assert.equal(follower.highWatermark, 50);
});
