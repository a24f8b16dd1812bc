/**
 * Log compaction for `cleanup.policy=compact`: keeps the latest record per
 * key, and drops tombstones (null values) once older than
 * `delete.retention.ms`.
 *
 * A pass works on the *cleanable* segments: those wholly below the recovery
 * point (so fsynced, and never again scanned by recovery), never the active
 * one. It maps each key to its last offset, then rewrites each segment that
 * would change into `<base>.log.cleaned` without holding any lock, so appends
 * and reads go on. Only the swap takes the log's structural lock briefly:
 * the cleaned file (already fsynced) is renamed to `.log.swap`, the old files
 * are removed, and `.swap` becomes `.log`; recovery completes a swap a crash
 * interrupted and deletes stray `.cleaned` files.
 *
 * Offsets never change. Batches whose records all survive are copied byte for
 * byte; batches that lose some are re-encoded (as Kafka's cleaner does), one
 * batch per run of consecutive surviving offsets, keeping compression,
 * producer fields and timestamps. Transactional and control batches are kept
 * as they are (transactions are not compacted yet).
 *
 * Limitation: there is no dirty-ratio threshold; each pass reads the whole
 * cleanable section.
 *
 * @module
 */

import {
  type BatchHeader,
  batchSizeBytes,
  compression,
  compressionName,
  decodeRecordBatch,
  encodeRecordBatch,
  isControl,
  isTransactional,
  readBatchHeader,
  timestampType,
} from "@strom/client";
import { concatBytes } from "../concat_bytes.ts";
import type { Logger } from "../log.ts";
import { compacts } from "./config.ts";
import type { PartitionLog } from "./partition_log.ts";
import { INDEX_SUFFIX, LOG_SUFFIX, Segment, TIME_INDEX_SUFFIX } from "./segment.ts";

/** Bytes the cleaner reads from a segment per step. */
export const CLEANER_READ_BYTES = 1024 * 1024;
/** Cleaned output is buffered up to this many bytes before each write. */
export const CLEANER_WRITE_BUFFER_BYTES = 1024 * 1024;

/** What one compaction pass did. */
export interface CompactionResult {
  /** Segments rewritten and swapped in. */
  readonly cleanedSegments: number;
  /** Records removed because a later record has the same key. */
  readonly supersededRecords: number;
  /** Tombstones removed after `delete.retention.ms`. */
  readonly expiredTombstones: number;
  /** Log bytes of the rewritten segments before and after. */
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  /** The cleanable section ended here (exclusive). */
  readonly cleanedUpToOffset: number;
}

const NOTHING: CompactionResult = {
  cleanedSegments: 0,
  supersededRecords: 0,
  expiredTombstones: 0,
  bytesBefore: 0,
  bytesAfter: 0,
  cleanedUpToOffset: 0,
};

/**
 * Runs one compaction pass over `log`. A no-op unless its policy includes
 * `compact`. Appends and reads continue meanwhile.
 */
export async function compactLog(log: PartitionLog): Promise<CompactionResult> {
  if (!compacts(log.config)) return NOTHING;
  await log.flush();
  const recoveryPoint = log.recoveryPoint;
  const segments = await log.withStableSegments((all) => {
    const cleanable: Segment[] = [];
    for (let i = 0; i + 1 < all.length && all[i + 1].baseOffset <= recoveryPoint; i++) {
      cleanable.push(all[i]);
    }
    return Promise.resolve(cleanable);
  });
  if (segments.length === 0) return NOTHING;
  const { latest, mappedSegments } = await buildKeyMap(log, segments);
  if (mappedSegments === 0) {
    log.logger?.warn("compaction skipped: one segment has more keys than cleanerKeysMax", {
      dir: log.dir,
      cleanerKeysMax: log.config.cleanerKeysMax,
    });
    return NOTHING;
  }
  const tombstoneHorizonMs = log.clock() - log.config.deleteRetentionMs;
  const totals = {
    cleanedSegments: 0,
    supersededRecords: 0,
    expiredTombstones: 0,
    bytesBefore: 0,
    bytesAfter: 0,
  };
  for (const segment of segments.slice(0, mappedSegments)) {
    const cleaned = await cleanSegment(log, segment, latest, tombstoneHorizonMs);
    if (!cleaned) continue;
    const swapped = await swapIn(log, segment, cleaned.sizeBytes);
    if (!swapped) {
      await log.disk.remove(cleanedPath(segment));
      continue;
    }
    totals.cleanedSegments++;
    totals.supersededRecords += cleaned.superseded;
    totals.expiredTombstones += cleaned.expired;
    totals.bytesBefore += segment.sizeBytes;
    totals.bytesAfter += cleaned.sizeBytes;
  }
  const last = segments[mappedSegments - 1];
  return {
    ...totals,
    cleanedUpToOffset: segments[mappedSegments]?.baseOffset ?? nextBase(log, last),
  };
}

