/**
 * The leader epoch cache (Kafka KIP-101/279): for each leader epoch, the first
 * offset written in it. A follower that rejoins asks the leader for the end
 * offset of its own latest epoch ({@link LeaderEpochCache.endOffsetFor}) and
 * truncates there, instead of trusting its high watermark.
 *
 * Persisted as `leader-epoch-checkpoint`, in Kafka's text format, replaced
 * atomically on every change:
 *
 * ```
 * 0
 * 2
 * 0 0
 * 3 1500
 * ```
 *
 * Invariant: epochs and start offsets both strictly increase.
 *
 * @module
 */

import { type Disk, joinPath, readWholeFile, writeFileAtomic } from "./disk.ts";

/** File name of the epoch checkpoint in the partition directory. */
export const LEADER_EPOCH_CHECKPOINT_FILE = "leader-epoch-checkpoint";

/** Kafka's "no epoch" / "no offset" value. */
export const UNDEFINED_EPOCH = -1;

/** An epoch and the first offset written in it. */
export interface EpochEntry {
  readonly epoch: number;
  readonly startOffset: number;
}

/** Answer to an end-offset query: the epoch found and where it ends. */
export interface EpochEndOffset {
  readonly epoch: number;
  readonly endOffset: number;
}

/** The cache; changes are persisted by {@link LeaderEpochCache.persist}. */
export class LeaderEpochCache {
  #entries: EpochEntry[];
  /** Changed since the last persist. */
  dirty = false;

  constructor(entries: readonly EpochEntry[], private readonly logEndOffset: () => number) {
    this.#entries = [...entries];
  }

  /** All entries, oldest first. */
  entries(): readonly EpochEntry[] {
    return this.#entries;
  }

  /** The newest epoch, or -1. */
  get latestEpoch(): number {
    return this.#entries[this.#entries.length - 1]?.epoch ?? UNDEFINED_EPOCH;
  }

  /**
   * Records that `epoch` starts at `startOffset`. Older or equal epochs are
   * ignored; entries at or after `startOffset` (left by a truncated leader)
   * are replaced.
   */
  assign(epoch: number, startOffset: number): boolean {
    if (epoch < 0 || epoch <= this.latestEpoch) return false;
    while (
      this.#entries.length > 0 && this.#entries[this.#entries.length - 1].startOffset >= startOffset
    ) {
      this.#entries.pop();
    }
    this.#entries.push({ epoch, startOffset });
    this.dirty = true;
    return true;
  }

  /**
   * The end offset of `epoch` (KIP-279): the log end offset if it is the
   * latest epoch; else the start offset of the next higher epoch, paired with
   * the largest known epoch ≤ `epoch`. Unknown newer epochs answer (-1, -1).
   */
  endOffsetFor(epoch: number): EpochEndOffset {
    if (epoch === UNDEFINED_EPOCH || this.#entries.length === 0) {
      return { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH };
    }
    if (epoch === this.latestEpoch) return { epoch, endOffset: this.logEndOffset() };
    const higher = this.#entries.findIndex((entry) => entry.epoch > epoch);
    if (higher < 0) return { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH };
    const floor = higher === 0 ? undefined : this.#entries[higher - 1];
    return { epoch: floor?.epoch ?? epoch, endOffset: this.#entries[higher].startOffset };
  }

  /** Removes epochs starting at or after `endOffset` (the log was truncated there). */
  truncateFromEnd(endOffset: number): void {
    const before = this.#entries.length;
    this.#entries = this.#entries.filter((entry) => entry.startOffset < endOffset);
    if (this.#entries.length !== before) this.dirty = true;
  }

  /** Drops epochs wholly below `startOffset`; the one spanning it now starts there. */
  truncateFromStart(startOffset: number): void {
    let firstKept = 0;
    while (
      firstKept + 1 < this.#entries.length &&
      this.#entries[firstKept + 1].startOffset <= startOffset
    ) {
      firstKept++;
    }
    const kept = this.#entries.slice(firstKept);
    if (kept.length > 0 && kept[0].startOffset < startOffset) {
      kept[0] = { epoch: kept[0].epoch, startOffset };
    }
    if (kept.length !== this.#entries.length || kept[0] !== this.#entries[firstKept]) {
      this.dirty = true;
    }
    this.#entries = kept;
  }

  /** Forgets everything (the log was emptied). */
  clear(): void {
    if (this.#entries.length > 0) this.dirty = true;
    this.#entries = [];
  }

  /** Writes the checkpoint file if anything changed. */
  async persist(disk: Disk, dir: string): Promise<void> {
    if (!this.dirty) return;
    const lines = [
      "0",
      String(this.#entries.length),
      ...this.#entries.map((e) => `${e.epoch} ${e.startOffset}`),
    ];
    this.dirty = false;
    try {
      await writeFileAtomic(
        disk,
        dir,
        LEADER_EPOCH_CHECKPOINT_FILE,
        new TextEncoder().encode(`${lines.join("\n")}\n`),
      );
    } catch (error) {
      this.dirty = true;
      throw error;
    }
  }

  /**
   * Loads the checkpoint. A missing file gives an empty cache; an unreadable
   * one gives an empty cache and the reason (the log rebuilds what it can).
   */
  static async load(
    disk: Disk,
    dir: string,
    logEndOffset: () => number,
  ): Promise<{ cache: LeaderEpochCache; problem?: string }> {
    const bytes = await readWholeFile(disk, joinPath(dir, LEADER_EPOCH_CHECKPOINT_FILE));
    if (bytes === undefined) return { cache: new LeaderEpochCache([], logEndOffset) };
    try {
      return { cache: new LeaderEpochCache(decodeEpochCheckpoint(bytes), logEndOffset) };
    } catch (error) {
      const cache = new LeaderEpochCache([], logEndOffset);
      cache.dirty = true;
      return { cache, problem: (error as Error).message };
    }
  }
}

/** Parses Kafka's epoch checkpoint text; throws on anything malformed. */
export function decodeEpochCheckpoint(bytes: Uint8Array): EpochEntry[] {
  const lines = new TextDecoder().decode(bytes).split("\n").filter((line) => line !== "");
  if (lines[0] !== "0") throw new Error(`leader epoch checkpoint version ${lines[0]} is unknown`);
  const count = Number(lines[1]);
  if (!Number.isSafeInteger(count) || count < 0 || lines.length !== count + 2) {
    throw new Error(
      `leader epoch checkpoint count ${lines[1]} does not match its ${lines.length - 2} entries`,
    );
  }
  const entries: EpochEntry[] = [];
  for (const line of lines.slice(2)) {
    const match = line.match(/^(\d+) (\d+)$/);
    if (!match) {
      throw new Error(`leader epoch checkpoint line ${JSON.stringify(line)} is malformed`);
    }
    const entry = { epoch: Number(match[1]), startOffset: Number(match[2]) };
    const last = entries[entries.length - 1];
    if (last && (entry.epoch <= last.epoch || entry.startOffset <= last.startOffset)) {
      throw new Error(`leader epoch checkpoint entries do not increase at ${JSON.stringify(line)}`);
    }
    entries.push(entry);
  }
  return entries;
}
