import assert from "node:assert/strict";
import { runReplicationSim, SIM_DEFAULTS } from "./_replication_sim.ts";

const SEEDS = 300;

Deno.test("a leader and two followers keep every acknowledged record through elections, pauses and lost messages", () => {
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
  // The runs must actually exercise what they claim to.
  assert.ok(totals.acked > SEEDS * 20, `acked ${totals.acked}`);
  assert.ok(totals.elections > SEEDS / 2, `elections ${totals.elections}`);
  assert.ok(totals.truncations > 0, `truncations ${totals.truncations}`);
  assert.ok(
    totals.shrinks > 0 && totals.expands > 0,
    `shrinks ${totals.shrinks}, expands ${totals.expands}`,
  );
});

Deno.test("the same seed reproduces the same run", () => {
  assert.deepEqual(runReplicationSim(42), runReplicationSim(42));
});