function nextBase(log: PartitionLog, segment: Segment): number {
  const bases = log.segmentBaseOffsets();
  return bases.find((base) => base > segment.baseOffset) ?? log.logEndOffset;
}

/** Key bytes as a string usable as a map key (one char per byte). */
function keyOf(key: Uint8Array): string {
  let out = "";
  for (let i = 0; i < key.length; i += 8192) {
    out += String.fromCharCode(...key.subarray(i, i + 8192));
  }
  return out;
}

/** Maps each key to its last offset over as many whole segments as fit in cleanerKeysMax. */
async function buildKeyMap(
  log: PartitionLog,
  segments: readonly Segment[],
): Promise<{ latest: Map<string, number>; mappedSegments: number }> {
  const latest = new Map<string, number>();
  let mapped = 0;
  for (const segment of segments) {
    const added = new Map<string, number>();
    let overflow = false;
    await forEachBatch(log, segment, async (batch, header) => {
      if (overflow || isControl(header.attributes) || isTransactional(header.attributes)) return;
      for (const record of (await decodeRecordBatch(batch)).records) {
        if (record.key === null) continue;
        const key = keyOf(record.key);
        if (
          !latest.has(key) && !added.has(key) &&
          latest.size + added.size >= log.config.cleanerKeysMax
        ) {
          overflow = true;
          return;
        }
        added.set(key, record.offset);
      }
    });
    if (overflow) break;
    for (const [key, offset] of added) latest.set(key, offset);
    mapped++;
  }
  return { latest, mappedSegments: mapped };
}

/** Calls `visit` with each whole batch of a segment, reading in large chunks. */
async function forEachBatch(
  log: PartitionLog,
  segment: Segment,
  visit: (batch: Uint8Array, header: BatchHeader) => Promise<void>,
): Promise<void> {
  await log.withSegment(segment, async (s) => {
    let position = 0;
    while (position < s.sizeBytes) {
      let chunk = await s.read(position, CLEANER_READ_BYTES);
      let at = 0;
      while (at < chunk.length) {
        if (chunk.length - at < 61) break;
        const header = readBatchHeader(chunk, at);
        const size = batchSizeBytes(header);
        if (at + size > chunk.length) {
          if (at > 0) break;
          chunk = await s.read(position, size); // one batch larger than a chunk
          continue;
        }
        await visit(chunk.subarray(at, at + size), header);
        at += size;
      }
      if (at === 0) throw new Error(`segment ${s.baseOffset} has a torn batch at ${position}`);
      position += at;
    }
  });
}

function cleanedPath(segment: Segment): string {
  return `${segment.path(LOG_SUFFIX)}.cleaned`;
}

/** Writes the cleaned copy of a segment; undefined if nothing would change. */
async function cleanSegment(
  log: PartitionLog,
  segment: Segment,
  latest: Map<string, number>,
  tombstoneHorizonMs: number,
): Promise<{ sizeBytes: number; superseded: number; expired: number } | undefined> {
  const output: Uint8Array[] = [];
  let superseded = 0;
  let expired = 0;
  await forEachBatch(log, segment, async (batch, header) => {
    if (isControl(header.attributes) || isTransactional(header.attributes)) {
      output.push(batch.slice());
      return;
    }
    const { records } = await decodeRecordBatch(batch);
    const kept = records.filter((record) => {
      if (record.key === null) return true;
      if (latest.get(keyOf(record.key)) !== record.offset) {
        superseded++;
        return false;
      }
      if (record.value === null && record.timestamp < tombstoneHorizonMs) {
        expired++;
        return false;
      }
      return true;
    });
    if (kept.length === records.length) {
      output.push(batch.slice());
      return;
    }
    for (const run of consecutiveRuns(kept)) {
      output.push(
        await encodeRecordBatch({
          records: run.map((r) => ({
            key: r.key,
            value: r.value,
            headers: r.headers,
            timestamp: r.timestamp,
          })),
          compression: compressionName(compression(header.attributes)),
          baseOffset: run[0].offset,
          partitionLeaderEpoch: header.partitionLeaderEpoch,
          producerId: header.producerId,
          producerEpoch: header.producerEpoch,
          baseSequence: header.baseSequence < 0
            ? -1
            : (header.baseSequence + run[0].offset - header.baseOffset) | 0,
          timestampType: timestampType(header.attributes),
          baseTimestamp: run[0].timestamp,
        }),
      );
    }
  });
  if (superseded === 0 && expired === 0) return undefined;
  const path = cleanedPath(segment);
  const file = await log.disk.open(path, { create: true });
  let sizeBytes = 0;
  try {
    await file.truncate(0);
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    const drain = async () => {
      const joined = concatBytes(pending, pendingBytes);
      await file.write(sizeBytes, joined);
      sizeBytes += joined.length;
      pending = [];
      pendingBytes = 0;
    };
    for (const part of output) {
      pending.push(part);
      pendingBytes += part.length;
      if (pendingBytes >= CLEANER_WRITE_BUFFER_BYTES) await drain();
    }
    if (pendingBytes > 0) await drain();
    await file.sync();
  } finally {
    file.close();
  }
  return { sizeBytes, superseded, expired };
}

