/**
 * The sparse offset index of one segment (`<base>.index`): entries of
 * (offset relative to the segment base: u32, byte position in the `.log`:
 * u32), big-endian, 8 bytes each, one per ≥ `indexIntervalBytes` of log.
 * Each entry points at the start of a batch whose base offset it records.
 *
 * Invariant: relative offsets and positions are strictly increasing, and every
 * position is the start of a batch in the segment.
 *
 * @module
 */

/** Bytes per offset index entry. */
export const OFFSET_INDEX_ENTRY_BYTES = 8;

/** Thrown by the index decoders when a file fails its sanity checks. */
export class IndexCorruptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "IndexCorruptError";
  }
}

/** A position in the log found through the index. */
export interface IndexPosition {
  /** Base offset of the batch at `position` (or the segment base for position 0). */
  readonly offset: number;
  readonly position: number;
}

/**
 * The entry arrays of an index with no entries, shared: a broker holds one
 * index per partition, and most of 10,000 partitions may never get an entry
 * (two 16-entry arrays each cost ~250 bytes of heap plus their backing stores).
 */
const NO_ENTRIES = new Uint32Array(0);

/** Entries the arrays get at the first append. */
const FIRST_CAPACITY = 16;

/** The in-memory offset index of one segment. */
export class OffsetIndex {
  #relativeOffsets: Uint32Array = NO_ENTRIES;
  #positions: Uint32Array = NO_ENTRIES;
  #count = 0;
  /** Entries already written to the index file; the rest are appended on persist. */
  persistedCount = 0;

  constructor(readonly baseOffset: number) {}

  /** Number of entries. */
  get entryCount(): number {
    return this.#count;
  }

  /** The last entry, if any. */
  lastEntry(): IndexPosition | undefined {
    if (this.#count === 0) return undefined;
    const i = this.#count - 1;
    return { offset: this.baseOffset + this.#relativeOffsets[i], position: this.#positions[i] };
  }

  /** Adds an entry; offsets and positions must grow. */
  append(offset: number, position: number): void {
    const relative = offset - this.baseOffset;
    const last = this.lastEntry();
    if (relative < 0 || relative > 0xffffffff || position > 0xffffffff) {
      throw new RangeError(
        `index entry (${offset}, ${position}) does not fit segment ${this.baseOffset}`,
      );
    }
    if (last && (offset <= last.offset || position <= last.position)) {
      throw new RangeError(
        `index entry (${offset}, ${position}) does not follow (${last.offset}, ${last.position})`,
      );
    }
    if (this.#count === this.#positions.length) {
      this.#relativeOffsets = grow(this.#relativeOffsets);
      this.#positions = grow(this.#positions);
    }
    this.#relativeOffsets[this.#count] = relative;
    this.#positions[this.#count] = position;
    this.#count++;
  }

  /** The entry with the largest offset ≤ `offset`, or the segment start. */
  lookup(offset: number): IndexPosition {
    const relative = offset - this.baseOffset;
    let lo = 0;
    let hi = this.#count - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#relativeOffsets[mid] <= relative) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (found < 0) return { offset: this.baseOffset, position: 0 };
    return {
      offset: this.baseOffset + this.#relativeOffsets[found],
      position: this.#positions[found],
    };
  }

  /** Removes entries for offsets ≥ `offset`. */
  truncateToOffset(offset: number): void {
    while (this.#count > 0 && this.baseOffset + this.#relativeOffsets[this.#count - 1] >= offset) {
      this.#count--;
    }
    this.persistedCount = Math.min(this.persistedCount, this.#count);
  }

  /** Encodes entries `[from, entryCount)`. */
  encode(from = 0): Uint8Array {
    const bytes = new Uint8Array((this.#count - from) * OFFSET_INDEX_ENTRY_BYTES);
    const view = new DataView(bytes.buffer);
    for (let i = from; i < this.#count; i++) {
      const at = (i - from) * OFFSET_INDEX_ENTRY_BYTES;
      view.setUint32(at, this.#relativeOffsets[i]);
      view.setUint32(at + 4, this.#positions[i]);
    }
    return bytes;
  }

  /**
   * Decodes and sanity-checks an index file of a segment whose log is
   * `logSizeBytes` long.
   *
   * @throws {IndexCorruptError} If the size is not a multiple of 8, entries do
   *   not grow, or a position lies outside the log.
   */
  static decode(baseOffset: number, bytes: Uint8Array, logSizeBytes: number): OffsetIndex {
    if (bytes.length % OFFSET_INDEX_ENTRY_BYTES !== 0) {
      throw new IndexCorruptError(`offset index size ${bytes.length} is not a multiple of 8`);
    }
    const index = new OffsetIndex(baseOffset);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let at = 0; at < bytes.length; at += OFFSET_INDEX_ENTRY_BYTES) {
      const offset = baseOffset + view.getUint32(at);
      const position = view.getUint32(at + 4);
      if (position >= logSizeBytes) {
        throw new IndexCorruptError(
          `offset index entry points at ${position}, past the log end ${logSizeBytes}`,
        );
      }
      try {
        index.append(offset, position);
      } catch (error) {
        throw new IndexCorruptError(`offset index is out of order: ${(error as Error).message}`);
      }
    }
    index.persistedCount = index.entryCount;
    return index;
  }
}

function grow(array: Uint32Array): Uint32Array {
  const grown = new Uint32Array(Math.max(FIRST_CAPACITY, array.length * 2));
  grown.set(array);
  return grown;
}
