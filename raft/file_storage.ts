/**
 * Durable Raft storage in a directory: a segmented log with a CRC-32C per
 * entry, an atomically replaced hard state file, and checksummed snapshot files.
 *
 * Layout of the directory:
 *
 * - `segment-<first index, 20 digits>.log`: consecutive entry records (see
 *   `_disk_entry_record.ts`). Segments always form one contiguous chain; the
 *   last one is appended to and a new one starts once it reaches
 *   `segmentBytesMax`.
 * - `hard_state`: term, vote and commit, replaced atomically (temp file, fsync,
 *   rename, fsync directory).
 * - `snapshot-<index, 20 digits>.snap`: the newest snapshot and the one before
 *   it. The previous one is kept, with the log after it, so that a newest
 *   snapshot that fails its checksum can fall back to it.
 *
 * Entries after the newest snapshot are also kept in memory, so the read side
 * is synchronous as {@link RaftStorage} requires; the application bounds that
 * memory by compacting with snapshots.
 *
 * @module
 */

import type { DurableRaftStorage, InitialState, StorageUpdate } from "./storage.ts";
import { CompactedError, UnavailableError } from "./storage.ts";
import type { ClusterConfig, Entry, HardState, Snapshot } from "./types.ts";
import { EMPTY_HARD_STATE, emptySnapshot } from "./types.ts";
import { decodeSegment, encodeEntryRecords, entryRecordBytes } from "./_disk_entry_record.ts";
import {
  decodeHardStateFile,
  encodeHardStateFile,
  HARD_STATE_FILE_NAME,
} from "./_disk_hard_state_file.ts";
import {
  decodeSnapshotFile,
  encodeSnapshotFile,
  parseSnapshotFileName,
  snapshotFileName,
} from "./_disk_snapshot_file.ts";
import type { Disk, DiskFile } from "./_disk.ts";
import { realDisk } from "./_disk.ts";
import { TEMP_FILE_SUFFIX, writeAll, writeFileAtomic } from "./_disk_io.ts";
import { decodeConfigEntry } from "./config_change.ts";
import {
  ENTRY_DATA_BYTES_MAX,
  FileStorageError,
  WRITES_PENDING_MAX,
} from "./file_storage_error.ts";

export {
  ENTRY_DATA_BYTES_MAX,
  FileStorageError,
  type FileStorageErrorCode,
  WRITES_PENDING_MAX,
} from "./file_storage_error.ts";
export type { Disk, DiskFile } from "./_disk.ts";

/** Default size at which the file storage starts a new segment (64 MiB). */
export const SEGMENT_BYTES_MAX_DEFAULT = 64 * 1024 * 1024;

/** Options of {@link FileStorage.open}. */
export interface FileStorageOptions {
  /** The membership of a node that has no snapshot yet. */
  readonly initialConfig: ClusterConfig;
  /**
   * Fsync before `save()` and `compact()` resolve (default `true`). Turn off
   * only for benchmarks and development: a crash may then lose acknowledged
   * entries, votes and commits.
   */
  readonly sync?: boolean;
  /** Segment size after which a new segment file is started (default {@link SEGMENT_BYTES_MAX_DEFAULT}). */
  readonly segmentBytesMax?: number;
  /** Told about everything `open` repaired or rejected (default: `console.warn`). */
  readonly onRecoveryIssue?: (issue: RecoveryIssue) => void;
  /** The file system to use (default: the real one); tests pass a simulated disk. */
  readonly disk?: Disk;
}

/**
 * Something `open` found damaged and repaired or skipped.
 *
 * - `truncated_segment`: a segment ended in a torn or corrupt record; it was
 *   cut at the end of the last record with a valid CRC.
 * - `deleted_segment`: a segment after a cut, or not joining the chain, was deleted.
 * - `rejected_snapshot`: a snapshot file failed its checksum and was skipped.
 */
