/**
 * The broker's storage: segmented partition logs of record batch v2 bytes on
 * disk, with sparse offset and time indexes, a leader epoch cache, recovery,
 * a configurable flush policy with group commit, retention, and compaction.
 *
 * ```ts
 * import { PartitionLog } from "./mod.ts";
 *
 * const log = await PartitionLog.open({ dir: "/var/strom/orders-0", config: { flushIntervalMessages: 1 } });
 * const { baseOffset } = await log.append(batchBytes, { assignOffsets: true, leaderEpoch: 0 });
 * const { batches, nextOffset } = await log.read(baseOffset, 1024 * 1024);
 * await log.close();
 * ```
 *
 * @module
 */

export {
  type AppendOptions,
  type AppendResult,
  PartitionLog,
  type PartitionLogOptions,
  type ReadOptions,
  type ReadPartsResult,
  type ReadResult,
  RECENT_APPENDS_MAX,
  type RecoveryReport,
  type RetentionResult,
  type TimestampOffset,
  type TruncatedTail,
} from "./partition_log.ts";
export {
  type CleanupPolicy,
  compacts,
  DEFAULT_LOG_CONFIG,
  deletes,
  type LogConfig,
  resolveLogConfig,
} from "./config.ts";
export {
  type CompactionResult,
  compactLog,
  LogCleaner,
  type LogCleanerOptions,
} from "./cleaner.ts";
export {
  type EpochEndOffset,
  type EpochEntry,
  LeaderEpochCache,
  UNDEFINED_EPOCH,
} from "./leader_epoch_cache.ts";
export { type Disk, type DiskFile, writeFileAtomic } from "./disk.ts";
export { RealDisk } from "./real_disk.ts";
export { SimDisk, type SimDiskOptions, type SimOperation, type UnsyncedFate } from "./sim_disk.ts";
export { SegmentCache } from "./segment_cache.ts";
