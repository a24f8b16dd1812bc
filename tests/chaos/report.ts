/**
 * The chaos run's report: the JSON written with `--report FILE` and the
 * summary table printed at the end. Built from the checker's result and what
 * the run itself knows (seed, faults injected, failover times, and any checks
 * made outside the history, such as in-sync replicas being identical or one
 * Raft leader per term).
 *
 * @module
 */

import type { AdminAnomalyKind, AdminCheckResult, AdminOp } from "./admin_checker.ts";
import {
  ANOMALY_KINDS,
  type AnomalyExample,
  type AnomalyKind,
  type CheckResult,
} from "./checker.ts";

/** A check the run made itself, outside the history (e.g. "replicas identical up to HW"). */
export interface ExtraCheck {
  readonly name: string;
  /** Violations found; 0 means it passed. */
  readonly violations: number;
  /** A few lines describing what was wrong. */
  readonly examples?: readonly string[];
}

/** What the run knows besides the history. */
export interface RunInfo {
  /** The seed that replays the fault schedule. */
  readonly seed: number;
  readonly durationMs: number;
  /** Faults injected, by kind (kill, pause, partition, corrupt, wipe, ...). */
  readonly faults: Readonly<Record<string, number>>;
  /** The fault schedule as run, for replaying and reading. */
  readonly faultSchedule?: readonly unknown[];
  /** How partitions were made: network namespaces or the transport's test hook. */
  readonly partitionMechanism?: string;
  /** SIGKILL of a leader → first acknowledged write on that partition, one sample per kill. */
  readonly failoverMs?: readonly number[];
  readonly extraChecks?: readonly ExtraCheck[];
  /** The admin operations' check; its violations count in the total. */
  readonly admin?: AdminCheckResult;
  /** The admin operations as run, for reading a failed check. */
  readonly adminHistory?: readonly AdminOp[];
  /** Corrupt faults by whether the restarted node reported the bad bytes (informational: undetected ones are an extra check). */
  readonly corruptions?: { readonly detected: number; readonly undetected: number };
}

/** Failover time statistics; null when no leader was killed. */
export interface FailoverStats {
  readonly count: number;
  readonly p50: number | null;
  readonly max: number | null;
}

/** The JSON report. Field names are stable: scripts read them. */
export interface ChaosReport {
  readonly seed: number;
  readonly durationMs: number;
  readonly valid: boolean;
  /** Every anomaly and every failed extra check. */
  readonly violations: number;
  readonly faults: Readonly<Record<string, number>>;
  readonly faultsTotal: number;
  readonly partitionMechanism?: string;
  readonly acked: number;
  readonly failed: number;
  readonly unknown: number;
  readonly unknownPresent: number;
  readonly unknownAbsent: number;
  readonly lost: number;
  readonly unseen: number;
  readonly duplicates: number;
  readonly inconsistentOffsets: number;
  readonly nonmonotonicPolls: number;
  readonly pollSkips: number;
  readonly committedBackwards: number;
  readonly failedWriteReads: number;
  readonly unexpectedValues: number;
  /** Admin operations by outcome. */
  readonly adminOps: { readonly ok: number; readonly failed: number; readonly unknown: number };
  /** Acknowledged topic creations or partition additions missing at the end. */
  readonly adminLost: number;
  /** Definitely failed admin operations that took effect anyway. */
  readonly adminFailedApplied: number;
  /** Corrupt faults whose restarted node did / did not log finding the bad bytes. */
  readonly corruptDetected: number;
  readonly corruptUndetected: number;
  readonly extraChecks: readonly ExtraCheck[];
  readonly failoverMs: FailoverStats;
  /** A few examples of each anomaly found (kinds with none are left out). */
  readonly examples: Partial<Record<AnomalyKind, readonly AnomalyExample[]>>;
  /** Sentences describing admin anomalies (kinds with none are left out). */
  readonly adminExamples: Partial<Record<AdminAnomalyKind, readonly string[]>>;
  readonly faultSchedule?: readonly unknown[];
  readonly adminHistory?: readonly AdminOp[];
}

