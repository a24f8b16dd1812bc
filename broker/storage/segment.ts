/**
 * One segment of a partition log: `<base>.log` holding whole record batches
 * back to back, with its sparse `.index` and `.timeindex`. File names are the
 * base offset (the first offset the segment may hold), zero-padded to 20
 * digits, as in Kafka.
 *
 * A segment is *loaded* when its log handle is open and its indexes are in
 * memory; the {@link SegmentCache} bounds how many are. Index entries are kept
 * in memory and written to their files lazily (on flush, roll and close):
 * indexes of segments past the recovery point are rebuilt on restart anyway.
 * The index files themselves are created by the segment's first sync (or
 * write to them), not with the segment: most of 10,000 partitions never get a
 * record, and two file creations per log were most of the kernel's work in
 * opening them. So a segment the recovery point has passed has its index
 * files, as before (a non-empty segment is synced before the recovery point
 * moves past it), and an empty segment without them is whole. A non-empty
 * segment whose index files are missing has its indexes rebuilt from the log:
 * that is also what happens if a power loss takes their names (they become
 * durable with the directory's next fsync, which may come later).
 *
 * @module
 */

import type { BatchHeader } from "@strom/client";
import { type Disk, type DiskFile, joinPath, readExactly, readWholeFile } from "./disk.ts";
import { IndexCorruptError, OFFSET_INDEX_ENTRY_BYTES, OffsetIndex } from "./offset_index.ts";
import { TIME_INDEX_ENTRY_BYTES, TimeIndex } from "./time_index.ts";
import { scanBatches, type ScannedBatch, type ScanResult } from "./batch_scan.ts";

/** Suffixes of a segment's files. */
export const LOG_SUFFIX = ".log";
export const INDEX_SUFFIX = ".index";
export const TIME_INDEX_SUFFIX = ".timeindex";

/** `00000000000000000042.log` for base offset 42. */
export function segmentFileName(baseOffset: number, suffix: string): string {
  return `${String(baseOffset).padStart(20, "0")}${suffix}`;
}

/** The base offset in a segment file name with `suffix`, or undefined. */
export function parseSegmentFileName(name: string, suffix: string): number | undefined {
  if (!name.endsWith(suffix)) return undefined;
  const digits = name.slice(0, -suffix.length);
  if (!/^\d{20}$/.test(digits)) return undefined;
  const offset = Number(digits);
  return Number.isSafeInteger(offset) ? offset : undefined;
}

/** The content of an index file that was never created. */
const NO_INDEX_BYTES = new Uint8Array(0);

/** Bytes read per step when scanning headers for a lookup. */
export const LOOKUP_SCAN_CHUNK_BYTES = 16 * 1024;

/** What the log knows about a batch it is appending. */
export interface AppendedBatch {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly maxTimestampMs: number;
  readonly sizeBytes: number;
}

/** What a full recovery scan of a segment found. */
export interface SegmentRecovery {
  readonly validBytes: number;
  readonly truncatedBytes: number;
  readonly corruption?: string;
  /** Leader epochs and their first offsets, in log order, for the epoch cache. */
  readonly epochStarts: ReadonlyArray<{ epoch: number; startOffset: number }>;
}

/** Shared settings of the segments of one log. */
export interface SegmentEnv {
  readonly disk: Disk;
  readonly dir: string;
  readonly indexIntervalBytes: number;
}

/** One segment; see the module doc. */
export class Segment {
  /** Length of the valid batches in the log file. Grows on append, shrinks on truncate. */
  sizeBytes: number;
  /** Offset after the segment's last batch; the base offset when empty. Valid once loaded. */
  nextOffset: number;
  /** Largest batch max-timestamp in the segment (-1 if none). Valid once loaded. */
  maxTimestampMs = -1;
  #offsetOfMaxTimestamp = -1;
  /** Log bytes appended since the last offset index entry. */
  #bytesSinceIndexEntry = 0;
  /** When the first batch was appended (clock ms), for rolling by age. */
  firstAppendMs: number | undefined;
  /** Readers and the active role that keep the segment loaded. */
  pins = 0;
  /** Written data or index entries that are not yet fsynced. */
  dirty = false;
  /** Removed from the log; files are deleted once no reader pins it. */
  deleted = false;

  #log: DiskFile | undefined;
  #offsetIndex: OffsetIndex | undefined;
  #timeIndex: TimeIndex | undefined;
  /** Both index files are known to exist (false: they may not; see the module doc). */
  #indexFilesExist = true;

  constructor(private readonly env: SegmentEnv, readonly baseOffset: number, sizeBytes: number) {
    this.sizeBytes = sizeBytes;
    this.nextOffset = baseOffset;
  }