function consecutiveRuns<T extends { offset: number }>(records: readonly T[]): T[][] {
  const runs: T[][] = [];
  for (const record of records) {
    const run = runs[runs.length - 1];
    if (run && run[run.length - 1].offset + 1 === record.offset) run.push(record);
    else runs.push([record]);
  }
  return runs;
}

/** Replaces `old` with its cleaned file, if it is still in the log. */
function swapIn(log: PartitionLog, old: Segment, sizeBytes: number): Promise<boolean> {
  return log.structural("compaction swap", async (segments) => {
    const index = segments.indexOf(old);
    if (index < 0 || index === segments.length - 1) return false; // deleted or truncated meanwhile
    const disk = log.disk;
    const swap = `${old.path(LOG_SUFFIX)}.swap`;
    await disk.rename(cleanedPath(old), swap);
    await disk.syncDir(log.dir);
    // From here a crash is completed by recovery, which finds the .swap file.
    log.segmentCache.forget(old);
    old.unload();
    for (const suffix of [INDEX_SUFFIX, TIME_INDEX_SUFFIX, LOG_SUFFIX]) {
      await disk.remove(old.path(suffix));
    }
    await disk.rename(swap, old.path(LOG_SUFFIX));
    await disk.syncDir(log.dir);
    if (sizeBytes === 0) {
      await disk.remove(old.path(LOG_SUFFIX));
      segments.splice(index, 1);
      log.markDirectoryDirty();
      return true;
    }
    const replacement = new Segment(log.segmentEnv, old.baseOffset, sizeBytes);
    segments[index] = replacement;
    // Build and persist its indexes now, so they are synced before the next flush moves on.
    await log.withSegment(replacement, (s) => s.sync(true));
    return true;
  });
}

/** Options of {@link LogCleaner}. */
export interface LogCleanerOptions {
  /** Pause between passes over all registered logs. */
  readonly intervalMs?: number;
  readonly logger?: Logger;
}

/**
 * Runs {@link compactLog} in the background over the registered logs, one
 * log at a time, every `intervalMs`.
 */
export class LogCleaner {
  #logs = new Set<PartitionLog>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> | undefined;
  #stopped = true;
  #stopping = false;
  readonly #intervalMs: number;
  readonly #logger: Logger | undefined;

  constructor(options: LogCleanerOptions = {}) {
    this.#intervalMs = options.intervalMs ?? 15_000;
    this.#logger = options.logger;
  }

  /** Adds a log to clean (ignored unless its policy includes compact). */
  register(log: PartitionLog): void {
    this.#logs.add(log);
  }

  /** Stops cleaning a log (call before closing it). */
  unregister(log: PartitionLog): void {
    this.#logs.delete(log);
  }

  /** Starts the periodic passes. */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#schedule();
  }

  /** Stops the passes and waits for a running one to finish. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopping = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
    this.#stopping = false;
  }

  /** One pass over every registered log; errors are logged, not thrown. */
  async cleanOnce(): Promise<Map<PartitionLog, CompactionResult>> {
    const results = new Map<PartitionLog, CompactionResult>();
    for (const log of [...this.#logs]) {
      if (this.#stopping) break;
      try {
        results.set(log, await compactLog(log));
      } catch (error) {
        this.#logger?.warn("compaction pass failed", { dir: log.dir, error: String(error) });
      }
    }
    return results;
  }

  #schedule(): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.cleanOnce().then(() => {
        this.#running = undefined;
        if (!this.#stopped) this.#schedule();
      });
    }, this.#intervalMs);
  }
}
