/**
 * The flags of `deno task bench`, parsed into one options object with the
 * defaults of the reference scenario (1 KiB records, RF 3, acks=all,
 * min.insync.replicas 2, no compression).
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { CompressionName } from "../../client/mod.ts";

/** The benchmark kinds. */
export type BenchCommand = "produce" | "consume" | "e2e" | "failover" | "create";

/** Every option of a bench run. */
export interface BenchOptions {
  readonly command: BenchCommand;
  /** Topic to use; a fresh unique name by default. */
  readonly topic: string;
  readonly records: number;
  readonly recordSizeBytes: number;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly minInsyncReplicas: number;
  readonly acks: "all" | "1" | "0";
  readonly compression: CompressionName;
  readonly batchBytes: number;
  readonly lingerMs: number;
  readonly producers: number;
  /** Records awaiting their acknowledgement per producer (1 = one at a time). */
  readonly inFlightRecordsMax: number;
  /** Target records/s over all producers; 0 = as fast as possible. */
  readonly throughputRecordsPerSec: number;
  /** produce: seconds of load before the measured records (not counted, not timed). */
  readonly warmupSecs: number;
  readonly idempotence: boolean;
  /** Extra topic configs, `key=value`. */
  readonly topicConfigs: Readonly<Record<string, string>>;
  /** Use this cluster instead of starting one. */
  readonly brokers: readonly string[] | undefined;
  /** A running cluster's manifest (pids to sample, commands to restart), with or without --brokers. */
  readonly manifestPath: string | undefined;
  /** Nodes of the cluster the bench starts. */
  readonly nodes: number;
  /** failover: how many leaders to kill. */
  readonly kills: number;
  /** failover: first create a topic of this many partitions (0 = none). */
  readonly preloadPartitions: number;
  readonly json: boolean;
  readonly progress: boolean;
}

/** Raised for bad flags; main prints the usage and exits 2. */
export class UsageError extends Error {}

/** The usage text. */
export const USAGE = `usage: deno task bench <produce|consume|e2e|failover|create> [flags]

  --topic NAME            topic (default: a fresh bench-<time> topic)
  --records N             records to produce/consume (default 100000)
  --record-size BYTES     value size (default 1024)
  --partitions N          partitions of the topic (default 6; failover 1)
  --replication-factor N  default 3 (or the node count if fewer)
  --min-insync N          min.insync.replicas (default 2)
  --acks all|1|0          default all
  --compression C         none|gzip|snappy|lz4|zstd (default none)
  --batch-bytes N         producer batch size (default 262144)
  --linger-ms N           producer linger (default 5)
  --producers N           concurrent producers (default 1)
  --max-in-flight N       records awaiting ack per producer (default 5000; 1 = one at a time)
  --throughput N          target records/s over all producers (default: max)
  --warmup-secs S         produce: send at the same rate for S seconds first, unmeasured (default 0)
  --idempotence true|false  default true with acks=all
  --topic-config k=v      extra topic config (repeatable), e.g. flush.messages=1
  --kills N               failover: leaders to SIGKILL (default 5)
  --preload-partitions N  failover: first create a topic with N partitions (timed)
  --brokers URL,URL       use a running cluster instead of starting one
  --manifest FILE         that cluster's cluster.json (broker RSS/CPU; needed by failover)
  --nodes N               nodes of the cluster the bench starts (default 3)
  --json                  print one JSON object
  --no-progress           no progress bar on stderr`;

/** Parses argv (without the program name). */
export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        topic: { type: "string" },
        records: { type: "string" },
        "record-size": { type: "string" },
        partitions: { type: "string" },
        "replication-factor": { type: "string" },
        "min-insync": { type: "string" },
        acks: { type: "string" },
        compression: { type: "string" },
        "batch-bytes": { type: "string" },
        "linger-ms": { type: "string" },
        producers: { type: "string" },
        "max-in-flight": { type: "string" },
        throughput: { type: "string" },
        "warmup-secs": { type: "string" },
        idempotence: { type: "string" },
        "topic-config": { type: "string", multiple: true },
        kills: { type: "string" },
        "preload-partitions": { type: "string" },
        brokers: { type: "string" },
        manifest: { type: "string" },
        nodes: { type: "string" },
        json: { type: "boolean" },
        "no-progress": { type: "boolean" },
        help: { type: "boolean" },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const v = parsed.values;
  if (v.help) throw new UsageError("");
  const command = parsed.positionals[0];
  const commands = ["produce", "consume", "e2e", "failover", "create"];
  if (!command || !commands.includes(command) || parsed.positionals.length > 1) {
    throw new UsageError(`expected one of ${commands.join(", ")}, got ${parsed.positionals}`);
  }
  const acks = v.acks ?? "all";
  if (!["all", "1", "0", "-1"].includes(acks)) throw new UsageError(`--acks ${acks}?`);
  const compression = v.compression ?? "none";
  if (!["none", "gzip", "snappy", "lz4", "zstd"].includes(compression)) {
    throw new UsageError(`--compression ${compression}?`);
  }
  const nodes = int("nodes", v.nodes, 3, 1);
  const topicConfigs: Record<string, string> = {};
  for (const kv of v["topic-config"] ?? []) {
    const i = kv.indexOf("=");
    if (i <= 0) throw new UsageError(`--topic-config expects key=value, got ${kv}`);
    topicConfigs[kv.slice(0, i)] = kv.slice(i + 1);
  }
  const normalizedAcks = acks === "-1" ? "all" : acks as "all" | "1" | "0";
  return {
    command: command as BenchCommand,
    topic: v.topic ?? `bench-${command}-${Date.now().toString(36)}`,
    records: int("records", v.records, 100_000, 1),
    recordSizeBytes: int("record-size", v["record-size"], 1024, 8),
    partitions: int("partitions", v.partitions, command === "failover" ? 1 : 6, 1),
    replicationFactor: int("replication-factor", v["replication-factor"], Math.min(3, nodes), 1),
    minInsyncReplicas: int("min-insync", v["min-insync"], Math.min(2, nodes), 1),
    acks: normalizedAcks,
    compression: compression as CompressionName,
    batchBytes: int("batch-bytes", v["batch-bytes"], 256 * 1024, 1),
    lingerMs: int("linger-ms", v["linger-ms"], 5, 0),
    producers: int("producers", v.producers, 1, 1),
    inFlightRecordsMax: int("max-in-flight", v["max-in-flight"], 5_000, 1),
    throughputRecordsPerSec: int("throughput", v.throughput, 0, 0),
    warmupSecs: int("warmup-secs", v["warmup-secs"], 0, 0),
    idempotence: v.idempotence === undefined
      ? normalizedAcks === "all"
      : bool("idempotence", v.idempotence),
    topicConfigs,
    brokers: v.brokers?.split(",").map((s) => s.trim()).filter((s) => s),
    manifestPath: v.manifest,
    nodes,
    kills: int("kills", v.kills, 5, 1),
    preloadPartitions: int("preload-partitions", v["preload-partitions"], 0, 0),
    json: v.json ?? false,
    progress: !(v["no-progress"] ?? false),
  };
}

function int(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw.replaceAll("_", ""));
  if (!Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`--${name} expects an integer ≥ ${min}, got ${raw}`);
  }
  return n;
}

function bool(name: string, raw: string): boolean {
  if (raw === "true") return true;
  if (raw === "false") return false;
  throw new UsageError(`--${name} expects true or false, got ${raw}`);
}
