import assert from "node:assert/strict";
import { StromError } from "@strom/client";
import { LeaderEpochCache } from "../storage/leader_epoch_cache.ts";
import { ReplicaInvariantError } from "./_assert.ts";
import type { PartitionAssignment } from "./leader_state.ts";
import { PartitionLeader } from "./leader_state.ts";

const LAG_MS = 1_000;

function assignment(over: Partial<PartitionAssignment> = {}): PartitionAssignment {
  return {
    replicas: [1, 2, 3],
    isr: [1, 2, 3],
    leader: 1,
    leaderEpoch: 5,
    partitionEpoch: 7,
    ...over,
  };
}

/** A leader at epoch 5 with `leo` records, epochs 0 (from 0) and 5 (from `leo`). */
function setup(
  options: { leo?: number; hw?: number; a?: PartitionAssignment; epochStart?: number } = {},
) {
  let leo = options.leo ?? 10;
  const epochs = new LeaderEpochCache([{ epoch: 0, startOffset: 0 }], () => leo);
  const leader = new PartitionLeader({
    partition: "t-0",
    localBrokerId: 1,
    assignment: options.a ?? assignment(),
    logEndOffset: leo,
    highWatermark: options.hw ?? 0,
    nowMs: 0,
    replicaLagTimeMaxMs: LAG_MS,
  });
  epochs.assign(5, leo);
  const log = { logStartOffset: 0, epochs };
  const append = (n: number) => {
    leo += n;
    return leader.appended(leo);
  };
  const fetch = (replicaId: number, fetchOffset: number, nowMs = 0, lastFetchedEpoch = 5) =>
    leader.handleFollowerFetch(
      { replicaId, currentLeaderEpoch: 5, fetchOffset, lastFetchedEpoch },
      log,
      nowMs,
    );
  return { leader, append, fetch, log, epochs };
}

Deno.test("the HW is the smallest LEO of the ISR, leader included", () => {
  const { leader, append, fetch } = setup({ leo: 0 });
  append(10);
  fetch(2, 7);
  assert.equal(leader.highWatermark, 0, "broker 3 has not fetched yet");
  const { effects } = fetch(3, 4);
  assert.equal(effects.highWatermarkAdvanced, true);
  assert.equal(leader.highWatermark, 4);
  fetch(3, 10);
  assert.equal(leader.highWatermark, 7);
});

Deno.test("a new leader keeps its old HW until every ISR member has fetched", () => {
  const { leader, fetch } = setup({ leo: 10, hw: 3 });
  assert.equal(leader.highWatermark, 3);
  fetch(2, 10);
  assert.equal(leader.highWatermark, 3);
  fetch(3, 8);
  assert.equal(
    leader.highWatermark,
    8,
    "offsets of older epochs commit once all ISR members hold them",
  );
});

Deno.test("the HW never decreases, even if a follower fetches from further back", () => {
  const { leader, fetch } = setup({ leo: 10 });
  fetch(2, 10);
  fetch(3, 10);
  assert.equal(leader.highWatermark, 10);
  const { effects } = fetch(3, 6);
  assert.equal(leader.highWatermark, 10);
  assert.equal(effects.alterPartition?.kind, "shrink", "a member below the HW lost data: drop it");
  assert.deepEqual(effects.alterPartition?.isr, [1, 2]);
});

Deno.test("a leader alone in the ISR commits on append", () => {
  const { leader, append } = setup({ leo: 0, a: assignment({ isr: [1] }) });
  const effects = append(3);
  assert.equal(effects.highWatermarkAdvanced, true);
  assert.equal(leader.highWatermark, 3);
});

Deno.test("handleFollowerFetch() answers a diverging epoch when the follower's log forked", () => {
  const { fetch } = setup({ leo: 10 });
  // The follower wrote epoch 3 records that this leader never had: epoch 0 ends at 10 here.
  const { decision } = fetch(2, 14, 0, 3);
  assert.deepEqual(decision.kind === "diverging" && decision.divergingEpoch, {
    epoch: 0,
    endOffset: 10,
  });
});

Deno.test("handleFollowerFetch() answers a diverging epoch when the follower is past the epoch's end", () => {
  const { fetch } = setup({ leo: 10 });
  const { decision } = fetch(2, 12, 0, 0);
  assert.equal(decision.kind, "diverging");
  assert.equal(decision.kind === "diverging" && decision.divergingEpoch.endOffset, 10);
});

Deno.test("a diverging fetch does not count as progress", () => {
  const { leader, fetch } = setup({ leo: 10 });
  fetch(2, 14, 0, 3);
  assert.equal(leader.followerLogEndOffset(2), -1);
});

