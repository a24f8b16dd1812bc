/**
 * Per-topic configuration of a partition log, with Kafka's defaults.
 *
 * Durability of an acknowledged append depends on the flush settings:
 *
 * - **Default (`flushIntervalMessages` and `flushIntervalMs` = Infinity)**:
 *   like Kafka, the log never fsyncs on the append path and relies on
 *   replication. An append is acknowledged once written to the OS page cache;
 *   it survives a crash of the broker process, but a power loss or kernel
 *   crash of this machine may lose the unsynced tail. Durability against that
 *   comes from the other in-sync replicas (acks=all, min.insync.replicas=2).
 *   The background flushes (on segment roll, on close) still bound how much
 *   must be scanned on restart.
 * - **`flushIntervalMessages = 1`**: every append resolves only after an
 *   fsync that covers it. Nothing acknowledged is lost even if the machine
 *   loses power. Concurrent appends share one fsync (group commit), so the
 *   cost is one fsync per group, not per append.
 * - **`flushIntervalMessages = N`**: the append that makes the unflushed
 *   count reach N waits for an fsync (covering it and all before it); the
 *   appends in between are acknowledged unsynced. A power loss can lose up to
 *   N - 1 acknowledged messages.
 * - **`flushIntervalMs = T`**: a timer fsyncs the log at most T ms after the
 *   first unflushed append; appends are acknowledged unsynced, so a power loss
 *   can lose up to T ms of acknowledged appends.
 *
 * In every mode, recovery keeps everything that was fully written and synced,
 * and cuts only a torn or corrupt tail.
 *
 * @module
 */

import { StromError } from "@strom/client";

/** How old data leaves the log (Kafka's `cleanup.policy`). */
export type CleanupPolicy = "delete" | "compact" | "compact,delete";

