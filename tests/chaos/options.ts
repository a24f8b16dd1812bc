/**
 * The flags of `deno task chaos`, parsed and validated into {@link ChaosOptions}.
 *
 * @module
 */

import { parseArgs } from "node:util";

/** Every fault kind the nemesis knows, in the order the schedule cycles through them. */
export const FAULT_KINDS = ["kill", "pause", "partition", "corrupt", "wipe"] as const;

/** One of {@link FAULT_KINDS}. */
export type FaultKind = (typeof FAULT_KINDS)[number];

/** What one chaos run does. */
export interface ChaosOptions {
  readonly durationMs: number;
  readonly seed: number;
  readonly nodes: number;
  readonly faults: readonly FaultKind[];
  readonly partitions: number;
  readonly producers: number;
  /** After healing: how long consumers may keep reading before the final checks. */
  readonly recoveryMs: number;
  readonly reportFile: string | undefined;
  /** Keep injecting past the duration until this many faults ran (bounded by twice the duration). */
  readonly faultsMin: number;
  /** Print the progress line every this many ms (0: never). */
  readonly progressEveryMs: number;
}

/** Defaults of the flags. */
export const CHAOS_DEFAULTS: ChaosOptions = {
  durationMs: 60_000,
  seed: 0,
  nodes: 3,
  faults: FAULT_KINDS,
  partitions: 6,
  producers: 3,
  recoveryMs: 10_000,
  reportFile: undefined,
  faultsMin: 0,
  progressEveryMs: 5_000,
};

/** Most nodes, partitions and producers a run may ask for. */
export const NODES_MAX = 9;
export const PARTITIONS_MAX = 64;
export const PRODUCERS_MAX = 16;

/** The usage text of `deno task chaos`. */
export const CHAOS_USAGE =
  `usage: deno task chaos [--duration 90s|30m] [--seed N] [--nodes N] [--faults kill,pause,partition,corrupt,wipe]
                       [--partitions N] [--producers N] [--recovery-ms MS] [--report FILE]

Starts its own cluster, runs idempotent producers and a consumer against an RF 3 topic
(min.insync.replicas 2), injects faults on a schedule drawn from --seed, heals, waits
--recovery-ms, reads every partition back and checks the history. Exits 1 on any violation.`;

/** A bad flag, with what is wrong. */
export class ChaosUsageError extends Error {
  readonly code = "INVALID_ARGUMENT";
  constructor(message: string) {
    super(message);
    this.name = "ChaosUsageError";
  }
}

/** "90s", "30m", "1h", "500ms" or a bare number of seconds, in ms. */
export function parseDurationMs(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new ChaosUsageError(`--duration: "${text}" is not like 90s, 5m or 1h`);
  const unitMs = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[match[2] ?? "s"]!;
  return Math.round(Number(match[1]) * unitMs);
}

function integer(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new ChaosUsageError(`--${name}: expected an integer in [${min}, ${max}], got "${text}"`);
  }
  return n;
}

/** Parses argv; `--help` gives `undefined`. */
export function parseChaosArgs(args: readonly string[]): ChaosOptions | undefined {
  let values;
  try {
    values = parseArgs({
      args: [...args],
      options: {
        duration: { type: "string" },
        seed: { type: "string" },
        nodes: { type: "string" },
        faults: { type: "string" },
        partitions: { type: "string" },
        producers: { type: "string" },
        "recovery-ms": { type: "string" },
        report: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    throw new ChaosUsageError((e as Error).message);
  }
  if (values.help) return undefined;
  const d = CHAOS_DEFAULTS;
  const faults = values.faults === undefined ? d.faults : values.faults.split(",").map((f) => {
    const kind = f.trim() as FaultKind;
    if (!FAULT_KINDS.includes(kind)) {
      throw new ChaosUsageError(`--faults: unknown kind "${f}" (known: ${FAULT_KINDS.join(",")})`);
    }
    return kind;
  });
  return {
    ...d,
    durationMs: values.duration === undefined ? d.durationMs : parseDurationMs(values.duration),
    seed: values.seed === undefined
      ? Math.floor(Math.random() * 2 ** 31)
      : integer("seed", values.seed, 0, 2 ** 32 - 1),
    nodes: values.nodes === undefined ? d.nodes : integer("nodes", values.nodes, 3, NODES_MAX),
    faults: [...new Set(faults)],
    partitions: values.partitions === undefined
      ? d.partitions
      : integer("partitions", values.partitions, 1, PARTITIONS_MAX),
    producers: values.producers === undefined
      ? d.producers
      : integer("producers", values.producers, 1, PRODUCERS_MAX),
    recoveryMs: values["recovery-ms"] === undefined
      ? d.recoveryMs
      : integer("recovery-ms", values["recovery-ms"], 0, 600_000),
    reportFile: values.report,
  };
}
