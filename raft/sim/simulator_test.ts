import { equal, ok } from "node:assert/strict";
import { runSeed, runSeeds } from "./simulator.ts";

const SEEDS = 500;

Deno.test(`the simulator finds no invariant violation in ${SEEDS} seeds of faults`, () => {
  const started = performance.now();
  const summary = runSeeds({ first: 1, count: SEEDS });
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `raft sim: ${summary.seeds} seeds, ${summary.events} events, ${summary.checks} invariant checks, ` +
      `${summary.ticks} ticks, ${seconds.toFixed(1)} s`,
  );
  console.log(`raft sim stats: ${JSON.stringify(summary.stats)}`);
  for (const f of summary.failures) {
    console.log(`FAILED seed ${f.seed} (replay: deno task sim:raft --seed ${f.seed}): ${f.error}`);
  }
  equal(summary.failures.length, 0);
  ok(summary.stats.crashes > 0 && summary.stats.snapshotsInstalled > 0);
  ok(
    summary.stats.configChanges > 0 && summary.stats.transfers > 0 && summary.stats.tornWrites > 0,
  );
});

Deno.test("a seed replays exactly", () => {
  const a = runSeed({ seed: 1234, voters: 5 });
  const b = runSeed({ seed: 1234, voters: 5 });
  ok(a.ok, a.error ?? "");
  equal(JSON.stringify(a), JSON.stringify(b));
});
