/**
 * The report of one bench run: the JSON object `--json` prints and the
 * text the terminal shows.
 *
 * @module
 */

import type { BrokerUsage } from "./broker_sampler.ts";
import type { LatencySummaryMs } from "./latency.ts";

/** What a scenario measured, before broker usage is added. */
export interface ScenarioResult {
  readonly records: number;
  readonly elapsedMs: number;
  readonly recordsPerSec: number;
  readonly mbPerSec: number;
  readonly latencyMs: LatencySummaryMs;
  readonly failed: number;
  readonly firstError?: string;
  /** Scenario-specific figures (failover times, creation times, ack latency of e2e). */
  readonly extra?: Readonly<Record<string, unknown>>;
}

/** The whole report. */
export type BenchResult =
  & { readonly command: string; readonly config: Readonly<Record<string, unknown>> }
  & ScenarioResult
  & BrokerUsage
  & {
    /** CPU of the bench process itself (client side) over the scenario, percent of one core. */
    readonly benchCpuPercent: number;
  };

/** Records/s and MB/s (MB = 10^6 bytes, as kafka-producer-perf-test prints MB/sec on 2^20; we use MiB). */
export function rates(
  records: number,
  bytesPerRecord: number,
  elapsedMs: number,
): { recordsPerSec: number; mbPerSec: number } {
  const seconds = Math.max(1e-6, elapsedMs / 1000);
  return {
    recordsPerSec: Math.round(records / seconds),
    mbPerSec: Math.round((records * bytesPerRecord) / (1024 * 1024) / seconds * 100) / 100,
  };
}

/** The human-readable report. */
export function formatResult(r: BenchResult): string {
  const l = r.latencyMs;
  const lines = [
    `${r.command}: ${r.records} records in ${(r.elapsedMs / 1000).toFixed(2)} s` +
    (r.failed > 0 ? ` (${r.failed} failed: ${r.firstError})` : ""),
    `  throughput  ${r.recordsPerSec} records/s, ${r.mbPerSec} MiB/s`,
    `  latency ms  p50 ${l.p50}  p95 ${l.p95}  p99 ${l.p99}  p99.9 ${l.p999}  max ${l.max}  (n=${l.count})`,
    `  brokers     peak RSS ${r.brokerRssMbMax ?? "?"} MiB, CPU ${
      Object.entries(r.brokerCpuPercent).map(([id, p]) => `node ${id} ${p}%`).join(", ") || "?"
    } (of one core)`,
    `  bench       CPU ${r.benchCpuPercent}% (of one core; the client side, on the same machine)`,
  ];
  for (const [k, v] of Object.entries(r.extra ?? {})) {
    lines.push(`  ${k.padEnd(11)} ${JSON.stringify(v)}`);
  }
  return lines.join("\n");
}
