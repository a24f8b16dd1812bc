/**
 * A simulated disk for the simulator: writes land in a volatile view at
 * once (what the node reads back, like a page cache) and become durable only
 * at `sync()`. A crash throws away what was not synced, and may leave a torn
 * prefix of the first unsynced write behind, as a real log whose tail record
 * failed its checksum would after truncation.
 *
 * @module
 */

import { MemoryStorage } from "../memory_storage.ts";
import type { Prng } from "../prng.ts";
import type { InitialState, RaftStorage, StorageUpdate } from "../storage.ts";
import type { ClusterConfig, Entry, HardState, Snapshot } from "../types.ts";

/** Observes every write that reaches the volatile view (for incremental invariant checks). */
export interface DiskObserver {
  /** Entries reached the volatile view. */
  onEntriesWritten(disk: SimDisk, entries: readonly Entry[]): void;
  /** A snapshot reached the volatile view. */
  onSnapshotWritten(disk: SimDisk, snapshot: Snapshot): void;
}

function cloneStorage(from: MemoryStorage): MemoryStorage {
  const entries = from.lastIndex() >= from.firstIndex()
    ? from.entries(from.firstIndex(), from.lastIndex() + 1, Number.MAX_SAFE_INTEGER)
    : [];
  return new MemoryStorage({ snapshot: from.snapshot(), hardState: from.hardState(), entries });
}

/**
 * A disk with a volatile and a durable view.
 *
 * @example
 * ```ts
 * import { SimDisk } from "@strom/raft/sim";
 * import { createPrng } from "@strom/raft";
 * const disk = new SimDisk(1, { voters: [1], learners: [] });
 * disk.save({ entries: [{ index: 1, term: 1, kind: "noop", data: new Uint8Array(0) }] });
 * disk.crash(createPrng(1), 0);
 * if (disk.lastIndex() !== 0) throw new Error("an unsynced write must not survive a crash");
 * ```
 */
export class SimDisk implements RaftStorage {
  #volatile: MemoryStorage;
  #durable: MemoryStorage;
  #unsynced: StorageUpdate[] = [];

  /** An empty disk for node `nodeId` starting with membership `config`. */
  constructor(
    readonly nodeId: number,
    config: ClusterConfig,
    private readonly observer?: DiskObserver,
  ) {
    this.#volatile = new MemoryStorage({ config });
    this.#durable = new MemoryStorage({ config });
  }

  /** What a restart would find (the volatile view). */
  initialState(): InitialState {
    return this.#volatile.initialState();
  }
  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    return this.#volatile.entries(lo, hi, maxBytes);
  }
  term(index: number): number {
    return this.#volatile.term(index);
  }
  /** One past the snapshot. */
  firstIndex(): number {
    return this.#volatile.firstIndex();
  }
  /** The last written index. */
  lastIndex(): number {
    return this.#volatile.lastIndex();
  }
  /** The written snapshot. */
  snapshot(): Snapshot {
    return this.#volatile.snapshot();
  }

  /** The durable hard state (what a crash now would leave). */
  durableHardState(): HardState {
    return this.#durable.hardState();
  }

  /** Writes into the volatile view; durable only after {@link sync}. */
  save(update: StorageUpdate): void {
    this.#volatile.saveSync(update);
    this.#unsynced.push(update);
    if (update.snapshot) this.observer?.onSnapshotWritten(this, update.snapshot);
    if (update.entries.length > 0) this.observer?.onEntriesWritten(this, update.entries);
  }

  /** Makes every write so far durable. */
  sync(): void {
    for (const u of this.#unsynced) this.#durable.saveSync(u);
    this.#unsynced = [];
  }

  /** Whether some write would be lost by a crash now. */
  hasUnsynced(): boolean {
    return this.#unsynced.length > 0;
  }

  /** Compaction by the application: modelled as durable at once (it covers synced entries only). */
  compact(snapshot: Snapshot): void {
    this.#durable.compactSync(snapshot);
    this.#volatile.compactSync(snapshot);
  }

  /**
   * Loses unsynced writes; with probability `tornProbability` the first one
   * survives torn: its snapshot and a strict prefix of its entries, no hard state.
   */
  crash(random: Prng, tornProbability: number): void {
    const first = this.#unsynced[0];
    this.#unsynced = [];
    if (first && random.nextFloat() < tornProbability) {
      const kept = first.entries.length > 0 ? random.nextInt(first.entries.length) : 0;
      this.#durable.saveSync({ snapshot: first.snapshot, entries: first.entries.slice(0, kept) });
    }
    this.#volatile = cloneStorage(this.#durable);
  }
}
