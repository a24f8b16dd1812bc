import assert from "node:assert/strict";
import { failoverSamples } from "./failover.ts";
import type { HistoryOp } from "./history.ts";
import type { FaultEvent } from "./nemesis/fault.ts";

function ack(partition: number, completeMs: number): HistoryOp {
  return {
    type: "produce",
    process: "p",
    topic: "t",
    partition,
    value: `${partition}@${completeMs}`,
    invokeMs: completeMs - 1,
    completeMs,
    outcome: "ok",
    offset: 0,
  };
}

const kill = (killedAtMs: number, ledPartitions: number[]): FaultEvent => ({
  kind: "kill",
  index: 0,
  atMs: 0,
  variant: "partition-leader",
  nodes: [1],
  heldMs: 0,
  killedAtMs,
  ledPartitions,
});

Deno.test("a kill's failover is the slowest of its partitions to acknowledge again", () => {
  const ops = [ack(0, 900), ack(0, 1_300), ack(1, 1_800), ack(1, 2_000)];
  assert.deepEqual(failoverSamples([kill(1_000, [0, 1])], ops, "t"), [800]);
});

Deno.test("a kill without leaderships, or with no later ack, gives no sample", () => {
  const ops = [ack(0, 900)];
  assert.deepEqual(failoverSamples([kill(1_000, []), kill(1_000, [0])], ops, "t"), []);
});