Deno.test("handleFollowerFetch() refuses stale and unknown epochs and non-replicas", () => {
  const { leader, log } = setup();
  const ask = (replicaId: number, currentLeaderEpoch: number) => {
    const { decision } = leader.handleFollowerFetch(
      { replicaId, currentLeaderEpoch, fetchOffset: 0, lastFetchedEpoch: -1 },
      log,
      0,
    );
    return decision.kind === "error" ? decision.error.code : decision.kind;
  };
  assert.equal(ask(2, 4), "FENCED_LEADER_EPOCH");
  assert.equal(ask(2, 6), "NOT_LEADER_OR_FOLLOWER");
  assert.equal(ask(9, 5), "NOT_LEADER_OR_FOLLOWER");
  assert.equal(ask(2, 5), "read");
});

Deno.test("a fetch beyond the leader's log without an epoch is OFFSET_OUT_OF_RANGE", () => {
  const { fetch } = setup({ leo: 10 });
  const { decision } = fetch(2, 11, 0, -1);
  assert.equal(decision.kind === "error" && decision.error.code, "OFFSET_OUT_OF_RANGE");
});

Deno.test("lastCaughtUpTimeMs follows Kafka: reaching the LEO now, or the LEO of the previous fetch", () => {
  const { leader, append, fetch } = setup({ leo: 10, a: assignment({ isr: [1, 2] }) });
  fetch(2, 10, 100);
  assert.equal(leader.followerLastCaughtUpTimeMs(2), 100);
  append(5); // LEO 15
  fetch(2, 12, 200); // behind the LEO (15), but past the LEO of its previous fetch (10)
  assert.equal(leader.followerLastCaughtUpTimeMs(2), 100, "caught up as of its previous fetch");
  append(5); // LEO 20
  fetch(2, 14, 300); // not past 15, the LEO at its previous fetch
  assert.equal(leader.followerLastCaughtUpTimeMs(2), 100);
  fetch(2, 20, 400);
  assert.equal(leader.followerLastCaughtUpTimeMs(2), 400);
});

Deno.test("tick() proposes to drop a follower that has not caught up for replicaLagTimeMaxMs", () => {
  const { leader, append, fetch } = setup({ leo: 10 });
  fetch(2, 10, 0);
  fetch(3, 10, 0);
  append(1);
  fetch(2, 11, 500);
  assert.equal(
    leader.tick(LAG_MS).alterPartition,
    undefined,
    "exactly at the limit is still in sync",
  );
  const intent = leader.tick(LAG_MS + 1).alterPartition;
  assert.deepEqual(intent && { kind: intent.kind, isr: intent.isr }, {
    kind: "shrink",
    isr: [1, 2],
  });
  assert.equal(intent?.leaderEpoch, 5);
  assert.equal(intent?.partitionEpoch, 7);
  assert.equal(leader.tick(LAG_MS + 2).alterPartition, undefined, "only one change in flight");
});

Deno.test("a follower at the leader's LEO stays in sync however long it is idle", () => {
  const { leader, fetch } = setup({ leo: 10 });
  fetch(2, 10, 0);
  fetch(3, 10, 0);
  assert.equal(leader.tick(60_000).alterPartition, undefined);
});

Deno.test("quiet ticks share one effects object, which always carries the current HW", () => {
  const { leader, append, fetch } = setup({ leo: 10 });
  fetch(2, 10, 0);
  fetch(3, 10, 0);
  const first = leader.tick(100);
  assert.deepEqual(first, {
    highWatermark: 10,
    highWatermarkAdvanced: false,
    alterPartition: undefined,
  });
  assert.equal(leader.tick(200), first, "nothing moved: the same object");
  append(5);
  fetch(2, 15, 300);
  fetch(3, 15, 300);
  const after = leader.tick(400);
  assert.notEqual(after, first);
  assert.equal(after.highWatermark, 15, "a moved HW is never answered with the old object");
  assert.equal(first.highWatermark, 10, "the shared object was not changed in place");
});

Deno.test("while a shrink is in flight the HW still waits for the member being removed", () => {
  const { leader, append, fetch } = setup({ leo: 10 });
  fetch(2, 10, 0);
  fetch(3, 10, 0);
  append(5);
  fetch(2, 15, 1_500);
  const intent = leader.tick(1_500).alterPartition!;
  assert.deepEqual(intent.isr, [1, 2]);
  assert.equal(leader.highWatermark, 10, "KIP-497: the committed ISR still bounds the HW");
  const effects = leader.handleAlterPartitionAnswer(intent.intentId, {
    ok: true,
    assignment: assignment({ isr: [1, 2], partitionEpoch: 8 }),
  });
  assert.equal(effects.highWatermarkAdvanced, true);
  assert.equal(leader.highWatermark, 15);
  assert.deepEqual(leader.isr, [1, 2]);
  assert.equal(leader.pendingAlterPartition, undefined);
});

