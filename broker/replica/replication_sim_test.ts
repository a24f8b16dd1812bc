import assert from "node:assert/strict";
import { runReplicationSim, SIM_DEFAULTS } from "./_replication_sim.ts";

const SEEDS = 400;

Deno.test("a leader and two followers keep every acknowledged record through elections, pauses and lost messages", () => {
  // To debug one seed: STROM_SIM_SEED=108 deno test --allow-all broker/replica/replication_sim_test.ts
  const only = Deno.env.get("STROM_SIM_SEED");
  if (only !== undefined) {
    const lines: string[] = [];
    try {
      runReplicationSim(Number(only), { ...SIM_DEFAULTS, trace: (line) => lines.push(line) });
    } finally {
      console.log(lines.join("\n"));
    }
    return;
  }
  const totals = { produced: 0, acked: 0, elections: 0, truncations: 0, shrinks: 0, expands: 0 };
  for (let seed = 1; seed <= SEEDS; seed++) {
    const stats = runReplicationSim(seed, SIM_DEFAULTS);
    totals.produced += stats.produced;
    totals.acked += stats.acked;
    totals.elections += stats.elections;
    totals.truncations += stats.truncations;
    totals.shrinks += stats.isrShrinks;
    totals.expands += stats.isrExpands;
  }
  // The runs must exercise what they claim to.
  assert.ok(totals.acked > SEEDS * 50, `acked ${totals.acked}`);
  assert.ok(totals.elections > SEEDS, `elections ${totals.elections}`);
  assert.ok(totals.truncations > SEEDS / 2, `truncations ${totals.truncations}`);
  assert.ok(
    totals.shrinks > SEEDS && totals.expands > SEEDS,
    `ISR changes ${JSON.stringify(totals)}`,
  );
});

Deno.test("the same seed reproduces the same run", () => {
  assert.deepEqual(runReplicationSim(42), runReplicationSim(42));
});