/** The nearest-rank percentile (`p` in 0..100) of `samples`, or null if there are none. */
export function percentile(samples: readonly number[], p: number): number | null {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

/** Combines the checker's result and the run's own facts into the report. */
export function buildReport(result: CheckResult, run: RunInfo): ChaosReport {
  const count = (kind: AnomalyKind) => result.anomalies[kind].count;
  const extraChecks = run.extraChecks ?? [];
  const extraViolations = extraChecks.reduce((sum, check) => sum + check.violations, 0);
  const examples: Partial<Record<AnomalyKind, readonly AnomalyExample[]>> = {};
  for (const kind of ANOMALY_KINDS) {
    if (result.anomalies[kind].count > 0) examples[kind] = result.anomalies[kind].examples;
  }
  const samples = run.failoverMs ?? [];
  const adminViolations = run.admin?.violations ?? 0;
  const violations = result.violations + extraViolations + adminViolations;
  return {
    seed: run.seed,
    durationMs: run.durationMs,
    valid: violations === 0,
    violations,
    faults: run.faults,
    faultsTotal: Object.values(run.faults).reduce((sum, n) => sum + n, 0),
    ...(run.partitionMechanism ? { partitionMechanism: run.partitionMechanism } : {}),
    acked: result.writes.acked,
    failed: result.writes.failed,
    unknown: result.writes.unknown,
    unknownPresent: result.writes.unknownPresent,
    unknownAbsent: result.writes.unknownAbsent,
    lost: count("lost"),
    unseen: count("unseen"),
    duplicates: count("duplicate"),
    inconsistentOffsets: count("inconsistent-offsets"),
    nonmonotonicPolls: count("nonmonotonic-poll"),
    pollSkips: count("poll-skip"),
    committedBackwards: count("committed-backwards"),
    failedWriteReads: count("failed-write-read"),
    unexpectedValues: count("unexpected-value"),
    adminOps: run.admin?.ops ?? { ok: 0, failed: 0, unknown: 0 },
    adminLost: run.admin?.counts["admin-lost"] ?? 0,
    adminFailedApplied: run.admin?.counts["admin-failed-applied"] ?? 0,
    corruptDetected: run.corruptions?.detected ?? 0,
    corruptUndetected: run.corruptions?.undetected ?? 0,
    extraChecks,
    failoverMs: {
      count: samples.length,
      p50: percentile(samples, 50),
      max: samples.length === 0 ? null : Math.max(...samples),
    },
    examples,
    adminExamples: run.admin?.examples ?? {},
    ...(run.faultSchedule ? { faultSchedule: run.faultSchedule } : {}),
    ...(run.adminHistory ? { adminHistory: run.adminHistory } : {}),
  };
}

/** Rows of the summary: label, value, and whether a non-zero value is a violation. */
function summaryRows(report: ChaosReport): Array<[string, string, boolean]> {
  const faults = Object.entries(report.faults).map(([kind, n]) => `${kind} ${n}`).join(", ");
  const failover = report.failoverMs.count === 0
    ? "no leader killed"
    : `p50 ${report.failoverMs.p50} ms, max ${report.failoverMs.max} ms (${report.failoverMs.count} kills)`;
  const rows: Array<[string, string, boolean]> = [
    ["seed", String(report.seed), false],
    ["duration", `${(report.durationMs / 1000).toFixed(1)} s`, false],
    ["faults", `${report.faultsTotal}${faults ? ` (${faults})` : ""}`, false],
    ["writes acked", String(report.acked), false],
    ["writes failed", String(report.failed), false],
    [
      "writes unknown",
      `${report.unknown} (${report.unknownPresent} in the log, ${report.unknownAbsent} not)`,
      false,
    ],
    ["lost writes", String(report.lost), true],
    ["unseen", String(report.unseen), true],
    ["duplicates", String(report.duplicates), true],
    ["inconsistent offsets", String(report.inconsistentOffsets), true],
    ["nonmonotonic polls", String(report.nonmonotonicPolls), true],
    ["poll skips", String(report.pollSkips), true],
    ["committed offsets backwards", String(report.committedBackwards), true],
    ["failed writes read", String(report.failedWriteReads), true],
    ["unexpected values", String(report.unexpectedValues), true],
    [
      "admin ops",
      `${report.adminOps.ok} ok, ${report.adminOps.failed} failed, ${report.adminOps.unknown} unknown`,
      false,
    ],
    ["admin ops lost", String(report.adminLost), true],
    ["admin failures applied", String(report.adminFailedApplied), true],
    [
      "corruptions detected",
      `${report.corruptDetected} of ${report.corruptDetected + report.corruptUndetected}`,
      false,
    ],
  ];
  for (const check of report.extraChecks) rows.push([check.name, String(check.violations), true]);
  rows.push(["failover", failover, false]);
  return rows;
}

/**
 * The summary a user reads at the end of a run: one line per count (anomaly
 * rows marked when non-zero), the verdict, and a few examples of each
 * anomaly found. On failure it names the seed that replays the run.
 */
export function formatSummary(report: ChaosReport): string {
  const rows = summaryRows(report);
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = rows.map(([label, value, isViolation]) => {
    const flag = isViolation && value !== "0" ? "  <-- VIOLATION" : "";
    return `  ${label.padEnd(width)}  ${value}${flag}`;
  });
  lines.push(
    report.valid
      ? `  RESULT: OK, no violations`
      : `  RESULT: ${report.violations} violation(s); replay with --seed ${report.seed}`,
  );
  for (const [kind, examples] of Object.entries(report.examples)) {
    lines.push(`  ${kind}:`);
    for (const example of examples ?? []) {
      lines.push(`    ${example.partition}: ${example.description}`);
    }
  }
  for (const [kind, sentences] of Object.entries(report.adminExamples)) {
    lines.push(`  ${kind}:`);
    for (const sentence of sentences ?? []) lines.push(`    ${sentence}`);
  }
  for (const check of report.extraChecks) {
    if (check.violations === 0) continue;
    lines.push(`  ${check.name}:`);
    for (const example of check.examples ?? []) lines.push(`    ${example}`);
  }
  return lines.join("\n");
}