Deno.test("a follower rejoins once it reaches the HW and the epoch start, and counts for the HW at once", () => {
  const { leader, append, fetch } = setup({ leo: 10, a: assignment({ isr: [1, 2] }) });
  fetch(2, 10);
  append(10); // LEO 20
  fetch(2, 20);
  assert.equal(leader.highWatermark, 20);
  assert.equal(fetch(3, 9).effects.alterPartition, undefined, "below the epoch start (10)");
  assert.equal(fetch(3, 15).effects.alterPartition, undefined, "below the HW (20)");
  const intent = fetch(3, 20).effects.alterPartition!;
  assert.deepEqual({ kind: intent.kind, isr: intent.isr }, { kind: "expand", isr: [1, 2, 3] });
  assert.deepEqual(leader.maximalIsr, [1, 2, 3]);
  append(5);
  fetch(2, 25);
  assert.equal(leader.highWatermark, 20, "the joining replica already bounds the HW");
  fetch(3, 25);
  assert.equal(leader.highWatermark, 25);
});

Deno.test("a refused AlterPartition clears the request so that the next tick proposes again", () => {
  const { leader, append, fetch } = setup({ leo: 10 });
  fetch(2, 10, 0);
  fetch(3, 10, 0);
  append(1);
  const first = leader.tick(2_000).alterPartition!;
  leader.handleAlterPartitionAnswer(first.intentId, {
    ok: false,
    error: new StromError("INVALID_UPDATE_VERSION", "stale"),
  });
  assert.equal(leader.isLeader, true);
  const second = leader.tick(2_001).alterPartition!;
  assert.notEqual(second.intentId, first.intentId);
  leader.handleAlterPartitionAnswer(first.intentId, {
    ok: true,
    assignment: assignment({ isr: [1], partitionEpoch: 8 }),
  });
  assert.equal(leader.pendingAlterPartition, second, "an answer to an older request is ignored");
});

Deno.test("a fenced leader resigns: no HW advance, every request refused", () => {
  const { leader, append, fetch } = setup({ leo: 10 });
  fetch(2, 10, 0);
  fetch(3, 10, 0);
  append(1);
  const intent = leader.tick(2_000).alterPartition!;
  leader.handleAlterPartitionAnswer(intent.intentId, {
    ok: false,
    error: new StromError("FENCED_LEADER_EPOCH", "epoch 6 exists"),
  });
  assert.equal(leader.isLeader, false);
  assert.equal(append(3).highWatermarkAdvanced, false);
  const { decision } = fetch(2, 11);
  assert.equal(decision.kind === "error" && decision.error.code, "NOT_LEADER_OR_FOLLOWER");
  assert.equal(leader.admitProduce("all", 1)?.code, "NOT_LEADER_OR_FOLLOWER");
  assert.equal(leader.highWatermark, 10);
});

Deno.test("updateAssignment() applies a newer partition epoch and resigns on a newer leader epoch", () => {
  const { leader } = setup();
  leader.updateAssignment(assignment({ isr: [1, 3], partitionEpoch: 8 }));
  assert.deepEqual(leader.isr, [1, 3]);
  leader.updateAssignment(assignment({ isr: [1], partitionEpoch: 6 }));
  assert.deepEqual(leader.isr, [1, 3], "older partition epochs are ignored");
  leader.updateAssignment(assignment({ leader: 2, leaderEpoch: 6, partitionEpoch: 9 }));
  assert.equal(leader.isLeader, false);
});

Deno.test("admitProduce() refuses acks=all when the ISR is below min.insync.replicas", () => {
  const { leader } = setup({ a: assignment({ isr: [1] }) });
  assert.equal(leader.admitProduce("all", 2)?.code, "NOT_ENOUGH_REPLICAS");
  assert.equal(leader.admitProduce("1", 2), undefined);
  assert.equal(leader.admitProduce("all", 1), undefined);
});

Deno.test("a leader must be in its ISR and its HW within its log", () => {
  assert.throws(
    () =>
      new PartitionLeader({
        partition: "t-0",
        localBrokerId: 1,
        assignment: assignment({ isr: [2, 3] }),
        logEndOffset: 0,
        highWatermark: 0,
        nowMs: 0,
      }),
    ReplicaInvariantError,
  );
  assert.throws(() => setup({ leo: 3, hw: 4 }), ReplicaInvariantError);
});
