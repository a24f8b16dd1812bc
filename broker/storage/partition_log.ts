/**
 * The segmented log of one partition replica, on a {@link Disk}.
 *
 * Layout of the partition directory (Kafka's):
 * `<base>.log` / `.index` / `.timeindex` per segment, `leader-epoch-checkpoint`
 * and `log-checkpoint` (recovery point and log start offset).
 *
 * Concurrency: appends, rolls and all structural changes are serialised by one
 * mutex; reads and flushes run concurrently with appends and with each other
 * (a read sees only batches whose write has completed); truncation, segment
 * deletion and compaction swaps wait for in-flight reads and flushes.
 *
 * Invariants: `logStartOffset ≤ logEndOffset`; `recoveryPoint ≤ logEndOffset`
 * and everything below the recovery point is fsynced; segment base offsets
 * strictly increase and every batch of a segment has offsets ≥ its base and
 * below the next segment's base.
 *
 * @module
 */

import {
  type BatchHeader,
  batchSizeBytes,
  readBatchHeader,
  setBaseOffset,
  setPartitionLeaderEpoch,
} from "@strom/client";
import { verifyBatchCrcFast } from "./batch_crc.ts";
import { concatBytes } from "../concat_bytes.ts";
import type { Logger } from "../log.ts";
import { compacts, deletes, type LogConfig, resolveLogConfig } from "./config.ts";
import type { Disk } from "./disk.ts";
import { joinPath } from "./disk.ts";
import {
  asStromError,
  messageTooLarge,
  offsetOutOfRange,
  storageError,
  StromError,
} from "./errors.ts";
import { LEADER_EPOCH_CHECKPOINT_FILE, LeaderEpochCache } from "./leader_epoch_cache.ts";
import {
  LOG_CHECKPOINT_FILE,
  type LogCheckpoint,
  readLogCheckpoint,
  writeLogCheckpoint,
} from "./log_checkpoint.ts";
import { Mutex, RwLock, SETTLED } from "./_locks.ts";
import { RealDisk } from "./real_disk.ts";
import {
  type AppendedBatch,
  INDEX_SUFFIX,
  LOG_SUFFIX,
  parseSegmentFileName,
  Segment,
  type SegmentEnv,
  TIME_INDEX_SUFFIX,
} from "./segment.ts";
import { SegmentCache } from "./segment_cache.ts";

/** How to open a partition log. */
export interface PartitionLogOptions {
  /** The partition directory, e.g. `<data>/orders-0`. Created if missing. */
  readonly dir: string;
  readonly config?: Partial<LogConfig>;
  /** Defaults to the real file system. */
  readonly disk?: Disk;
  readonly logger?: Logger;
  /** Wall clock in ms; injected so tests control retention and rolling. */
  readonly clock?: () => number;
  /** Share one cache across logs to bound open segments per broker. */
  readonly segmentCache?: SegmentCache;
}

/** How to append. */
export interface AppendOptions {
  /**
   * Leader: true, the log assigns offsets from its end and stamps
   * `leaderEpoch`. Follower: false, batches keep the offsets and epochs the
   * leader gave them and must continue the log.
   */
  readonly assignOffsets: boolean;
  /** The leader's epoch; used when `assignOffsets` is true. */
  readonly leaderEpoch: number;
}

/** What an append did. */
export interface AppendResult {
  readonly baseOffset: number;
  readonly lastOffset: number;
  /** Broker clock when the batches were written (the log append time). */
  readonly logAppendTimeMs: number;
  readonly batchCount: number;
}

/** What a read returns. */
export interface ReadResult {
  /** Whole batches, concatenated; empty when there is nothing at the offset yet. */
  readonly batches: Uint8Array;
  /** The offset to read next: after the last returned batch, or the requested one. */
  readonly nextOffset: number;
}

/** Whole batches as parts (views of buffers held elsewhere, or one buffer read from a file). */
export interface ReadPartsResult {
  /** The batches, in log order; empty when there is nothing at the offset yet. */
  readonly parts: readonly Uint8Array[];
  /** Their summed length. */
  readonly bytes: number;
  /** The offset to read next: after the last returned batch, or the requested one. */
  readonly nextOffset: number;
}

/**
 * How many of the latest appends a {@link PartitionLog} remembers (weakly)
 * for reads near the log end. At maximum produce a follower fetches 3–4
 * appends behind the end on average (1 MiB batches, 8 producers pipelining).
 */
export const RECENT_APPENDS_MAX = 16;

/** One recent append of a {@link PartitionLog}: its offsets and (weakly) its bytes. */
interface RecentAppend {
  readonly baseOffset: number;
  /** The log end offset right after it. */
  readonly endOffset: number;
  readonly bytes: WeakRef<Uint8Array>;
}

/** Options of {@link PartitionLog.read}. */
export interface ReadOptions {
  /** Return only batches that end below this offset (the high watermark for consumers). */
  readonly endOffsetMax?: number;
}

/** A tail cut during recovery. */
export interface TruncatedTail {
  readonly segmentBaseOffset: number;
  readonly validBytes: number;
  readonly truncatedBytes: number;
  readonly reason: string;
}

/** What opening the log found and repaired. */
export interface RecoveryReport {
  /** Segments scanned with CRC checks (those from the recovery point on). */
  readonly scannedSegments: number;
  readonly truncated: readonly TruncatedTail[];
  /** Segments after a corrupt one, deleted because they could not follow it. */
  readonly deletedSegmentBaseOffsets: readonly number[];
  /** Segments whose index files were missing or corrupt, and why. */
  readonly rebuiltIndexes: readonly { segmentBaseOffset: number; reason: string }[];
  /** Problems with checkpoint files that were ignored and rebuilt. */
  readonly checkpointProblems: readonly string[];
  readonly logEndOffset: number;
}

/** What a retention pass deleted. */
export interface RetentionResult {
  readonly deletedSegments: number;
  readonly deletedBytes: number;
  readonly logStartOffset: number;
}

/** An offset found by timestamp. */
export interface TimestampOffset {
  /** Base offset of the first batch holding a record at or after the timestamp. */
  readonly offset: number;
  /** That batch's max timestamp. */
  readonly timestampMs: number;
}