  /** Path of one of the segment's files. */
  path(suffix: string): string {
    return joinPath(this.env.dir, segmentFileName(this.baseOffset, suffix));
  }

  /** Whether the log handle is open and the indexes are in memory. */
  get loaded(): boolean {
    return this.#log !== undefined;
  }

  /**
   * Creates the empty log file of a new segment, and removes index files of
   * the same base that an interrupted deletion may have left (their entries
   * would be taken for this segment's), unless the caller knows there are
   * none (`indexFilesAbsent`: a new log, whose directory listing had none).
   */
  static async create(
    env: SegmentEnv,
    baseOffset: number,
    options: { indexFilesAbsent?: boolean } = {},
  ): Promise<Segment> {
    const segment = new Segment(env, baseOffset, 0);
    const log = await env.disk.open(segment.path(LOG_SUFFIX), { create: true });
    try {
      await log.truncate(0);
      for (const suffix of options.indexFilesAbsent ? [] : [INDEX_SUFFIX, TIME_INDEX_SUFFIX]) {
        await env.disk.remove(segment.path(suffix));
      }
    } catch (error) {
      log.close();
      throw error;
    }
    segment.#log = log;
    segment.#indexFilesExist = false;
    segment.#offsetIndex = new OffsetIndex(baseOffset);
    segment.#timeIndex = new TimeIndex(baseOffset);
    return segment;
  }

  /**
   * Opens the log and loads the index files, checking them; a missing or
   * corrupt index is rebuilt from the log. Returns why it was rebuilt, if it was.
   */
  async load(): Promise<string | undefined> {
    if (this.loaded) return undefined;
    const log = await this.env.disk.open(this.path(LOG_SUFFIX), { create: false });
    this.#log = log;
    try {
      // An empty segment may never have had its index files created (module doc).
      const missing = this.sizeBytes === 0 ? NO_INDEX_BYTES : undefined;
      const indexFile = await readWholeFile(this.env.disk, this.path(INDEX_SUFFIX));
      const timeFile = await readWholeFile(this.env.disk, this.path(TIME_INDEX_SUFFIX));
      this.#indexFilesExist = indexFile !== undefined && timeFile !== undefined;
      const indexBytes = indexFile ?? missing;
      const timeBytes = timeFile ?? missing;
      if (indexBytes === undefined || timeBytes === undefined) {
        await this.#rebuildIndexes();
        return "index file missing";
      }
      try {
        this.#offsetIndex = OffsetIndex.decode(this.baseOffset, indexBytes, this.sizeBytes);
        this.#timeIndex = TimeIndex.decode(this.baseOffset, timeBytes);
        const tail = await this.#recomputeTail();
        if (tail.corruption) {
          throw new IndexCorruptError(`index disagrees with log: ${tail.corruption}`);
        }
      } catch (error) {
        if (!(error instanceof IndexCorruptError)) throw error;
        await this.#rebuildIndexes();
        return error.message;
      }
      await this.#loadFirstAppendTime();
      return undefined;
    } catch (error) {
      this.unload();
      throw error;
    }
  }

  /**
   * Scans the whole log verifying every batch, cuts the file at the first
   * torn or corrupt batch, and rebuilds the indexes from what is valid.
   * `minBaseOffset` is the first offset a batch here may have.
   */
  async recover(fileSizeBytes: number): Promise<SegmentRecovery> {
    if (!this.loaded) {
      this.#log = await this.env.disk.open(this.path(LOG_SUFFIX), { create: false });
    }
    this.#resetIndexes();
    this.sizeBytes = 0;
    const epochStarts: { epoch: number; startOffset: number }[] = [];
    const result = await scanBatches(
      this.#log!,
      { startPosition: 0, endPosition: fileSizeBytes, verifyCrc: true },
      (batch) => {
        const problem = this.#checkFollows(batch);
        if (problem) return { corrupt: problem };
        this.#account(batch);
        const lastEpoch = epochStarts[epochStarts.length - 1]?.epoch ?? -1;
        if (batch.header.partitionLeaderEpoch > lastEpoch) {
          epochStarts.push({
            epoch: batch.header.partitionLeaderEpoch,
            startOffset: batch.header.baseOffset,
          });
        }
        return undefined;
      },
    );
    if (result.endPosition < fileSizeBytes) await this.#log!.truncate(result.endPosition);
    await this.#rewriteIndexFiles();
    await this.#loadFirstAppendTime();
    // Dirty even if nothing was cut: the rewritten index files must be synced before
    // the recovery point moves past this segment.
    this.dirty = true;
    return {
      validBytes: result.endPosition,
      truncatedBytes: fileSizeBytes - result.endPosition,
      ...(result.corruption ? { corruption: result.corruption } : {}),
      epochStarts,
    };
  }

