/**
 * `deno task sim:groups [seeds] [firstSeed]`: runs the group coordinator
 * simulation over many seeds (default 5,000) and prints totals; a failing
 * seed is printed with its error, to rerun with STROM_SIM_SEED.
 *
 * @module
 */

import { runGroupSim } from "./_group_sim.ts";

const seeds = Number(Deno.args[0] ?? 5_000);
const first = Number(Deno.args[1] ?? 1);
const totals: Record<string, number> = {};
const started = performance.now();
for (let seed = first; seed < first + seeds; seed++) {
  try {
    for (const [k, v] of Object.entries(runGroupSim(seed))) totals[k] = (totals[k] ?? 0) + v;
  } catch (e) {
    console.error((e as Error).message);
    console.error(
      `rerun: STROM_SIM_SEED=${seed} deno test --allow-all broker/groups/group_sim_test.ts`,
    );
    Deno.exit(1);
  }
}
const seconds = (performance.now() - started) / 1000;
console.log(`${seeds} seeds from ${first} passed in ${seconds.toFixed(1)} s`);
console.log(JSON.stringify(totals, null, 2));