const EMPTY = new Uint8Array(0);

function nothingAt(offset: number): ReadPartsResult {
  return { parts: [], bytes: 0, nextOffset: offset };
}

/** A parsed batch on its way into the log. */
interface IncomingBatch {
  readonly bytes: Uint8Array;
  readonly header: BatchHeader;
}

/** The first batch whose CRC-32C does not match its bytes, as CORRUPT_MESSAGE; undefined if none. */
function verifyCrcs(incoming: readonly IncomingBatch[]): StromError | undefined {
  for (const { bytes } of incoming) {
    try {
      verifyBatchCrcFast(bytes);
    } catch (error) {
      return asStromError(error, "rejected record batch");
    }
  }
  return undefined;
}

/**
 * An empty list, shared: every log keeps its {@link RecoveryReport}, and on a
 * broker with 10,000 partitions nearly all of its lists are empty.
 */
const NONE: readonly never[] = Object.freeze([]);

function orNone<T>(list: readonly T[]): readonly T[] {
  return list.length === 0 ? NONE : list;
}

/** The partition log; see the module doc. */
export class PartitionLog {
  readonly config: LogConfig;
  readonly dir: string;
  readonly disk: Disk;
  /** Leader epoch → start offset, persisted in `leader-epoch-checkpoint`. */
  readonly epochCache: LeaderEpochCache;
  /** What {@link PartitionLog.open} found and repaired. */
  recoveryReport!: RecoveryReport;
  #emptyAtOpen = false;

  #segments: Segment[] = [];
  #logEndOffset = 0;
  #logStartOffset = 0;
  /** Everything below is fsynced (in memory; the file copy may lag but never leads). */
  #recoveryPoint = 0;
  #checkpointWrittenMs = -Infinity;
  /** The checkpoint file's content as last read or written (undefined: none, or unreadable). */
  #onDisk: LogCheckpoint | undefined;
  #messagesAppended = 0;
  #messagesFlushed = 0;
  #dirDirty = false;
  #failure: StromError | undefined;
  #closed = false;
  #flushing: Promise<void> | undefined;
  #backgroundFlush: Promise<void> = SETTLED;
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * The latest appends, oldest first, back to back in offset order and all
   * in the active segment; their bytes held weakly (see
   * {@link PartitionLog.readParts}). At most {@link RECENT_APPENDS_MAX};
   * emptied by every structural change and every roll.
   */
  #recentAppends: RecentAppend[] = [];

  readonly #writeLock = new Mutex();
  readonly #rw = new RwLock();
  readonly #cache: SegmentCache;
  readonly #env: SegmentEnv;
  readonly #logger: Logger | undefined;
  readonly #clock: () => number;

  private constructor(options: PartitionLogOptions, epochCache: LeaderEpochCache | undefined) {
    this.config = resolveLogConfig(options.config);
    this.dir = options.dir;
    this.disk = options.disk ?? new RealDisk();
    this.#logger = options.logger;
    this.#clock = options.clock ?? Date.now;
    this.#cache = options.segmentCache ?? new SegmentCache(this.config.openSegmentFilesMax);
    this.#env = {
      disk: this.disk,
      dir: this.dir,
      indexIntervalBytes: this.config.indexIntervalBytes,
    };
    this.epochCache = epochCache ?? new LeaderEpochCache([], () => this.#logEndOffset);
  }

  /**
   * Opens (or creates) the log in `options.dir`, recovering from an unclean
   * shutdown: segments from the recovery point on are scanned with CRC checks
   * and cut at the first torn or invalid batch; missing or corrupt indexes are
   * rebuilt. See {@link PartitionLog.recoveryReport} for what was done.
   *
   * @throws {StromError} KAFKA_STORAGE_ERROR if the directory cannot be read.
   */
  static async open(options: PartitionLogOptions): Promise<PartitionLog> {
    const disk = options.disk ?? new RealDisk();
    try {
      await disk.mkdirp(options.dir);
      // One listing serves the whole open: a file it does not show is not read. Reading a
      // missing file costs a NotFound error with its stack, three per new log, which was a
      // fifth of a broker's allocation while a 10,000-partition topic opened.
      const names = await disk.list(options.dir);
      let logEndOffset = () => 0;
      const { cache, problem } = names.includes(LEADER_EPOCH_CHECKPOINT_FILE)
        ? await LeaderEpochCache.load(disk, options.dir, () => logEndOffset())
        : { cache: undefined, problem: undefined };
      const log = new PartitionLog({ ...options, disk }, cache);
      logEndOffset = () => log.#logEndOffset;
      log.#emptyAtOpen = names.length === 0;
      await log.#recover(problem, names);
      return log;
    } catch (error) {
      throw asStromError(error, `cannot open partition log in ${options.dir}`);
    }
  }

  /**
   * The directory held no files when the log was opened: a new log, with
   * nothing stored beside it either (such as a producer state snapshot).
   */
  get emptyAtOpen(): boolean {
    return this.#emptyAtOpen;
  }

  /** Offset the next appended record gets. */
  get logEndOffset(): number {
    return this.#logEndOffset;
  }

  /** First offset that may be read. */
  get logStartOffset(): number {
    return this.#logStartOffset;
  }

  /** Everything below this offset is fsynced. */
  get recoveryPoint(): number {
    return this.#recoveryPoint;
  }

  /** Number of segments. */
  get segmentCount(): number {
    return this.#segments.length;
  }

  /** Total size of the segments' log files. */
  get sizeBytes(): number {
    return this.#segments.reduce((sum, segment) => sum + segment.sizeBytes, 0);
  }

  /** Base offsets of the segments, oldest first. */
  segmentBaseOffsets(): number[] {
    return this.#segments.map((segment) => segment.baseOffset);
  }