export interface RecoveryIssue {
  readonly kind: "truncated_segment" | "deleted_segment" | "rejected_snapshot";
  /** The file's name in the storage directory. */
  readonly file: string;
  readonly message: string;
}

/** One segment file of the chain. */
interface Segment {
  /** The index of the first entry in the file (also in its name). */
  readonly firstIndex: number;
  readonly name: string;
  sizeBytes: number;
}

/** What {@link FileStorage.open} loaded before the storage object exists. */
interface LoadedState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot;
  /** Indexes of valid snapshot files on disk, ascending. */
  readonly snapshotIndexes: number[];
  readonly segments: Segment[];
  /** Entries after the snapshot, and where each record starts in its segment. */
  readonly entries: Entry[];
  readonly offsets: number[];
  readonly recovery: RecoveryIssue[];
}

function segmentFileName(firstIndex: number): string {
  return `segment-${String(firstIndex).padStart(20, "0")}.log`;
}

function parseSegmentFileName(name: string): number | undefined {
  const match = /^segment-(\d{20})\.log$/.exec(name);
  return match ? Number(match[1]) : undefined;
}

/**
 * Raft storage on disk, implementing {@link DurableRaftStorage}.
 *
 * `save()` resolves only after the entries, snapshot and hard state it wrote
 * are fsynced (with `sync` on, the default), so the driver may send messages
 * that depend on them once it resolves. Writes are serialised: concurrent
 * calls run one after another in call order.
 *
 * @example
 * ```ts
 * import { FileStorage } from "./file_storage.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const storage = await FileStorage.open(dir, { initialConfig: { voters: [1], learners: [] } });
 * await storage.save({
 *   entries: [{ index: 1, term: 1, kind: "normal", data: new Uint8Array([42]) }],
 *   hardState: { term: 1, vote: 1, commit: 1 },
 * });
 * console.log(storage.lastIndex()); // 1
 * await storage.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class FileStorage implements DurableRaftStorage {
  readonly #dir: string;
  readonly #disk: Disk;
  readonly #sync: boolean;
  readonly #segmentBytesMax: number;
  #hardState: HardState;
  #snapshot: Snapshot;
  /** Valid snapshot files on disk, ascending; the last one is `#snapshot` (unless it is index 0). */
  #snapshotIndexes: number[];
  /** The segment chain, ascending and contiguous; may start below the snapshot. */
  #segments: Segment[];
  /** Entries `#snapshot.meta.index + 1 .. lastIndex()`, dense. */
  #entries: Entry[];
  /** `#offsets[i]`: where the record of `#entries[i]` starts in its segment file. */
  #offsets: number[];
  /** The last segment, open for appending; opened on first write. */
  #active: DiskFile | undefined;
  /** Serialises writes: each write starts after the previous one settled. */
  #writeChain: Promise<void> = Promise.resolve();
  /** Writes issued and not yet settled; at most {@link WRITES_PENDING_MAX}. */
  #writesPending = 0;
  #closed = false;
  /** Set when a write failed halfway; the files may then disagree with memory. */
  #failure: unknown;

  /** What `open` repaired or rejected when loading. */
  readonly recovery: readonly RecoveryIssue[];

  private constructor(dir: string, options: FileStorageOptions, loaded: LoadedState) {
    this.#dir = dir;
    this.#disk = options.disk ?? realDisk;
    this.#sync = options.sync ?? true;
    this.#segmentBytesMax = options.segmentBytesMax ?? SEGMENT_BYTES_MAX_DEFAULT;
    this.#hardState = loaded.hardState;
    this.#snapshot = loaded.snapshot;
    this.#snapshotIndexes = loaded.snapshotIndexes;
    this.#segments = loaded.segments;
    this.#entries = loaded.entries;
    this.#offsets = loaded.offsets;
    this.recovery = loaded.recovery;
  }

  /**
   * Opens (creating if needed) the storage in `dir`, recovering from a crash:
   * a torn or corrupt tail is cut at the last record with a valid CRC, and a
   * snapshot that fails its checksum falls back to the previous one if the
   * log still covers it. Each repair is reported to `onRecoveryIssue` and kept
   * in {@link FileStorage.recovery}.
   *
   * @throws {FileStorageError} `CORRUPT_HARD_STATE`, `CORRUPT_SNAPSHOT` or
   * `CORRUPT_LOG` when the directory cannot be recovered without losing data
   * that may have been acknowledged.
   */
  static async open(dir: string, options: FileStorageOptions): Promise<FileStorage> {
    const segmentBytesMax = options.segmentBytesMax ?? SEGMENT_BYTES_MAX_DEFAULT;
    if (!Number.isSafeInteger(segmentBytesMax) || segmentBytesMax < 1) {
      throw new RangeError(`segmentBytesMax must be a positive integer, got ${segmentBytesMax}`);
    }
    const report = options.onRecoveryIssue ??
      ((issue: RecoveryIssue) => console.warn(`raft storage ${dir}: ${issue.message}`));
    const disk = options.disk ?? realDisk;
    await disk.mkdirAll(dir);
    const loaded = await loadState(disk, dir, options.initialConfig, options.sync ?? true);
    for (const issue of loaded.recovery) report(issue);
    return new FileStorage(dir, options, loaded);
  }

  // ---- read side (synchronous, from memory) ----

  initialState(): InitialState {
    this.#assertOpen();
    let config = this.#snapshot.meta.config;
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      if (this.#entries[i].kind === "config") {
        config = decodeConfigEntry(this.#entries[i].data).config;
        break;
      }
    }
    return { hardState: this.#hardState, config };
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    this.#assertOpen();
    if (lo < this.firstIndex()) throw new CompactedError(lo, this.firstIndex());
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1, this.lastIndex());
    const result: Entry[] = [];
    let bytes = 0;
    for (let index = lo; index < hi; index++) {
      const entry = this.#entries[index - this.firstIndex()];
      bytes += entry.data.length;
      if (result.length > 0 && bytes > maxBytes) break;
      result.push(entry);
    }
    return result;
  }

  term(index: number): number {
    this.#assertOpen();
    const snapshotIndex = this.#snapshot.meta.index;
    if (index === snapshotIndex) return this.#snapshot.meta.term;
    if (index < snapshotIndex) throw new CompactedError(index, this.firstIndex());
    if (index > this.lastIndex()) throw new UnavailableError(index, this.lastIndex());
    return this.#entries[index - snapshotIndex - 1].term;
  }

  firstIndex(): number {
    return this.#snapshot.meta.index + 1;
  }

  lastIndex(): number {
    return this.#snapshot.meta.index + this.#entries.length;
  }

  snapshot(): Snapshot {
    this.#assertOpen();
    return this.#snapshot;
  }

  // ---- write side ----

  save(update: StorageUpdate): Promise<void> {
    return this.#serialised(async () => {
      if (update.snapshot) await this.#installSnapshot(update.snapshot);
      if (update.entries.length > 0) await this.#append(update.entries);
      if (update.hardState) await this.#saveHardState(update.hardState);
    });
  }

  compact(snapshot: Snapshot): Promise<void> {
    return this.#serialised(async () => {
      const { index, term } = snapshot.meta;
      if (index <= this.#snapshot.meta.index) return; // already covered: nothing to discard
      if (index > this.lastIndex()) {
        throw new FileStorageError(
          "INVALID_STORAGE_UPDATE",
          `cannot compact to index ${index}: the log ends at ${this.lastIndex()}`,
        );
      }
      if (this.term(index) !== term) {
        throw new FileStorageError(
          "INVALID_STORAGE_UPDATE",
          `cannot compact to index ${index} term ${term}: the log has term ${
            this.term(index)
          } there`,
        );
      }
      await this.#writeSnapshotFile(snapshot);
      const dropped = index - this.#snapshot.meta.index;
      this.#entries = this.#entries.slice(dropped);
      this.#offsets = this.#offsets.slice(dropped);
      this.#snapshot = snapshot;
      await this.#collectGarbage();
    });
  }

  /** Waits for pending writes, then closes the files. Later calls throw `STORAGE_CLOSED`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#writeChain;
    this.#active?.close();
    this.#active = undefined;
  }

  /** The directory this storage lives in. */
  get dir(): string {
    return this.#dir;
  }

  /** The names of the segment files, oldest first (for tests and tools). */
  segmentFileNames(): string[] {
    return this.#segments.map((segment) => segment.name);
  }

  // ---- internals ----

  #assertOpen(): void {
    if (this.#closed) {
      throw new FileStorageError("STORAGE_CLOSED", "the raft file storage is closed");
    }
  }

  /** Runs `write` after every earlier write; a failure poisons the storage. */
  #serialised(write: () => Promise<void>): Promise<void> {
    if (this.#closed) {
      return Promise.reject(
        new FileStorageError("STORAGE_CLOSED", "the raft file storage is closed"),
      );
    }
    if (this.#writesPending >= WRITES_PENDING_MAX) {
      return Promise.reject(
        new FileStorageError(
          "TOO_MANY_PENDING_WRITES",
          `${this.#writesPending} raft storage writes are already waiting; await save() before the next`,
        ),
      );
    }
    this.#writesPending++;
    const run = this.#writeChain.then(async () => {
      if (this.#failure !== undefined) {
        throw new FileStorageError(
          "INVALID_STORAGE_UPDATE",
          `an earlier write failed (${this.#failure}); reopen the storage to recover`,
        );
      }
      try {
        await write();
      } catch (error) {
        // Invalid requests are refused before anything is written; any other
        // failure may have left the files half-written.
        if (!(error instanceof FileStorageError)) this.#failure = error;
        throw error;
      }
    });
    this.#writeChain = run.catch(() => {}).finally(() => this.#writesPending--);
    return run;
  }

  async #installSnapshot(snapshot: Snapshot): Promise<void> {
    const { index, term } = snapshot.meta;
    if (index <= this.#snapshot.meta.index) return; // stale: we already have a newer state
    const keepSuffix = index <= this.lastIndex() && this.term(index) === term;
    await this.#writeSnapshotFile(snapshot);
    if (keepSuffix) {
      const dropped = index - this.#snapshot.meta.index;
      this.#entries = this.#entries.slice(dropped);
      this.#offsets = this.#offsets.slice(dropped);
    } else {
      // The log disagrees with the snapshot (or ends before it): none of it is
      // usable, and neither is an older snapshot as a fallback.
      await this.#deleteSegmentsFrom(0);
      this.#entries = [];
      this.#offsets = [];
      for (const old of this.#snapshotIndexes.filter((i) => i < index)) {
        await this.#disk.remove(`${this.#dir}/${snapshotFileName(old)}`);
      }
      this.#snapshotIndexes = [index];
      if (this.#sync) await this.#disk.syncDir(this.#dir);
    }
    this.#snapshot = snapshot;
    await this.#collectGarbage();
  }

  async #writeSnapshotFile(snapshot: Snapshot): Promise<void> {
    const { index } = snapshot.meta;
    await writeFileAtomic(
      this.#disk,
      this.#dir,
      snapshotFileName(index),
      encodeSnapshotFile(snapshot),
      {
        sync: this.#sync,
      },
    );
    this.#snapshotIndexes = [...this.#snapshotIndexes.filter((i) => i < index), index];
  }

  /**
   * Keeps the newest two snapshot files and the log after the older of them;
   * deletes older snapshot files, then segments whose entries all precede it
   * (oldest first, so a crash leaves a contiguous chain).
   */
  async #collectGarbage(): Promise<void> {
    const keep = this.#snapshotIndexes.slice(-2);
    for (const old of this.#snapshotIndexes.slice(0, -2)) {
      await this.#disk.remove(`${this.#dir}/${snapshotFileName(old)}`);
    }
    this.#snapshotIndexes = keep;
    const retainedIndex = keep.length >= 2 ? keep[0] : 0;
    let removed = 0;
    while (
      removed + 1 < this.#segments.length &&
      this.#segments[removed + 1].firstIndex - 1 <= retainedIndex
    ) {
      await this.#disk.remove(`${this.#dir}/${this.#segments[removed].name}`);
      removed++;
    }
    this.#segments = this.#segments.slice(removed);
    if (this.#sync && removed > 0) await this.#disk.syncDir(this.#dir);
  }

  async #append(update: readonly Entry[]): Promise<void> {
    const snapshotIndex = this.#snapshot.meta.index;
    // Entries the snapshot already covers are committed and identical: skip them.
    const entries = update[0].index <= snapshotIndex
      ? update.slice(snapshotIndex + 1 - update[0].index)
      : update;
    if (entries.length === 0) return;
    checkAppend(entries, this.lastIndex(), (i) => this.term(i));
    const first = entries[0].index;
    let dirChanged = false;
    if (first <= this.lastIndex()) {
      const deleted = await this.#truncateFrom(first);
      // Make the cut durable before writing after it: otherwise a power loss
      // could keep some new records and bring back old ones after them (or a
      // deleted later segment), a log that never existed.
      if (this.#sync) {
        await this.#active?.syncData();
        if (deleted) await this.#disk.syncDir(this.#dir);
      } else {
        dirChanged = deleted;
      }
    }
    const offsets: number[] = [];
    let next = 0;
    while (next < entries.length) {
      let segment = this.#segments.at(-1);
      if (segment === undefined || segment.sizeBytes >= this.#segmentBytesMax) {
        segment = await this.#startSegment(entries[next].index);
        dirChanged = true;
      }
      // Fill this segment up to segmentBytesMax (it may overshoot by one record).
      let end = next;
      let chunkBytes = 0;
      while (
        end < entries.length &&
        (end === next || segment.sizeBytes + chunkBytes < this.#segmentBytesMax)
      ) {
        offsets.push(segment.sizeBytes + chunkBytes);
        chunkBytes += entryRecordBytes(entries[end]);
        end++;
      }
      const file = await this.#activeFile();
      await writeAll(file, encodeEntryRecords(entries.slice(next, end)));
      segment.sizeBytes += chunkBytes;
      next = end;
    }
    if (this.#sync) {
      await this.#active?.syncData();
      if (dirChanged) await this.#disk.syncDir(this.#dir);
    }
    // In place: copying the whole in-memory log on every append would make
    // appends cost O(log length).
    const keep = first - snapshotIndex - 1;
    this.#entries.length = keep;
    this.#offsets.length = keep;
    for (let i = 0; i < entries.length; i++) {
      this.#entries.push(entries[i]);
      this.#offsets.push(offsets[i]);
    }
  }

  /** Cuts the log on disk before `index` (a stored entry after the snapshot). */
  async #truncateFrom(index: number): Promise<boolean> {
    const position = this.#segments.findLastIndex((segment) => segment.firstIndex <= index);
    const deleted = await this.#deleteSegmentsFrom(position + 1);
    const offset = this.#offsets[index - this.#snapshot.meta.index - 1];
    const file = await this.#activeFile();
    await file.truncate(offset);
    this.#segments[position].sizeBytes = offset;
    return deleted;
  }

  /** Deletes segments from `position` on, newest first, so a crash leaves a prefix. */
  async #deleteSegmentsFrom(position: number): Promise<boolean> {
    if (position >= this.#segments.length) return false;
    this.#active?.close();
    this.#active = undefined;
    for (let i = this.#segments.length - 1; i >= position; i--) {
      await this.#disk.remove(`${this.#dir}/${this.#segments[i].name}`);
    }
    this.#segments = this.#segments.slice(0, position);
    return true;
  }

  async #startSegment(firstIndex: number): Promise<Segment> {
    if (this.#active) {
      // The finished segment's last writes must be durable with the rest.
      if (this.#sync) await this.#active.syncData();
      this.#active.close();
      this.#active = undefined;
    }
    const segment: Segment = { firstIndex, name: segmentFileName(firstIndex), sizeBytes: 0 };
    const file = await this.#disk.openAppend(`${this.#dir}/${segment.name}`, {
      create: true,
      truncate: true,
    });
    file.close();
    this.#segments.push(segment);
    return segment;
  }

  async #activeFile(): Promise<DiskFile> {
    if (!this.#active) {
      const last = this.#segments.at(-1);
      if (!last) throw new Error("no segment to write to");
      this.#active = await this.#disk.openAppend(`${this.#dir}/${last.name}`, {
        create: false,
        truncate: false,
      });
    }
    return this.#active;
  }

  async #saveHardState(hardState: HardState): Promise<void> {
    const current = this.#hardState;
    if (
      hardState.term === current.term && hardState.vote === current.vote &&
      hardState.commit === current.commit
    ) {
      return;
    }
    if (hardState.term < current.term || hardState.commit < current.commit) {
      throw new FileStorageError(
        "INVALID_STORAGE_UPDATE",
        `hard state may not go back: term ${current.term} -> ${hardState.term}, ` +
          `commit ${current.commit} -> ${hardState.commit}`,
      );
    }
    await writeFileAtomic(
      this.#disk,
      this.#dir,
      HARD_STATE_FILE_NAME,
      encodeHardStateFile(hardState),
      {
        sync: this.#sync,
      },
    );
    this.#hardState = { term: hardState.term, vote: hardState.vote, commit: hardState.commit };
  }
}

