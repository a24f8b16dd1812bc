/**
 * A short chaos run in CI (issue 9): its own 3-node cluster, at least 30
 * faults of every kind this machine allows (kill, pause, partition through
 * the transport hook, corrupt, wipe), then the checker. It must find no
 * violation. The seed is printed; `deno task chaos --seed N` replays it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { formatSummary } from "./chaos/report.ts";
import { runChaos } from "./chaos/run.ts";
import { CHAOS_DEFAULTS, FAULT_KINDS } from "./chaos/options.ts";

/** Faults the CI run injects at least. */
const FAULTS_MIN = 30;

Deno.test({
  name: "a short chaos run with every fault kind finds no violation",
  async fn() {
    const seed = Math.floor(Math.random() * 2 ** 31);
    const { report } = await runChaos(
      {
        ...CHAOS_DEFAULTS,
        seed,
        durationMs: 60_000,
        faultsMin: FAULTS_MIN,
        partitions: 3,
        producers: 2,
        recoveryMs: 10_000,
        progressEveryMs: 0,
      },
      () => {},
    );
    console.error(formatSummary(report));
    assert.equal(report.violations, 0, `violations; replay with deno task chaos --seed ${seed}`);
    assert.ok(report.faultsTotal >= FAULTS_MIN, `only ${report.faultsTotal} faults`);
    for (const kind of FAULT_KINDS) assert.ok((report.faults[kind] ?? 0) > 0, `no ${kind} fault`);
    assert.ok(report.acked > 0, "no write was acknowledged");
  },
});