  /**
   * Appends one or more concatenated record batches. Each batch's CRC is
   * checked before the append resolves or any of it can be read (if one
   * fails, nothing is appended); a leader (`assignOffsets`) patches base
   * offsets and the leader epoch in place in `batches` (never re-encoding), a
   * follower checks that the batches continue the log. `batches` is written
   * as is, without a copy, and must not change until the append settles.
   * Resolves once the flush policy is met.
   *
   * @throws {StromError} CORRUPT_MESSAGE, MESSAGE_TOO_LARGE, FENCED_LEADER_EPOCH
   *   (a leader epoch older than the log's), OFFSET_OUT_OF_RANGE (a follower
   *   batch that does not continue the log), KAFKA_STORAGE_ERROR.
   */
  async append(batches: Uint8Array, options: AppendOptions): Promise<AppendResult> {
    const incoming = this.#parseIncoming(batches);
    const { result, flushTarget } = await this.#writeLock.run(async () => {
      this.#checkWritable();
      const infos = options.assignOffsets
        ? this.#assignOffsets(incoming, options.leaderEpoch)
        : this.#checkFollowerOffsets(incoming);
      const nowMs = this.#clock();
      await this.#maybeRoll(batches.length, infos[infos.length - 1].lastOffset, nowMs);
      // The CRCs are checked while the write is in flight (the check costs about as much as
      // the copy into the page cache); batches that fail are cut off again before anything
      // can read them, and nothing else changes.
      let corrupt: StromError | undefined;
      try {
        await this.#active.append(batches, infos, nowMs, () => {
          corrupt = verifyCrcs(incoming);
          return corrupt === undefined;
        });
      } catch (error) {
        throw this.#fail("append failed", error);
      }
      if (corrupt) throw corrupt;
      // Visible only once the log end moves, below, so the epoch change is persisted first.
      await this.#assignEpochs(incoming, infos, options);
      this.#logEndOffset = infos[infos.length - 1].lastOffset + 1;
      this.#rememberAppend(infos[0].baseOffset, batches);
      this.#messagesAppended += infos.reduce((n, b) => n + b.lastOffset - b.baseOffset + 1, 0);
      this.#scheduleTimedFlush();
      const due =
        this.#messagesAppended - this.#messagesFlushed >= this.config.flushIntervalMessages;
      return {
        result: {
          baseOffset: infos[0].baseOffset,
          lastOffset: infos[infos.length - 1].lastOffset,
          logAppendTimeMs: nowMs,
          batchCount: infos.length,
        },
        flushTarget: due ? this.#logEndOffset : undefined,
      };
    });
    // Outside the write lock: appends that arrive while this fsync runs share the next one.
    if (flushTarget !== undefined) await this.#flushTo(flushTarget);
    return result;
  }

  /**
   * Reads whole batches from `offset`, up to `maxBytes` but always at least
   * one batch if any is available (like Kafka, so a large batch cannot stall
   * a consumer). Batches are returned as stored: the first may start before
   * `offset` when `offset` falls inside it.
   *
   * @throws {StromError} OFFSET_OUT_OF_RANGE below the log start or above the log end.
   */
  async read(offset: number, maxBytes: number, options: ReadOptions = {}): Promise<ReadResult> {
    const { parts, bytes, nextOffset } = await this.readParts(offset, maxBytes, options);
    const batches = parts.length === 0
      ? EMPTY
      : parts.length === 1
      ? parts[0]
      : concatBytes(parts, bytes);
    return { batches, nextOffset };
  }

  /**
   * {@link PartitionLog.read} for a caller that sends the batches on as they
   * are (a follower's fetch answer; a binary consumer fetch could too): a read that
   * starts at one of the latest appends is answered from those appends' own
   * bytes, several of them as several parts, instead of a file read into a
   * new buffer. Otherwise (further behind, or the appends already collected)
   * the read goes to the files as {@link PartitionLog.read} does.
   */
  readParts(offset: number, maxBytes: number, options: ReadOptions = {}): Promise<ReadPartsResult> {
    return this.#rw.shared(async () => {
      this.#checkOpen();
      if (
        !Number.isSafeInteger(offset) || offset < this.#logStartOffset ||
        offset > this.#logEndOffset
      ) {
        throw offsetOutOfRange("fetch", offset, this.#logStartOffset, this.#logEndOffset);
      }
      const limit = Math.min(options.endOffsetMax ?? Infinity, this.#logEndOffset);
      if (offset >= limit) return nothingAt(offset);
      const recent = this.#recentAppendsAt(offset, maxBytes, limit);
      if (recent) return recent;
      for (let i = this.#floorSegmentIndex(offset); i < this.#segments.length; i++) {
        const found = await this.#withSegment(
          this.#segments[i],
          (segment) => this.#readFrom(segment, offset, maxBytes, limit),
        );
        if (found) {
          const { batches, nextOffset } = found;
          return { parts: batches.length > 0 ? [batches] : [], bytes: batches.length, nextOffset };
        }
      }
      return nothingAt(offset);
    });
  }

  /**
   * The first batch whose max timestamp is ≥ `timestampMs` (Kafka's
   * ListOffsets by time, at batch granularity), or undefined if none is.
   */
  offsetForTimestamp(timestampMs: number): Promise<TimestampOffset | undefined> {
    return this.#rw.shared(async () => {
      this.#checkOpen();
      for (const segment of [...this.#segments]) {
        const found = await this.#withSegment(segment, (s) => s.findBatchByTime(timestampMs));
        if (found && found.lastOffset >= this.#logStartOffset) {
          return {
            offset: Math.max(found.header.baseOffset, this.#logStartOffset),
            timestampMs: found.header.maxTimestamp,
          };
        }
      }
      return undefined;
    });
  }

  /**
   * Removes the batch holding `offset` and everything after it (a follower
   * truncating to the leader's epoch end offset). The log end offset becomes
   * the base of that batch, which is `offset` when it is a batch boundary.
   * Below the first segment, the log is emptied and restarted at `offset`.
   */
  truncateTo(offset: number): Promise<void> {
    return this.#structural("truncate", async () => {
      if (!Number.isSafeInteger(offset) || offset < 0) {
        throw offsetOutOfRange("truncation", offset, this.#logStartOffset, this.#logEndOffset);
      }
      if (offset > this.#logEndOffset) return;
      if (offset === this.#logEndOffset) {
        // No records to cut, but an epoch recorded at the LEO by a leader that
        // appended nothing must go: a follower told to truncate here would
        // otherwise keep sending that epoch and be told to truncate forever.
        this.epochCache.truncateFromEnd(offset);
        await this.epochCache.persist(this.disk, this.dir);
        return;
      }
      if (offset < this.#segments[0].baseOffset) {
        await this.#restartAt(offset);
        return;
      }
      const keep = this.#floorSegmentIndex(offset);
      const keepsActive = keep === this.#segments.length - 1;
      for (const segment of this.#segments.splice(keep + 1)) await this.#deleteSegment(segment);
      const active = this.#segments[keep];
      await this.#cache.acquire(active);
      try {
        await active.truncateTo(offset);
      } finally {
        this.#cache.release(active);
      }
      if (!keepsActive) active.pins++; // the active segment stays loaded while active
      this.#dirDirty = true;
      this.#logEndOffset = active.sizeBytes === 0 ? active.baseOffset : active.nextOffset;
      this.#afterShrink();
      this.epochCache.truncateFromEnd(this.#logEndOffset);
      await this.epochCache.persist(this.disk, this.dir);
      // The lowered recovery point must be durable before new appends reuse these offsets.
      await this.#writeCheckpoint();
    });
  }

  /**
   * Empties the log and restarts it at `offset` (a follower whose fetch
   * offset fell below the leader's log start).
   */
  truncateFullyAndStartAt(offset: number): Promise<void> {
    return this.#structural("truncate", () => this.#restartAt(offset));
  }

  /**
   * Raises the log start offset to `offset` (Kafka's DeleteRecords): records
   * below it can no longer be read, and segments wholly below it are deleted.
   *
   * @throws {StromError} OFFSET_OUT_OF_RANGE above the log end.
   */
  deleteRecordsBefore(offset: number): Promise<void> {
    return this.#structural("delete records", async () => {
      if (!Number.isSafeInteger(offset) || offset > this.#logEndOffset) {
        throw offsetOutOfRange("delete-records", offset, this.#logStartOffset, this.#logEndOffset);
      }
      if (offset <= this.#logStartOffset) return;
      this.#logStartOffset = offset;
      if (offset === this.#logEndOffset && this.#active.sizeBytes > 0) {
        await this.#roll(this.#clock());
      }
      await this.#deleteSegmentsWhile((_segment, next) =>
        next !== undefined && next.baseOffset <= offset
      );
      this.epochCache.truncateFromStart(offset);
      await this.epochCache.persist(this.disk, this.dir);
      await this.#writeCheckpoint();
    });
  }

  /**
   * Deletes whole segments past `retention.ms` (by their newest record) or
   * beyond `retention.bytes` (oldest first). The active segment is rolled
   * first if it has expired. A no-op for `cleanup.policy=compact`.
   */
  enforceRetention(): Promise<RetentionResult> {
    return this.#structural("retention", async () => {
      const before = { count: this.#segments.length, bytes: this.sizeBytes };
      if (!deletes(this.config)) return this.#retentionResult(before);
      const nowMs = this.#clock();
      const expired = (segment: Segment) =>
        segment.sizeBytes > 0 && segment.maxTimestampMs < nowMs - this.config.retentionMs;
      if (expired(this.#active)) await this.#roll(nowMs);
      await this.#deleteSegmentsWhile(async (segment) => {
        if (segment === this.#active) return false;
        await this.#cache.acquire(segment);
        this.#cache.release(segment);
        return expired(segment);
      });
      let excessBytes = this.sizeBytes - this.config.retentionBytes;
      await this.#deleteSegmentsWhile((segment) => {
        if (segment === this.#active || excessBytes - segment.sizeBytes < 0) return false;
        excessBytes -= segment.sizeBytes;
        return true;
      });
      return this.#retentionResult(before);
    });
  }

  /** Fsyncs everything appended so far (group commit with concurrent flushes). */
  async flush(): Promise<void> {
    this.#checkOpen();
    await this.#flushTo(this.#logEndOffset);
  }

  /**
   * Flushes, records a clean recovery point, and closes every file. Appends
   * after close fail with KAFKA_STORAGE_ERROR.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#writeLock.run(async () => {
      if (this.#closed) return;
      clearTimeout(this.#flushTimer);
      this.#flushTimer = undefined;
      await this.#backgroundFlush;
      try {
        if (!this.#failure && !this.#emptyAndCheckpointed()) {
          this.#active.seal();
          await this.#flushTo(this.#logEndOffset, { indexesToo: true });
          await this.epochCache.persist(this.disk, this.dir);
          await this.#writeCheckpoint();
        }
      } finally {
        await this.#rw.exclusive(() => {
          this.#closed = true;
          for (const segment of this.#segments) {
            this.#cache.forget(segment);
            segment.unload();
          }
          return Promise.resolve();
        });
      }
    });
  }

  // ---- cleaner support ----

  /** @internal Runs `body` with the segments fixed (no truncation, deletion or swap meanwhile). */
  withStableSegments<T>(body: (segments: readonly Segment[]) => Promise<T>): Promise<T> {
    return this.#rw.shared(() => body([...this.#segments]));
  }

  /** @internal Pins and loads a segment for the duration of `body`. */
  withSegment<T>(segment: Segment, body: (segment: Segment) => Promise<T>): Promise<T> {
    return this.#withSegment(segment, body);
  }

  /** @internal Runs `body` as a structural change (no appends, reads or flushes meanwhile). */
  structural<T>(what: string, body: (segments: Segment[]) => Promise<T>): Promise<T> {
    return this.#structural(what, () => body(this.#segments));
  }

  /** @internal The segment environment, for the cleaner's replacement segments. */
  get segmentEnv(): SegmentEnv {
    return this.#env;
  }

  /** @internal Marks directory entries as changed (they are synced on the next flush). */
  markDirectoryDirty(): void {
    this.#dirDirty = true;
  }

  /** @internal The segment cache. */
  get segmentCache(): SegmentCache {
    return this.#cache;
  }

  /** @internal The logger. */
  get logger(): Logger | undefined {
    return this.#logger;
  }

  /** @internal The clock. */
  get clock(): () => number {
    return this.#clock;
  }

  // ---- internals ----

  get #active(): Segment {
    return this.#segments[this.#segments.length - 1];
  }

  /** Adds an append to the recent ones (after its write, once the log end has moved past it). */
  #rememberAppend(baseOffset: number, batches: Uint8Array): void {
    const recent = this.#recentAppends;
    if (recent.length === RECENT_APPENDS_MAX) recent.shift();
    recent.push({ baseOffset, endOffset: this.#logEndOffset, bytes: new WeakRef(batches) });
  }

  /**
   * The latest appends' bytes when a read starts exactly at one of them: a
   * follower or consumer at or near the log end reads what was just
   * appended, and answering from memory saves a file read and its buffer.
   * The bytes are those written (the leader assigns offsets in place before
   * the write); the list is emptied by every truncation, restart or deletion,
   * so what it holds is still the log. From the append at `offset`, appends
   * are taken while they are in the list, below `limit`, not yet collected,
   * and within `maxBytes` (the first one too: a larger one is read from the
   * file, which returns it whole). Held by WeakRefs: memory of their own
   * never, only while the produce request (or the follower's answer) is
   * still alive anyway; after a GC the read goes to the file as before.
   *
   * Measured, last append only (an earlier version): at 55,000 records/s
   * major GCs on the brokers fell 10–16 %. Several appends: at maximum
   * produce 70 % of follower reads started behind the last append (see the
   * commit that added them).
   */
  #recentAppendsAt(offset: number, maxBytes: number, limit: number): ReadPartsResult | undefined {
    const recent = this.#recentAppends;
    let i = recent.length - 1;
    while (i >= 0 && recent[i].baseOffset > offset) i--;
    if (i < 0 || recent[i].baseOffset !== offset) return undefined;
    const parts: Uint8Array[] = [];
    let bytes = 0;
    let nextOffset = offset;
    for (; i < recent.length; i++) {
      const append = recent[i];
      if (append.baseOffset !== nextOffset || append.endOffset > limit) break;
      const batches = append.bytes.deref();
      if (batches === undefined || bytes + batches.length > maxBytes) break;
      parts.push(batches);
      bytes += batches.length;
      nextOffset = append.endOffset;
    }
    return parts.length > 0 ? { parts, bytes, nextOffset } : undefined;
  }

  #checkOpen(): void {
    if (this.#closed) throw storageError(`partition log ${this.dir} is closed`);
  }

  #checkWritable(): void {
    this.#checkOpen();
    if (this.#failure) {
      throw storageError(
        `partition log ${this.dir} is offline after an I/O error (${this.#failure.message}); ` +
          `reopen it to recover`,
      );
    }
  }

  #fail(what: string, error: unknown): StromError {
    const failure = storageError(`${what} in ${this.dir}`, error);
    this.#failure ??= failure;
    this.#logger?.error("partition log is offline after an I/O error", {
      dir: this.dir,
      error: failure.message,
    });
    return failure;
  }

  #parseIncoming(bytes: Uint8Array): IncomingBatch[] {
    const incoming: IncomingBatch[] = [];
    let position = 0;
    try {
      while (position < bytes.length) {
        const header = readBatchHeader(bytes, position);
        const size = batchSizeBytes(header);
        if (size > this.config.maxMessageBytes) {
          throw messageTooLarge(size, this.config.maxMessageBytes);
        }
        if (position + size > bytes.length) {
          throw new StromError(
            "CORRUPT_MESSAGE",
            `record batch at byte ${position} is truncated: needs ${size} bytes, ${
              bytes.length - position
            } present`,
          );
        }
        // The CRC is checked later, while the batch is being written (see append).
        incoming.push({ bytes: bytes.subarray(position, position + size), header });
        position += size;
      }
    } catch (error) {
      throw asStromError(error, "rejected record batch");
    }
    if (incoming.length === 0) {
      throw new StromError("CORRUPT_MESSAGE", "append needs at least one record batch");
    }
    return incoming;
  }

  #assignOffsets(incoming: IncomingBatch[], leaderEpoch: number): AppendedBatch[] {
    if (leaderEpoch < this.epochCache.latestEpoch) {
      throw new StromError(
        "FENCED_LEADER_EPOCH",
        `leader epoch ${leaderEpoch} is older than the log's latest epoch ${this.epochCache.latestEpoch}`,
        { details: { leaderEpoch, latestEpoch: this.epochCache.latestEpoch } },
      );
    }
    let next = this.#logEndOffset;
    return incoming.map(({ bytes, header }) => {
      setBaseOffset(bytes, next);
      setPartitionLeaderEpoch(bytes, leaderEpoch);
      const info = {
        baseOffset: next,
        lastOffset: next + header.lastOffsetDelta,
        maxTimestampMs: header.maxTimestamp,
        sizeBytes: bytes.length,
      };
      next = info.lastOffset + 1;
      return info;
    });
  }

  #checkFollowerOffsets(incoming: IncomingBatch[]): AppendedBatch[] {
    // Compacted leaders have offset gaps; other logs must be contiguous.
    const gapsAllowed = compacts(this.config);
    let expected = this.#logEndOffset;
    return incoming.map(({ bytes, header }) => {
      const base = header.baseOffset;
      if (gapsAllowed ? base < expected : base !== expected) {
        throw new StromError(
          "OFFSET_OUT_OF_RANGE",
          `follower append of a batch at offset ${base} does not continue the log at ${expected}; ` +
            `truncate or fetch from ${expected}`,
          { details: { offset: base, expectedOffset: expected, logEndOffset: this.#logEndOffset } },
        );
      }
      const info = {
        baseOffset: base,
        lastOffset: base + header.lastOffsetDelta,
        maxTimestampMs: header.maxTimestamp,
        sizeBytes: bytes.length,
      };
      expected = info.lastOffset + 1;
      return info;
    });
  }

  async #assignEpochs(
    incoming: IncomingBatch[],
    infos: AppendedBatch[],
    options: AppendOptions,
  ): Promise<void> {
    let changed = false;
    if (options.assignOffsets) {
      changed = this.epochCache.assign(options.leaderEpoch, infos[0].baseOffset);
    } else {
      incoming.forEach(({ header }, i) => {
        changed = this.epochCache.assign(header.partitionLeaderEpoch, infos[i].baseOffset) ||
          changed;
      });
    }
    // Also when unchanged but dirty: a new leader records its epoch in memory only.
    if (!changed && !this.epochCache.dirty) return;
    try {
      await this.epochCache.persist(this.disk, this.dir);
    } catch (error) {
      throw this.#fail("writing the leader epoch checkpoint failed", error);
    }
  }

  async #maybeRoll(appendBytes: number, lastOffset: number, nowMs: number): Promise<void> {
    const active = this.#active;
    if (active.sizeBytes === 0) return;
    const full = active.sizeBytes + appendBytes > this.config.segmentBytesMax;
    const old = active.firstAppendMs !== undefined &&
      nowMs - active.firstAppendMs >= this.config.segmentAgeMsMax;
    const offsetOverflow = lastOffset - active.baseOffset > 0xffffffff;
    if (full || old || offsetOverflow) await this.#roll(nowMs);
  }

  /** Starts a new active segment at the log end; the old one is flushed in the background. */
  async #roll(_nowMs: number): Promise<void> {
    const old = this.#active;
    if (old.sizeBytes === 0) return;
    old.seal();
    let segment: Segment;
    try {
      await old.persistIndexes();
      segment = await Segment.create(this.#env, this.#logEndOffset);
    } catch (error) {
      throw this.#fail("rolling a new segment failed", error);
    }
    this.#segments.push(segment);
    // A file read stops at a segment's end; so does a read of the recent appends.
    this.#recentAppends = [];
    segment.pins++;
    this.#cache.adopt(segment);
    old.pins--;
    this.#dirDirty = true;
    // Like Kafka: the rolled segment is fsynced soon, off the append path.
    const target = this.#logEndOffset;
    this.#backgroundFlush = this.#backgroundFlush.then(() =>
      this.#flushTo(target, { indexesToo: true }).catch((error) => {
        this.#logger?.warn("background flush after roll failed", {
          dir: this.dir,
          error: String(error),
        });
      })
    );
  }

  /**
   * An empty log whose checkpoint (or its absence: an empty log from 0) says
   * so: closing it has nothing to make durable. Most of a 10,000-partition
   * broker's logs are like this, and five fsyncs each made stopping take
   * longer than the launcher waits.
   */
  #emptyAndCheckpointed(): boolean {
    const onDisk = this.#onDisk ?? { recoveryPoint: 0, logStartOffset: 0 };
    return this.#logEndOffset === this.#logStartOffset &&
      onDisk.recoveryPoint === this.#logEndOffset &&
      onDisk.logStartOffset === this.#logStartOffset;
  }

  #scheduleTimedFlush(): void {
    if (!Number.isFinite(this.config.flushIntervalMs) || this.#flushTimer !== undefined) return;
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      if (this.#closed) return;
      this.#flushTo(this.#logEndOffset).catch((error) => {
        this.#logger?.warn("timed flush failed", { dir: this.dir, error: String(error) });
      });
    }, this.config.flushIntervalMs);
  }

  /**
   * Group commit: resolves once everything below `target` is fsynced. At most
   * one flush runs at a time; callers that arrive meanwhile wait for it and,
   * if it did not cover them, share the next one.
   */
  async #flushTo(target: number, options: { indexesToo?: boolean } = {}): Promise<void> {
    while (this.#recoveryPoint < target || options.indexesToo) {
      if (this.#flushing) {
        await this.#flushing;
        continue;
      }
      this.#flushing = this.#rw.shared(() => this.#flushOnce(options.indexesToo ?? false));
      try {
        await this.#flushing;
      } finally {
        this.#flushing = undefined;
      }
      if (options.indexesToo) return;
    }
  }

  async #flushOnce(indexesToo: boolean): Promise<void> {
    if (this.#failure) throw this.#failure;
    if (this.#closed) return;
    const endOffset = this.#logEndOffset;
    const messages = this.#messagesAppended;
    const active = this.#active;
    const dirty = this.#segments.filter((segment) =>
      segment.dirty || (indexesToo && segment === active)
    );
    const dirDirty = this.#dirDirty;
    this.#dirDirty = false;
    try {
      await Promise.all(dirty.map((segment) => segment.sync(indexesToo || segment !== active)));
      if (dirDirty) await this.disk.syncDir(this.dir);
    } catch (error) {
      this.#dirDirty ||= dirDirty;
      // An fsync failure may have dropped dirty pages: stop rather than guess (fsyncgate).
      throw this.#fail("fsync failed", error);
    }
    this.#recoveryPoint = Math.max(this.#recoveryPoint, endOffset);
    this.#messagesFlushed = Math.max(this.#messagesFlushed, messages);
    // Segments the sync made clean may be unloaded now, not only when a read comes by.
    if (dirty.length > 0) this.#cache.trim(dirty);
    if (
      this.#clock() - this.#checkpointWrittenMs >= this.config.recoveryPointCheckpointIntervalMs
    ) {
      await this.#writeCheckpoint();
    }
  }

  async #writeCheckpoint(): Promise<void> {
    const checkpoint: LogCheckpoint = {
      recoveryPoint: Math.min(this.#recoveryPoint, this.#logEndOffset),
      logStartOffset: this.#logStartOffset,
    };
    try {
      await writeLogCheckpoint(this.disk, this.dir, checkpoint);
    } catch (error) {
      throw this.#fail("writing the log checkpoint failed", error);
    }
    this.#checkpointWrittenMs = this.#clock();
    this.#onDisk = checkpoint;
  }

  /** Runs a change of the segment list: no appends, reads or flushes meanwhile. */
  #structural<T>(what: string, body: () => Promise<T>): Promise<T> {
    return this.#writeLock.run(() => {
      this.#checkWritable();
      return this.#rw.exclusive(async () => {
        this.#checkWritable();
        // Truncations, restarts and deletions: reads go to the files again.
        this.#recentAppends = [];
        try {
          return await body();
        } catch (error) {
          if (error instanceof StromError) throw error;
          throw this.#fail(`${what} failed`, error);
        }
      });
    });
  }

  async #restartAt(offset: number): Promise<void> {
    for (const segment of this.#segments.splice(0)) await this.#deleteSegment(segment);
    const segment = await Segment.create(this.#env, offset);
    segment.pins++;
    this.#cache.adopt(segment);
    this.#segments.push(segment);
    this.#dirDirty = true;
    this.#logEndOffset = offset;
    this.#logStartOffset = offset;
    this.#recoveryPoint = offset;
    this.epochCache.clear();
    await this.epochCache.persist(this.disk, this.dir);
    await this.#writeCheckpoint();
  }

  #afterShrink(): void {
    this.#recoveryPoint = Math.min(this.#recoveryPoint, this.#logEndOffset);
    this.#logStartOffset = Math.min(this.#logStartOffset, this.#logEndOffset);
  }

  async #deleteSegment(segment: Segment): Promise<void> {
    this.#cache.forget(segment);
    segment.deleted = true;
    await segment.deleteFiles();
    this.#dirDirty = true;
  }

  /** Deletes segments from the oldest while `shouldDelete` agrees; raises the log start. */
  async #deleteSegmentsWhile(
    shouldDelete: (segment: Segment, next: Segment | undefined) => boolean | Promise<boolean>,
  ): Promise<void> {
    let deleted = false;
    while (this.#segments.length > 1 && await shouldDelete(this.#segments[0], this.#segments[1])) {
      const segment = this.#segments.shift()!;
      await this.#deleteSegment(segment);
      deleted = true;
    }
    if (!deleted) return;
    this.#logStartOffset = Math.max(this.#logStartOffset, this.#segments[0].baseOffset);
    this.epochCache.truncateFromStart(this.#logStartOffset);
    await this.epochCache.persist(this.disk, this.dir);
    await this.#writeCheckpoint();
  }

  #retentionResult(before: { count: number; bytes: number }): RetentionResult {
    return {
      deletedSegments: before.count - this.#segments.length,
      deletedBytes: before.bytes - this.sizeBytes,
      logStartOffset: this.#logStartOffset,
    };
  }

  /** Index of the last segment with base ≤ `offset` (0 if none). */
  #floorSegmentIndex(offset: number): number {
    let lo = 0;
    let hi = this.#segments.length - 1;
    let found = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#segments[mid].baseOffset <= offset) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  async #withSegment<T>(segment: Segment, body: (segment: Segment) => Promise<T>): Promise<T> {
    await this.#cache.acquire(segment);
    try {
      return await body(segment);
    } finally {
      this.#cache.release(segment);
    }
  }

  async #readFrom(
    segment: Segment,
    offset: number,
    maxBytes: number,
    limit: number,
  ): Promise<ReadResult | undefined> {
    const first = await segment.findBatch(offset);
    if (!first) return undefined;
    if (first.lastOffset >= limit) return { batches: EMPTY, nextOffset: offset };
    const data = await segment.read(first.position, Math.max(first.sizeBytes, maxBytes));
    let taken = 0;
    let nextOffset = offset;
    while (taken < data.length) {
      if (data.length - taken < 61) break;
      const header = readBatchHeader(data, taken);
      const size = batchSizeBytes(header);
      const lastOffset = header.baseOffset + header.lastOffsetDelta;
      if (taken + size > data.length || lastOffset >= limit) break;
      if (taken > 0 && taken + size > maxBytes) break;
      taken += size;
      nextOffset = lastOffset + 1;
    }
    return { batches: data.subarray(0, taken), nextOffset };
  }

  // ---- recovery ----

  async #recover(epochProblem: string | undefined, listed: string[]): Promise<void> {
    const problems: string[] = epochProblem ? [`leader-epoch-checkpoint: ${epochProblem}`] : [];
    let names = listed;
    // Listed again only if a swap or temp file changed the directory (one listing per open
    // otherwise: a broker opens 10,000 logs at start-up).
    if (await this.#finishInterruptedSwaps(names)) names = await this.disk.list(this.dir);
    const checkpoint = names.includes(LOG_CHECKPOINT_FILE)
      ? await readLogCheckpoint(this.disk, this.dir)
      : undefined;
    if (checkpoint instanceof Error) problems.push(`log-checkpoint: ${checkpoint.message}`);
    const saved = checkpoint instanceof Error ? undefined : checkpoint;
    this.#onDisk = saved;
    const bases = names
      .map((name) => parseSegmentFileName(name, LOG_SUFFIX))
      .filter((base): base is number => base !== undefined)
      .sort((a, b) => a - b);
    await this.#removeOrphanIndexes(names, new Set(bases));
    const recoveryPoint = saved?.recoveryPoint ?? 0;
    const truncated: TruncatedTail[] = [];
    const deleted: number[] = [];
    const rebuilt: { segmentBaseOffset: number; reason: string }[] = [];
    let scanned = 0;
    let epochStarts: { epoch: number; startOffset: number }[] = [];
    if (bases.length === 0) {
      // Every index file in the directory was an orphan, and is gone.
      const base = saved?.logStartOffset ?? 0;
      this.#segments.push(await Segment.create(this.#env, base, { indexFilesAbsent: true }));
      this.#dirDirty = true;
    } else {
      let recoverFrom = 0;
      bases.forEach((base, i) => {
        if (base <= recoveryPoint) recoverFrom = i;
      });
      for (let i = 0; i < bases.length; i++) {
        const path = joinPath(this.dir, `${String(bases[i]).padStart(20, "0")}${LOG_SUFFIX}`);
        const fileSize = (await this.disk.sizeOf(path)) ?? 0;
        const segment = new Segment(this.#env, bases[i], fileSize);
        this.#segments.push(segment);
        if (i < recoverFrom) {
          const reason = await segment.load();
          if (reason) rebuilt.push({ segmentBaseOffset: segment.baseOffset, reason });
          segment.unload();
          continue;
        }
        scanned++;
        const result = await segment.recover(fileSize);
        epochStarts = epochStarts.concat(result.epochStarts);
        // Segments past the recovery point were never compacted, so each must end where
        // the next begins; a shorter one lost unsynced data in a crash.
        const endOffset = segment.sizeBytes === 0 ? segment.baseOffset : segment.nextOffset;
        const gap = i + 1 < bases.length && endOffset !== bases[i + 1];
        if (result.truncatedBytes === 0 && !gap) continue;
        truncated.push({
          segmentBaseOffset: segment.baseOffset,
          validBytes: result.validBytes,
          truncatedBytes: result.truncatedBytes,
          reason: result.corruption ??
            `segment ends at offset ${endOffset} but the next one starts at ${bases[i + 1]}`,
        });
        // Nothing after a cut can be trusted to follow it.
        for (const base of bases.slice(i + 1)) {
          await new Segment(this.#env, base, 0).deleteFiles();
          deleted.push(base);
        }
        this.#dirDirty ||= bases.length > i + 1;
        break;
      }
    }
    this.#finishRecovery(saved, epochStarts);
    // Pinned before the cache sees it: a new, clean active segment would otherwise be the
    // first one evicted (once the broker's other logs fill the cache), and appends need it loaded.
    this.#active.pins++;
    for (const segment of this.#segments) if (segment.loaded) this.#cache.adopt(segment);
    if (this.#logStartOffset > this.#logEndOffset) {
      problems.push(
        `log start ${this.#logStartOffset} was above the recovered end ${this.#logEndOffset}`,
      );
      await this.#restartAt(this.#logStartOffset);
    }
    await this.epochCache.persist(this.disk, this.dir);
    this.#recoveryPoint = Math.min(recoveryPoint, this.#logEndOffset);
    // Make repairs and what was found past the checkpoint durable, then checkpoint: the next
    // start scans only from here. A new log, or one whose checkpoint already covers all of it
    // (a clean shutdown, nothing repaired; an empty log needs no checkpoint), needs neither:
    // with 10,000 partitions those fsyncs were most of a broker's start-up. A new log's
    // directory entries are synced by its first flush, before anything appended to it can be
    // durable.
    const repaired = truncated.length > 0 || deleted.length > 0 || rebuilt.length > 0 ||
      problems.length > 0 || (this.#dirDirty && bases.length > 0);
    const covered = bases.length === 0 ||
      ((saved?.recoveryPoint ?? 0) === this.#logEndOffset &&
        (saved?.logStartOffset ?? 0) === this.#logStartOffset);
    if (repaired || !covered) await this.#rw.shared(() => this.#flushOnce(false));
    this.recoveryReport = {
      scannedSegments: scanned,
      truncated: orNone(truncated),
      deletedSegmentBaseOffsets: orNone(deleted),
      rebuiltIndexes: orNone(rebuilt),
      checkpointProblems: orNone(problems),
      logEndOffset: this.#logEndOffset,
    };
    this.#logRecovery();
  }

  #finishRecovery(
    saved: LogCheckpoint | undefined,
    epochStarts: { epoch: number; startOffset: number }[],
  ) {
    const active = this.#active;
    this.#logEndOffset = active.sizeBytes === 0 ? active.baseOffset : active.nextOffset;
    this.#logStartOffset = Math.max(saved?.logStartOffset ?? 0, this.#segments[0].baseOffset);
    for (const { epoch, startOffset } of epochStarts) this.epochCache.assign(epoch, startOffset);
    this.epochCache.truncateFromEnd(this.#logEndOffset);
    this.epochCache.truncateFromStart(this.#logStartOffset);
  }

  /** Completes or discards compaction swaps a crash interrupted, and removes temp files. */
  /** Returns whether it changed the directory. */
  async #finishInterruptedSwaps(names: string[]): Promise<boolean> {
    let changed = false;
    for (const name of names) {
      if (name.endsWith(".tmp") || name.endsWith(".cleaned") || name.endsWith(".deleted")) {
        await this.disk.remove(joinPath(this.dir, name));
        this.#dirDirty = true;
        changed = true;
      }
    }
    for (const name of names) {
      const base = parseSegmentFileName(name, `${LOG_SUFFIX}.swap`);
      if (base === undefined) continue;
      // A .swap file is complete (it was synced before the rename): it replaces the segment.
      const target = new Segment(this.#env, base, 0);
      for (const suffix of [INDEX_SUFFIX, TIME_INDEX_SUFFIX, LOG_SUFFIX]) {
        await this.disk.remove(target.path(suffix));
      }
      await this.disk.rename(joinPath(this.dir, name), target.path(LOG_SUFFIX));
      this.#dirDirty = true;
      changed = true;
    }
    return changed;
  }

  async #removeOrphanIndexes(names: readonly string[], bases: Set<number>): Promise<void> {
    for (const name of names) {
      for (const suffix of [INDEX_SUFFIX, TIME_INDEX_SUFFIX]) {
        const base = parseSegmentFileName(name, suffix);
        if (base !== undefined && !bases.has(base)) {
          await this.disk.remove(joinPath(this.dir, name));
          this.#dirDirty = true;
        }
      }
    }
  }

  #logRecovery(): void {
    const report = this.recoveryReport;
    for (const tail of report.truncated) {
      this.#logger?.warn("recovery truncated a torn or corrupt log tail", {
        dir: this.dir,
        segment: tail.segmentBaseOffset,
        validBytes: tail.validBytes,
        truncatedBytes: tail.truncatedBytes,
        reason: tail.reason,
      });
    }
    for (const base of report.deletedSegmentBaseOffsets) {
      this.#logger?.warn("recovery deleted a segment after a corrupt one", {
        dir: this.dir,
        segment: base,
      });
    }
    for (const { segmentBaseOffset, reason } of report.rebuiltIndexes) {
      this.#logger?.warn("rebuilt segment index", {
        dir: this.dir,
        segment: segmentBaseOffset,
        reason,
      });
    }
    for (const problem of report.checkpointProblems) {
      this.#logger?.warn("ignored a bad checkpoint", { dir: this.dir, problem });
    }
    this.#logger?.info("partition log opened", {
      dir: this.dir,
      segments: this.#segments.length,
      scannedSegments: report.scannedSegments,
      logStartOffset: this.#logStartOffset,
      logEndOffset: this.#logEndOffset,
    });
  }
}