/** Refuses an append that would leave a gap, go back in term, or hold an oversized entry. */
function checkAppend(
  entries: readonly Entry[],
  lastIndex: number,
  termAt: (index: number) => number,
): void {
  const first = entries[0];
  if (first.index > lastIndex + 1) {
    throw new FileStorageError(
      "INVALID_STORAGE_UPDATE",
      `cannot append index ${first.index}: the log ends at ${lastIndex} (no gaps allowed)`,
    );
  }
  let previousTerm = termAt(first.index - 1);
  let expectedIndex = first.index;
  for (const entry of entries) {
    if (entry.index !== expectedIndex || entry.term < previousTerm || entry.term < 1) {
      throw new FileStorageError(
        "INVALID_STORAGE_UPDATE",
        `entries must be dense with non-decreasing terms: got index ${entry.index} term ` +
          `${entry.term} where index ${expectedIndex} with term >= ${previousTerm} was due`,
      );
    }
    if (entry.data.length > ENTRY_DATA_BYTES_MAX) {
      throw new FileStorageError(
        "MESSAGE_TOO_LARGE",
        `entry ${entry.index} carries ${entry.data.length} bytes; the limit is ${ENTRY_DATA_BYTES_MAX}`,
      );
    }
    previousTerm = entry.term;
    expectedIndex++;
  }
}

