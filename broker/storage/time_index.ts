/**
 * The sparse time index of one segment (`<base>.timeindex`): entries of
 * (timestamp ms: int64, offset relative to the segment base: u32),
 * big-endian, 12 bytes each. An entry (t, o) says: the largest batch
 * timestamp seen up to and including the batch at offset o is t, and o is the
 * first batch that reached t. So every batch before o has a max timestamp < t.
 *
 * Invariant: timestamps strictly increase and offsets grow.
 *
 * @module
 */

import { IndexCorruptError } from "./offset_index.ts";

/** Bytes per time index entry. */
export const TIME_INDEX_ENTRY_BYTES = 12;

/** One time index entry, with the absolute offset. */
export interface TimeIndexEntry {
  readonly timestampMs: number;
  readonly offset: number;
}

/** The in-memory time index of one segment. */
export class TimeIndex {
  #entries: TimeIndexEntry[] = [];
  /** Entries already written to the index file. */
  persistedCount = 0;

  constructor(readonly baseOffset: number) {}

  /** Number of entries. */
  get entryCount(): number {
    return this.#entries.length;
  }

  /** The last entry: its timestamp is the segment's largest, once the segment is closed. */
  lastEntry(): TimeIndexEntry | undefined {
    return this.#entries[this.#entries.length - 1];
  }

  /** Adds (t, o) if t is larger than the last entry's; returns whether it did. */
  maybeAppend(timestampMs: number, offset: number): boolean {
    const last = this.lastEntry();
    if (last && timestampMs <= last.timestampMs) return false;
    if (last && offset < last.offset) {
      throw new RangeError(`time index offset ${offset} goes back from ${last.offset}`);
    }
    if (offset - this.baseOffset > 0xffffffff || offset < this.baseOffset) {
      throw new RangeError(`time index offset ${offset} does not fit segment ${this.baseOffset}`);
    }
    this.#entries.push({ timestampMs, offset });
    return true;
  }

  /**
   * Where to start scanning for the first batch with a timestamp ≥
   * `timestampMs`: the offset of the last entry below it, else the base.
   */
  lookup(timestampMs: number): number {
    let lo = 0;
    let hi = this.#entries.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#entries[mid].timestampMs < timestampMs) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found < 0 ? this.baseOffset : this.#entries[found].offset;
  }

  /** Removes entries for offsets ≥ `offset`. */
  truncateToOffset(offset: number): void {
    while (this.#entries.length > 0 && this.lastEntry()!.offset >= offset) this.#entries.pop();
    this.persistedCount = Math.min(this.persistedCount, this.#entries.length);
  }

  /** Encodes entries `[from, entryCount)`. */
  encode(from = 0): Uint8Array {
    const bytes = new Uint8Array((this.#entries.length - from) * TIME_INDEX_ENTRY_BYTES);
    const view = new DataView(bytes.buffer);
    for (let i = from; i < this.#entries.length; i++) {
      const at = (i - from) * TIME_INDEX_ENTRY_BYTES;
      view.setBigInt64(at, BigInt(this.#entries[i].timestampMs));
      view.setUint32(at + 8, this.#entries[i].offset - this.baseOffset);
    }
    return bytes;
  }

  /**
   * Decodes and sanity-checks a time index file.
   *
   * @throws {IndexCorruptError} If the size is not a multiple of 12 or the
   *   entries do not grow.
   */
  static decode(baseOffset: number, bytes: Uint8Array): TimeIndex {
    if (bytes.length % TIME_INDEX_ENTRY_BYTES !== 0) {
      throw new IndexCorruptError(`time index size ${bytes.length} is not a multiple of 12`);
    }
    const index = new TimeIndex(baseOffset);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let at = 0; at < bytes.length; at += TIME_INDEX_ENTRY_BYTES) {
      const timestampMs = Number(view.getBigInt64(at));
      const offset = baseOffset + view.getUint32(at + 8);
      const last = index.lastEntry();
      if (!Number.isSafeInteger(timestampMs) || (last && offset < last.offset)) {
        throw new IndexCorruptError(`time index entry ${at / TIME_INDEX_ENTRY_BYTES} is invalid`);
      }
      if (!index.maybeAppend(timestampMs, offset)) {
        throw new IndexCorruptError(`time index timestamps do not increase at entry ${at / 12}`);
      }
    }
    index.persistedCount = index.entryCount;
    return index;
  }
}
