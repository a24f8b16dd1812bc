/**
 * `deno task sim:raft --seeds N [--first F] [--ticks T] [--voters 3|5]` runs
 * N seeded simulations; `--seed S` replays one seed and prints its details.
 * Exits with status 1 if any seed fails, printing every failing seed.
 *
 * @module
 */

import { runSeed, runSeeds } from "./simulator.ts";

function flag(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

function intFlag(args: readonly string[], name: string, fallback: number): number {
  const v = flag(args, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new Error(`--${name} needs a non-negative integer, got ${v}`);
  }
  return n;
}

/** Runs the command line; returns the process exit code. */
export function main(args: readonly string[]): number {
  const faultTicks = intFlag(args, "ticks", 600);
  const votersFlag = flag(args, "voters");
  const voters = votersFlag === "3" ? 3 : votersFlag === "5" ? 5 : undefined;
  const single = flag(args, "seed");
  const started = performance.now();
  if (single !== undefined) {
    const result = runSeed({ seed: intFlag(args, "seed", 0), faultTicks, voters });
    console.log(JSON.stringify(result, null, 2));
    return result.ok ? 0 : 1;
  }
  const count = intFlag(args, "seeds", 100);
  const first = intFlag(args, "first", 1);
  const summary = runSeeds({ first, count, faultTicks, voters });
  const seconds = (performance.now() - started) / 1000;
  for (const f of summary.failures) {
    console.log(`FAILED seed ${f.seed} (replay: deno task sim:raft --seed ${f.seed}): ${f.error}`);
  }
  console.log(
    `${summary.seeds} seeds, ${summary.failures.length} failed, ${summary.events} events, ` +
      `${summary.checks} invariant checks, ${summary.ticks} ticks in ${seconds.toFixed(1)} s ` +
      `(${(summary.seeds / seconds).toFixed(1)} seeds/s)`,
  );
  console.log(JSON.stringify(summary.stats));
  return summary.failures.length === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(main(Deno.args));