// ---- loading and recovery ----

async function loadState(
  disk: Disk,
  dir: string,
  initialConfig: ClusterConfig,
  sync: boolean,
): Promise<LoadedState> {
  const recovery: RecoveryIssue[] = [];
  const snapshotNames: number[] = [];
  const segmentNames: number[] = [];
  for (const name of await disk.list(dir)) {
    if (name.endsWith(TEMP_FILE_SUFFIX)) {
      // A temporary file left by a crash before its rename: never the real state.
      await disk.remove(`${dir}/${name}`);
      continue;
    }
    const snapshotIndex = parseSnapshotFileName(name);
    if (snapshotIndex !== undefined) snapshotNames.push(snapshotIndex);
    const segmentIndex = parseSegmentFileName(name);
    if (segmentIndex !== undefined) segmentNames.push(segmentIndex);
  }
  const hardState = await loadHardState(disk, dir);
  const snapshots = await loadSnapshots(disk, dir, snapshotNames, initialConfig, recovery);
  const chain = await loadSegments(disk, dir, segmentNames.sort((a, b) => a - b), {
    recovery,
    sync,
  });
  // Repairs must be durable before anything is written after them: a cut that
  // a power loss undoes could otherwise bring old records back behind new ones.
  if (sync && recovery.some((issue) => issue.kind !== "rejected_snapshot")) {
    await disk.syncDir(dir);
  }
  const { snapshot, rejectedIndexMax } = snapshots;
  const snapshotIndex = snapshot.meta.index;
  const firstStored = chain.entries[0]?.index;
  const lastStored = chain.entries.at(-1)?.index ?? 0;

  if (
    rejectedIndexMax > snapshotIndex &&
    (firstStored === undefined || firstStored > snapshotIndex + 1 || lastStored < rejectedIndexMax)
  ) {
    throw new FileStorageError(
      "CORRUPT_SNAPSHOT",
      `snapshot ${snapshotFileName(rejectedIndexMax)} in ${dir} fails its checksum, and no older ` +
        `valid snapshot together with the log covers index ${rejectedIndexMax}`,
    );
  }
  if (firstStored !== undefined && firstStored > snapshotIndex + 1) {
    throw new FileStorageError(
      "CORRUPT_LOG",
      `the log in ${dir} starts at index ${firstStored} but the snapshot ends at ${snapshotIndex}`,
    );
  }
  let segments = chain.segments;
  let entries: Entry[] = [];
  let offsets: number[] = [];
  if (firstStored !== undefined && !logJoinsSnapshot(chain.entries, snapshot)) {
    // The log ends before the snapshot or disagrees with it: a crash interrupted
    // installing a leader's snapshot after its file was written. Finish the job.
    for (const segment of [...segments].reverse()) await disk.remove(`${dir}/${segment.name}`);
    if (sync) await disk.syncDir(dir);
    segments = [];
  } else if (firstStored !== undefined) {
    const skip = snapshotIndex + 1 - firstStored;
    entries = chain.entries.slice(skip);
    offsets = chain.offsets.slice(skip);
  }
  return {
    hardState,
    snapshot,
    snapshotIndexes: snapshots.validIndexes,
    segments,
    entries,
    offsets,
    recovery,
  };
}

