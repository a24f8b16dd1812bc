/**
 * Regression tests for the two bugs the 30-minute chaos runs found (seeds 21
 * and 22). Both are open, so the tests only run when
 * `STROM_RUN_KNOWN_BUGS=1` is set; each is a 3-minute chaos run of the one
 * fault kind that triggers its bug, and must then find no violation of it.
 *
 * 1. Duplicates under an idempotent producer: every cluster of duplicates
 *    (seed 21: offsets 4020-4024 of chaos/5 appended again at 4040-4045, and
 *    chaos/1 8854-8858 again at 8892-8902; seed 22: three clusters) began
 *    within 100 ms of a `partition/leader-controller` fault (a partition
 *    leader cut from the controller, not from clients or followers). The
 *    first copies were committed; the producer, not knowing, re-sent them and
 *    they were appended again at new offsets and acknowledged there. Suspect:
 *    the new leader answers OUT_OF_ORDER_SEQUENCE_NUMBER to the re-sent
 *    batch and the producer (client/producer/producer.ts `#onError`)
 *    renumbers it under a new producer id, although the batch was appended.
 * 2. Committed offsets going backwards: twice in seed 22 (at 582 s and
 *    1,573 s) every partition's committed offset of the group dropped by 1-23
 *    at once, ~7 s after the node holding the coordinator was SIGKILLed (a
 *    leader or controller kill): commits acknowledged by the coordinator
 *    were lost in its failover.
 *
 * @module
 */

import assert from "node:assert/strict";
import { formatSummary } from "./chaos/report.ts";
import { runChaos } from "./chaos/run.ts";
import { CHAOS_DEFAULTS, type FaultKind } from "./chaos/options.ts";

const RUN = Deno.env.get("STROM_RUN_KNOWN_BUGS") === "1";

async function shortRun(faults: FaultKind[]) {
  const seed = Math.floor(Math.random() * 2 ** 31);
  const { report } = await runChaos(
    { ...CHAOS_DEFAULTS, seed, durationMs: 180_000, faults, progressEveryMs: 0 },
    () => {},
  );
  console.error(formatSummary(report));
  return { seed, report };
}

Deno.test({
  name: "leaders cut from the controller never make an idempotent producer's writes appear twice",
  ignore: !RUN,
  async fn() {
    const { seed, report } = await shortRun(["partition"]);
    assert.equal(report.duplicates, 0, `duplicates; replay with deno task chaos --seed ${seed}`);
  },
});

Deno.test({
  name: "killing the coordinator's node never moves a group's committed offsets backwards",
  ignore: !RUN,
  async fn() {
    const { seed, report } = await shortRun(["kill"]);
    assert.equal(report.committedBackwards, 0, `replay with deno task chaos --seed ${seed}`);
  },
});