/** Per-topic configuration of a partition log; names carry units. */
export interface LogConfig {
  /** Roll to a new segment before one grows past this (`segment.bytes`). ≤ 2 GiB - 1. */
  readonly segmentBytesMax: number;
  /** Roll a non-empty segment once its first append is this old (`segment.ms`). */
  readonly segmentAgeMsMax: number;
  /** Add a sparse index entry after at least this many log bytes (`index.interval.bytes`). */
  readonly indexIntervalBytes: number;
  /** Delete whole segments whose newest record is older than this (`retention.ms`). */
  readonly retentionMs: number;
  /** Delete oldest whole segments while the log is larger than this (`retention.bytes`). */
  readonly retentionBytes: number;
  /** `delete`, `compact` or both (`cleanup.policy`). */
  readonly cleanupPolicy: CleanupPolicy;
  /** Compaction drops a tombstone once its timestamp is older than this (`delete.retention.ms`). */
  readonly deleteRetentionMs: number;
  /** Largest record batch accepted, in bytes (`max.message.bytes`). */
  readonly maxMessageBytes: number;
  /** Fsync after this many unflushed messages (`flush.messages`); Infinity = never. */
  readonly flushIntervalMessages: number;
  /** Fsync at most this long after an unflushed append (`flush.ms`); Infinity = never. */
  readonly flushIntervalMs: number;
  /** How often the recovery point may be rewritten on flush. */
  readonly recoveryPointCheckpointIntervalMs: number;
  /** Most segments whose files (log handle and loaded indexes) stay open at once. */
  readonly openSegmentFilesMax: number;
  /** Most distinct keys one compaction pass holds in memory. */
  readonly cleanerKeysMax: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Kafka's defaults; flushing is left to replication. */
export const DEFAULT_LOG_CONFIG: LogConfig = {
  segmentBytesMax: 1024 * 1024 * 1024,
  segmentAgeMsMax: 7 * DAY_MS,
  indexIntervalBytes: 4096,
  retentionMs: 7 * DAY_MS,
  retentionBytes: Infinity,
  cleanupPolicy: "delete",
  deleteRetentionMs: DAY_MS,
  maxMessageBytes: 1024 * 1024 + 12,
  flushIntervalMessages: Infinity,
  flushIntervalMs: Infinity,
  recoveryPointCheckpointIntervalMs: 60_000,
  openSegmentFilesMax: 32,
  cleanerKeysMax: 1_000_000,
};

/** Largest segment: positions in the offset index are unsigned 32-bit, and we stay below 2^31. */
export const SEGMENT_BYTES_LIMIT = 0x7fffffff;

/**
 * Configs this module resolved (frozen): passed in again, they are returned
 * as they are, so the logs of one topic can share one object.
 */
const resolvedConfigs = new WeakSet<LogConfig>();

/**
 * Fills in defaults and validates. Kafka's `-1` ("unlimited") is accepted for
 * the retention, flush and age settings and becomes Infinity. A config this
 * function returned before is returned unchanged.
 *
 * @throws {StromError} INVALID_CONFIG naming the bad setting.
 */
export function resolveLogConfig(partial: Partial<LogConfig> = {}): LogConfig {
  if (resolvedConfigs.has(partial as LogConfig)) return partial as LogConfig;
  const merged: Record<string, unknown> = { ...DEFAULT_LOG_CONFIG };
  for (const [key, value] of Object.entries(partial)) {
    if (value !== undefined) merged[key] = value;
  }
  const config = merged as unknown as LogConfig & Record<string, unknown>;
  for (const key of UNLIMITED_ALLOWED) {
    if (config[key] === -1) merged[key] = Infinity;
  }
  positiveInteger(config, "segmentBytesMax", 1, SEGMENT_BYTES_LIMIT);
  positiveInteger(config, "indexIntervalBytes", 1, SEGMENT_BYTES_LIMIT);
  positiveInteger(config, "maxMessageBytes", 1, SEGMENT_BYTES_LIMIT);
  positiveInteger(config, "openSegmentFilesMax", 1, 1_000_000);
  positiveInteger(config, "cleanerKeysMax", 1, 1_000_000_000);
  for (const key of [...UNLIMITED_ALLOWED, "recoveryPointCheckpointIntervalMs"] as const) {
    const value = config[key];
    if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
      throw invalid(key, value, "a non-negative number of ms/bytes/messages, or -1 for unlimited");
    }
  }
  if (config.flushIntervalMessages < 1) {
    throw invalid("flushIntervalMessages", config.flushIntervalMessages, "≥ 1");
  }
  if (!["delete", "compact", "compact,delete"].includes(config.cleanupPolicy)) {
    throw invalid("cleanupPolicy", config.cleanupPolicy, `"delete", "compact" or "compact,delete"`);
  }
  const resolved = Object.freeze({ ...config });
  resolvedConfigs.add(resolved);
  return resolved;
}

/** Whether the policy includes compaction. */
export function compacts(config: LogConfig): boolean {
  return config.cleanupPolicy !== "delete";
}

/** Whether the policy includes time/size retention. */
export function deletes(config: LogConfig): boolean {
  return config.cleanupPolicy !== "compact";
}

const UNLIMITED_ALLOWED = [
  "segmentAgeMsMax",
  "retentionMs",
  "retentionBytes",
  "deleteRetentionMs",
  "flushIntervalMessages",
  "flushIntervalMs",
] as const;

function positiveInteger(
  config: Record<string, unknown>,
  key: string,
  min: number,
  max: number,
): void {
  const value = config[key];
  if (!Number.isInteger(value) || (value as number) < min || (value as number) > max) {
    throw invalid(key, value, `an integer in [${min}, ${max}]`);
  }
}

function invalid(key: string, value: unknown, expected: string): StromError {
  return new StromError(
    "INVALID_CONFIG",
    `log config ${key}=${String(value)} is invalid: expected ${expected}`,
    { details: { key, value: String(value) } },
  );
}