/** Whether a stored log that starts at or before `snapshot.meta.index + 1` continues the snapshot. */
function logJoinsSnapshot(stored: readonly Entry[], snapshot: Snapshot): boolean {
  const { index, term } = snapshot.meta;
  const first = stored[0].index;
  if (index === 0 || first === index + 1) return true;
  return stored.at(-1)!.index >= index && stored[index - first].term === term;
}

async function loadHardState(disk: Disk, dir: string): Promise<HardState> {
  const bytes = await disk.readFile(`${dir}/${HARD_STATE_FILE_NAME}`);
  if (bytes === undefined) return EMPTY_HARD_STATE;
  const decoded = decodeHardStateFile(bytes);
  if (typeof decoded === "string") {
    throw new FileStorageError(
      "CORRUPT_HARD_STATE",
      `${dir}/${HARD_STATE_FILE_NAME} is corrupt (${decoded}); it is written atomically, so ` +
        `this is disk damage: restore the node from a peer`,
    );
  }
  return decoded;
}

/** Picks the newest snapshot file with a valid checksum. */
async function loadSnapshots(
  disk: Disk,
  dir: string,
  indexes: number[],
  initialConfig: ClusterConfig,
  recovery: RecoveryIssue[],
): Promise<{ snapshot: Snapshot; validIndexes: number[]; rejectedIndexMax: number }> {
  let snapshot: Snapshot | undefined;
  const validIndexes: number[] = [];
  let rejectedIndexMax = 0;
  for (const index of indexes.sort((a, b) => b - a)) {
    const name = snapshotFileName(index);
    const decoded = decodeSnapshotFile(await disk.readFile(`${dir}/${name}`) ?? new Uint8Array());
    if (typeof decoded === "string" || decoded.meta.index !== index) {
      const why = typeof decoded === "string" ? decoded : `it holds index ${decoded.meta.index}`;
      recovery.push({
        kind: "rejected_snapshot",
        file: name,
        message: `snapshot ${name} rejected: ${why}`,
      });
      if (snapshot === undefined) {
        rejectedIndexMax = Math.max(rejectedIndexMax, index);
      } else {
        await disk.remove(`${dir}/${name}`); // older than a valid one: never needed again
      }
      continue;
    }
    snapshot ??= decoded;
    validIndexes.unshift(index);
  }
  return { snapshot: snapshot ?? emptySnapshot(initialConfig), validIndexes, rejectedIndexMax };
}

