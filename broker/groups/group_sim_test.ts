import assert from "node:assert/strict";
import { GROUP_SIM_DEFAULTS, runGroupSim } from "./_group_sim.ts";

const SEEDS = 500;

Deno.test("a consumer group never gives a partition two owners through joins, crashes, failovers and lost heartbeats, and settles balanced", () => {
  // To debug one seed: STROM_SIM_SEED=17 deno test --allow-all broker/groups/group_sim_test.ts
  const only = Deno.env.get("STROM_SIM_SEED");
  if (only !== undefined) {
    const lines: string[] = [];
    try {
      runGroupSim(Number(only), { ...GROUP_SIM_DEFAULTS, trace: (line) => lines.push(line) });
    } finally {
      console.log(lines.join("\n"));
    }
    return;
  }
  const totals: Record<string, number> = {};
  for (let seed = 1; seed <= SEEDS; seed++) {
    for (const [k, v] of Object.entries(runGroupSim(seed))) totals[k] = (totals[k] ?? 0) + v;
  }
  // The runs must exercise what they claim to.
  for (
    const k of [
      "crashes",
      "leaves",
      "staticRestarts",
      "failovers",
      "expiredMembers",
    ]
  ) {
    assert.ok(totals[k] > SEEDS / 2, `${k}: ${JSON.stringify(totals)}`);
  }
  assert.ok(totals.commitsAccepted > SEEDS * 10, JSON.stringify(totals));
  // Stale commits (sent before a revocation was acknowledged) are rejected.
  assert.ok(totals.commitsRejected > SEEDS, JSON.stringify(totals));
});

Deno.test("the same seed reproduces the same group simulation", () => {
  assert.deepEqual(runGroupSim(7), runGroupSim(7));
});