  /**
   * Writes whole batches at the end of the log and indexes them. `check` runs
   * while the write is in flight, so that checking the batches' CRCs on the JS
   * thread overlaps the copy into the page cache on Deno's I/O thread. If it
   * returns false (or throws), the written bytes are cut off again and nothing
   * is accounted: until then they lie beyond `sizeBytes`, where no read looks.
   * Resolves to whether the batches were kept.
   */
  async append(
    bytes: Uint8Array,
    batches: readonly AppendedBatch[],
    nowMs: number,
    check: () => boolean = () => true,
  ): Promise<boolean> {
    const log = this.#requireLoaded();
    const writing = log.write(this.sizeBytes, bytes);
    let keep: boolean;
    try {
      keep = check();
    } catch (error) {
      await writing.catch(() => {});
      await log.truncate(this.sizeBytes);
      this.dirty = true;
      throw error;
    }
    await writing;
    if (!keep) {
      await log.truncate(this.sizeBytes);
      this.dirty = true;
      return false;
    }
    let position = this.sizeBytes;
    for (const batch of batches) {
      this.#accountAppended(batch, position);
      position += batch.sizeBytes;
    }
    if (this.firstAppendMs === undefined && batches.length > 0) this.firstAppendMs = nowMs;
    this.sizeBytes = position;
    this.dirty = true;
    return true;
  }