/**
 * Reads the segment chain, cutting it at the first torn or corrupt record or
 * at the first segment that does not continue its predecessor: everything
 * after such a point is deleted, so what remains is a prefix of what was written.
 */
async function loadSegments(
  disk: Disk,
  dir: string,
  firstIndexes: number[],
  { recovery, sync }: { recovery: RecoveryIssue[]; sync: boolean },
): Promise<{ segments: Segment[]; entries: Entry[]; offsets: number[] }> {
  const segments: Segment[] = [];
  const entries: Entry[] = [];
  const offsets: number[] = [];
  let cut = false;
  for (const firstIndex of firstIndexes) {
    const name = segmentFileName(firstIndex);
    const path = `${dir}/${name}`;
    const previous = entries.at(-1);
    if (cut || (previous !== undefined && firstIndex !== previous.index + 1)) {
      await disk.remove(path);
      recovery.push({
        kind: "deleted_segment",
        file: name,
        message:
          `segment ${name} deleted: it follows a cut or does not continue index ${previous?.index}`,
      });
      cut = true;
      continue;
    }
    const bytes = await disk.readFile(path) ?? new Uint8Array();
    const decoded = decodeSegment(bytes, firstIndex);
    const firstTerm = decoded.entries[0]?.term ?? Infinity;
    if (previous !== undefined && firstTerm < previous.term) {
      await disk.remove(path);
      recovery.push({
        kind: "deleted_segment",
        file: name,
        message: `segment ${name} deleted: its first term ${firstTerm} is below ${previous.term}`,
      });
      cut = true;
      continue;
    }
    if (decoded.problem !== undefined) {
      const file = await disk.openAppend(path, { create: false, truncate: false });
      try {
        await file.truncate(decoded.validBytes);
        if (sync) await file.syncData();
      } finally {
        file.close();
      }
      recovery.push({
        kind: "truncated_segment",
        file: name,
        message: `segment ${name} cut to ${decoded.validBytes} of ${bytes.length} bytes ` +
          `(${decoded.entries.length} valid entries): ${decoded.problem}`,
      });
      cut = true;
    }
    if (decoded.entries.length === 0) {
      // Nothing valid in it (a crash right after creating it): start afresh.
      await disk.remove(path);
      continue;
    }
    segments.push({ firstIndex, name, sizeBytes: decoded.validBytes });
    // A loop, not push(...spread): a segment can hold more entries than a call has arguments.
    for (let i = 0; i < decoded.entries.length; i++) {
      entries.push(decoded.entries[i]);
      offsets.push(decoded.offsets[i]);
    }
  }
  return { segments, entries, offsets };
}
