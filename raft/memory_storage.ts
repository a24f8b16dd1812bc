/**
 * Raft log storage in memory: the simulator's and the tests' storage, and a
 * reference for durable implementations. Nothing survives the process; "durable"
 * means "stored in this object".
 *
 * @module
 */

import { decodeConfigEntry } from "./config_change.ts";
import { RaftError } from "./errors.ts";
import { CompactedError, UnavailableError } from "./storage.ts";
import type { DurableRaftStorage, InitialState, StorageUpdate } from "./storage.ts";
import { EMPTY_HARD_STATE, emptySnapshot } from "./types.ts";
import type { ClusterConfig, Entry, HardState, Snapshot } from "./types.ts";

/** What a {@link MemoryStorage} starts with. */
export interface MemoryStorageOptions {
  /** The initial membership of a brand-new cluster (used as the empty snapshot's config). */
  readonly config?: ClusterConfig;
  /** A snapshot to start from. */
  readonly snapshot?: Snapshot;
  /** A hard state to start from. */
  readonly hardState?: HardState;
  /** Entries following the snapshot. */
  readonly entries?: readonly Entry[];
}

/**
 * A {@link DurableRaftStorage} kept in memory. Besides the asynchronous
 * contract it offers synchronous `saveSync`/`compactSync` for deterministic
 * single-threaded drivers such as the simulator.
 *
 * @example
 * ```ts
 * import { MemoryStorage } from "@strom/raft";
 * const storage = new MemoryStorage({ config: { voters: [1, 2, 3], learners: [] } });
 * await storage.save({
 *   entries: [{ index: 1, term: 1, kind: "noop", data: new Uint8Array(0) }],
 *   hardState: { term: 1, vote: 1, commit: 0 },
 * });
 * if (storage.lastIndex() !== 1 || storage.term(1) !== 1) throw new Error("not stored");
 * ```
 */
export class MemoryStorage implements DurableRaftStorage {
  #hardState: HardState;
  #snapshot: Snapshot;
  /** `#entries[i]` has index `#snapshot.meta.index + 1 + i`. */
  #entries: Entry[] = [];
  #closed = false;

  /** Creates a storage holding `options` (empty by default). */
  constructor(options: MemoryStorageOptions = {}) {
    this.#hardState = options.hardState ?? EMPTY_HARD_STATE;
    this.#snapshot = options.snapshot ??
      emptySnapshot(options.config ?? { voters: [], learners: [] });
    if (options.entries && options.entries.length > 0) this.saveSync({ entries: options.entries });
  }

  /** The stored hard state and the latest membership. */
  initialState(): InitialState {
    return { hardState: this.#hardState, config: this.latestConfig() };
  }

  /** The membership of the last config entry, else of the snapshot. */
  latestConfig(): ClusterConfig {
    for (let i = this.#entries.length - 1; i >= 0; i--) {
      const e = this.#entries[i];
      if (e.kind === "config") return decodeConfigEntry(e.data).config;
    }
    return this.#snapshot.meta.config;
  }

  /** The stored hard state. */
  hardState(): HardState {
    return this.#hardState;
  }

  /** One past the snapshot. */
  firstIndex(): number {
    return this.#snapshot.meta.index + 1;
  }

  /** The last stored index (the snapshot index if no entries). */
  lastIndex(): number {
    return this.#snapshot.meta.index + this.#entries.length;
  }

  /** The stored snapshot. */
  snapshot(): Snapshot {
    return this.#snapshot;
  }

  term(index: number): number {
    const snapIndex = this.#snapshot.meta.index;
    if (index === snapIndex) return this.#snapshot.meta.term;
    if (index < snapIndex) throw new CompactedError(index, this.firstIndex());
    if (index > this.lastIndex()) throw new UnavailableError(index, this.lastIndex());
    return this.#entries[index - snapIndex - 1].term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo < this.firstIndex()) throw new CompactedError(lo, this.firstIndex());
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1, this.lastIndex());
    const base = this.#snapshot.meta.index + 1;
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.#entries[i - base];
      bytes += e.data.byteLength;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** {@link save} without the promise. */
  saveSync(update: StorageUpdate): void {
    this.#checkOpen();
    if (update.snapshot && update.snapshot.meta.index > this.#snapshot.meta.index) {
      // A snapshot from the leader replaces the whole log.
      this.#snapshot = update.snapshot;
      this.#entries = [];
    }
    if (update.entries.length > 0) this.#append(update.entries);
    if (update.hardState) this.#hardState = update.hardState;
  }

  #append(entries: readonly Entry[]): void {
    const first = entries[0].index;
    if (first > this.lastIndex() + 1) {
      throw new RaftError(
        "ILLEGAL_STATE",
        `cannot append entry ${first}: the log ends at ${this.lastIndex()} (gap)`,
      );
    }
    const base = this.#snapshot.meta.index + 1;
    // Entries at or below the snapshot are already covered by it.
    const skip = Math.max(0, base - first);
    if (skip >= entries.length) return;
    this.#entries.length = first + skip - base;
    for (let i = skip; i < entries.length; i++) this.#entries.push(entries[i]);
  }

  /** {@link compact} without the promise. */
  compactSync(snapshot: Snapshot): void {
    this.#checkOpen();
    const index = snapshot.meta.index;
    if (index <= this.#snapshot.meta.index) return;
    if (index > this.lastIndex()) throw new UnavailableError(index, this.lastIndex());
    const term = this.term(index);
    if (term !== snapshot.meta.term) {
      throw new RaftError(
        "ILLEGAL_STATE",
        `snapshot at ${index} claims term ${snapshot.meta.term}, the log has ${term}`,
      );
    }
    this.#entries = this.#entries.slice(index - this.#snapshot.meta.index);
    this.#snapshot = snapshot;
  }

  save(update: StorageUpdate): Promise<void> {
    try {
      this.saveSync(update);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  compact(snapshot: Snapshot): Promise<void> {
    try {
      this.compactSync(snapshot);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Refuses further writes. */
  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  #checkOpen(): void {
    if (this.#closed) throw new RaftError("ILLEGAL_STATE", "the storage is closed");
  }
}