  /** Reads `lengthBytes` at `position` (fewer if the segment ends first). */
  read(position: number, lengthBytes: number): Promise<Uint8Array> {
    const length = Math.max(0, Math.min(lengthBytes, this.sizeBytes - position));
    return readExactly(this.#requireLoaded(), position, length);
  }

  /** The first batch whose last offset is ≥ `offset`, or undefined if none is. */
  async findBatch(offset: number): Promise<ScannedBatch | undefined> {
    const start = this.#offsetIndex!.lookup(offset).position;
    return await this.#scanFor(start, (batch) => batch.lastOffset >= offset);
  }

  /** The first batch whose max timestamp is ≥ `timestampMs`, or undefined. */
  async findBatchByTime(timestampMs: number): Promise<ScannedBatch | undefined> {
    if (this.maxTimestampMs < timestampMs) return undefined;
    const fromOffset = this.#timeIndex!.lookup(timestampMs);
    const start = this.#offsetIndex!.lookup(fromOffset).position;
    return await this.#scanFor(start, (batch) => batch.header.maxTimestamp >= timestampMs);
  }

  /** Calls `visit` for each batch from `position` (headers only) until it says "stop". */
  scan(
    position: number,
    visit: (batch: ScannedBatch) => void | "stop",
  ): Promise<ScanResult> {
    return scanBatches(
      this.#requireLoaded(),
      {
        startPosition: position,
        endPosition: this.sizeBytes,
        verifyCrc: false,
        // Lookups usually end within one index interval: read little, not a whole MiB.
        chunkBytes: Math.max(LOOKUP_SCAN_CHUNK_BYTES, 2 * this.env.indexIntervalBytes),
      },
      visit,
    );
  }

  /**
   * Removes the batch holding `offset` and everything after it. Returns the
   * number of bytes cut.
   */
  async truncateTo(offset: number): Promise<number> {
    const log = this.#requireLoaded();
    const found = await this.findBatch(offset);
    if (!found) return 0;
    const cut = this.sizeBytes - found.position;
    await log.truncate(found.position);
    this.sizeBytes = found.position;
    this.#offsetIndex!.truncateToOffset(found.header.baseOffset);
    this.#timeIndex!.truncateToOffset(found.header.baseOffset);
    const tail = await this.#recomputeTail();
    if (tail.corruption) {
      throw new Error(`segment ${this.baseOffset} is corrupt below ${offset}: ${tail.corruption}`);
    }
    if (this.sizeBytes === 0) this.firstAppendMs = undefined;
    await this.#truncateIndexFiles();
    this.dirty = true;
    return cut;
  }

  /** Called when the segment stops being the active one: records the final max timestamp. */
  seal(): void {
    if (this.#offsetOfMaxTimestamp >= 0) {
      this.#timeIndex!.maybeAppend(this.maxTimestampMs, this.#offsetOfMaxTimestamp);
    }
  }

  /** Writes index entries not yet in the index files. */
  async persistIndexes(): Promise<void> {
    const offsetIndex = this.#offsetIndex!;
    const timeIndex = this.#timeIndex!;
    if (offsetIndex.persistedCount < offsetIndex.entryCount) {
      await this.#appendToFile(
        INDEX_SUFFIX,
        offsetIndex.persistedCount * OFFSET_INDEX_ENTRY_BYTES,
        offsetIndex.encode(offsetIndex.persistedCount),
      );
      offsetIndex.persistedCount = offsetIndex.entryCount;
    }
    if (timeIndex.persistedCount < timeIndex.entryCount) {
      await this.#appendToFile(
        TIME_INDEX_SUFFIX,
        timeIndex.persistedCount * TIME_INDEX_ENTRY_BYTES,
        timeIndex.encode(timeIndex.persistedCount),
      );
      timeIndex.persistedCount = timeIndex.entryCount;
    }
  }

  /** Fsyncs the log; with `withIndexes`, writes and fsyncs the index files too. */
  async sync(withIndexes: boolean): Promise<void> {
    // Cleared first so a write that lands during the fsync marks it dirty again;
    // pinned so the cache does not unload it mid-sync.
    this.dirty = false;
    this.pins++;
    try {
      await this.#requireLoaded().sync();
      // Before the recovery point passes a non-empty segment, its index files must exist.
      if (this.sizeBytes > 0 && !withIndexes) await this.#createIndexFiles();
      if (withIndexes) {
        await this.persistIndexes();
        for (const suffix of [INDEX_SUFFIX, TIME_INDEX_SUFFIX]) {
          const file = await this.env.disk.open(this.path(suffix), { create: true });
          try {
            await file.sync();
          } finally {
            file.close();
          }
        }
        this.#indexFilesExist = true;
      }
    } catch (error) {
      this.dirty = true;
      throw error;
    } finally {
      this.pins--;
    }
  }

  /** Closes the log handle and drops the in-memory indexes (they are on disk). */
  unload(): void {
    this.#log?.close();
    this.#log = undefined;
    this.#offsetIndex = undefined;
    this.#timeIndex = undefined;
  }

  /** Closes and removes the segment's files. */
  async deleteFiles(): Promise<void> {
    this.unload();
    for (const suffix of [LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX]) {
      await this.env.disk.remove(this.path(suffix));
    }
  }

  #requireLoaded(): DiskFile {
    if (!this.#log) throw new Error(`segment ${this.baseOffset} is not loaded`);
    return this.#log;
  }

  async #scanFor(
    start: number,
    match: (batch: ScannedBatch) => boolean,
  ): Promise<ScannedBatch | undefined> {
    let found: ScannedBatch | undefined;
    const result = await this.scan(start, (batch) => {
      if (!match(batch)) return;
      found = batch;
      return "stop";
    });
    if (result.corruption && !found) {
      throw new Error(`segment ${this.baseOffset} is corrupt: ${result.corruption}`);
    }
    return found;
  }

  #checkFollows(batch: ScannedBatch): string | undefined {
    const { baseOffset } = batch.header;
    if (baseOffset < this.nextOffset) {
      return `base offset ${baseOffset} is below the expected ${this.nextOffset}`;
    }
    if (batch.lastOffset - this.baseOffset > 0xffffffff) {
      return `offset ${batch.lastOffset} does not fit segment ${this.baseOffset}`;
    }
    return undefined;
  }

  #account(batch: ScannedBatch): void {
    this.#accountAppended({
      baseOffset: batch.header.baseOffset,
      lastOffset: batch.lastOffset,
      maxTimestampMs: batch.header.maxTimestamp,
      sizeBytes: batch.sizeBytes,
    }, batch.position);
    this.sizeBytes = batch.position + batch.sizeBytes;
  }

  #accountAppended(batch: AppendedBatch, position: number): void {
    if (batch.maxTimestampMs > this.maxTimestampMs) {
      this.maxTimestampMs = batch.maxTimestampMs;
      this.#offsetOfMaxTimestamp = batch.baseOffset;
    }
    if (this.#bytesSinceIndexEntry > this.env.indexIntervalBytes) {
      this.#offsetIndex!.append(batch.baseOffset, position);
      this.#timeIndex!.maybeAppend(this.maxTimestampMs, this.#offsetOfMaxTimestamp);
      this.#bytesSinceIndexEntry = 0;
    }
    this.#bytesSinceIndexEntry += batch.sizeBytes;
    this.nextOffset = batch.lastOffset + 1;
  }

  /** Recomputes next offset, max timestamp and index spacing from the last index entries on. */
  async #recomputeTail(): Promise<ScanResult> {
    const offsetIndex = this.#offsetIndex!;
    const lastTime = this.#timeIndex!.lastEntry();
    const lastIndexed = offsetIndex.lastEntry();
    let start = lastIndexed?.position ?? 0;
    if (lastTime) start = Math.min(start, offsetIndex.lookup(lastTime.offset).position);
    this.maxTimestampMs = lastTime?.timestampMs ?? -1;
    this.#offsetOfMaxTimestamp = lastTime?.offset ?? -1;
    this.nextOffset = lastIndexed?.offset ?? this.baseOffset;
    let expectOffset = lastIndexed && lastIndexed.position === start
      ? lastIndexed.offset
      : undefined;
    const result = await this.scan(start, (batch) => {
      if (expectOffset !== undefined && batch.header.baseOffset !== expectOffset) {
        throw new IndexCorruptError(
          `index says offset ${expectOffset} is at ${start}, log has ${batch.header.baseOffset}`,
        );
      }
      expectOffset = undefined;
      if (batch.header.maxTimestamp > this.maxTimestampMs) {
        this.maxTimestampMs = batch.header.maxTimestamp;
        this.#offsetOfMaxTimestamp = batch.header.baseOffset;
      }
      this.nextOffset = Math.max(this.nextOffset, batch.lastOffset + 1);
    });
    this.#bytesSinceIndexEntry = this.sizeBytes - (lastIndexed?.position ?? 0);
    return result;
  }

  async #rebuildIndexes(): Promise<void> {
    this.#resetIndexes();
    const size = this.sizeBytes;
    this.sizeBytes = 0;
    const result = await scanBatches(
      this.#log!,
      { startPosition: 0, endPosition: size, verifyCrc: false },
      (batch) => {
        const problem = this.#checkFollows(batch);
        if (problem) return { corrupt: problem };
        this.#account(batch);
        return undefined;
      },
    );
    if (result.corruption) {
      // A flushed segment should never be torn; serve only its valid prefix.
      this.sizeBytes = result.endPosition;
    }
    await this.#rewriteIndexFiles();
    await this.#loadFirstAppendTime();
  }

  #resetIndexes(): void {
    this.#offsetIndex = new OffsetIndex(this.baseOffset);
    this.#timeIndex = new TimeIndex(this.baseOffset);
    this.maxTimestampMs = -1;
    this.#offsetOfMaxTimestamp = -1;
    this.#bytesSinceIndexEntry = 0;
    this.nextOffset = this.baseOffset;
  }

  async #rewriteIndexFiles(): Promise<void> {
    this.#offsetIndex!.persistedCount = 0;
    this.#timeIndex!.persistedCount = 0;
    await this.#truncateIndexFiles();
    await this.persistIndexes();
  }

  async #truncateIndexFiles(): Promise<void> {
    const lengths: [string, number][] = [
      [INDEX_SUFFIX, this.#offsetIndex!.persistedCount * OFFSET_INDEX_ENTRY_BYTES],
      [TIME_INDEX_SUFFIX, this.#timeIndex!.persistedCount * TIME_INDEX_ENTRY_BYTES],
    ];
    for (const [suffix, length] of lengths) {
      // Most often (an empty or cleanly closed segment) the file already has that length: one
      // stat instead of open, truncate and close (10,000 logs recover their active segment).
      // A missing file is an empty index (module doc).
      const sizeBytes = await this.env.disk.sizeOf(this.path(suffix));
      if (sizeBytes === undefined) this.#indexFilesExist = false;
      if ((sizeBytes ?? 0) === length) continue;
      const file = await this.env.disk.open(this.path(suffix), { create: true });
      try {
        await file.truncate(length);
      } finally {
        file.close();
      }
    }
  }

  /** Creates missing index files, empty (their entries are written by the next persist). */
  async #createIndexFiles(): Promise<void> {
    if (this.#indexFilesExist) return;
    for (const suffix of [INDEX_SUFFIX, TIME_INDEX_SUFFIX]) {
      (await this.env.disk.open(this.path(suffix), { create: true })).close();
    }
    this.#indexFilesExist = true;
  }

  async #appendToFile(suffix: string, position: number, bytes: Uint8Array): Promise<void> {
    const file = await this.env.disk.open(this.path(suffix), { create: true });
    try {
      await file.write(position, bytes);
    } finally {
      file.close();
    }
  }

  async #loadFirstAppendTime(): Promise<void> {
    this.firstAppendMs = undefined;
    if (this.sizeBytes === 0) return;
    await this.scan(0, (batch) => {
      // Kafka rolls reopened segments by the first batch's timestamp.
      this.firstAppendMs = batch.header.maxTimestamp;
      return "stop";
    });
  }
}

/** The header fields the log uses, re-exported for callers of {@link Segment.findBatch}. */
export type { BatchHeader };
