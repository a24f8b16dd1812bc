/**
 * The file storage on a simulated disk that loses everything not fsynced
 * when power goes, at random moments, including in the middle of a `save()`
 * or `compact()`: whatever was acknowledged must survive, and the recovered
 * storage must keep the invariants of `storage.ts`.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { PowerLossError, SimDisk } from "./_disk_sim.ts";
import { FileStorage } from "./file_storage.ts";
import { createPrng } from "./prng.ts";
import type { Prng } from "./prng.ts";
import type { StorageUpdate } from "./storage.ts";
import { assertStorageInvariants } from "./storage_contract.ts";
import type { Entry, HardState, Snapshot } from "./types.ts";

const SEEDS = 150;
const STEPS_PER_SEED = 40;
const DIR = "/sim/raft";
const CONFIG = { voters: [1, 2, 3], learners: [] };

/** What the storage has acknowledged: the state every later recovery must include. */
interface Model {
  snapshotIndex: number;
  snapshotTerm: number;
  /** Terms of the entries after the snapshot. */
  terms: number[];
  hardState: HardState;
}

function modelOf(storage: FileStorage): Model {
  const { index, term } = storage.snapshot().meta;
  const entries = storage.entries(storage.firstIndex(), storage.lastIndex() + 1, Infinity);
  return {
    snapshotIndex: index,
    snapshotTerm: term,
    terms: entries.map((e) => e.term),
    hardState: storage.initialState().hardState,
  };
}

const lastIndexOf = (m: Model) => m.snapshotIndex + m.terms.length;
const termOf = (m: Model, index: number) =>
  index === m.snapshotIndex ? m.snapshotTerm : m.terms[index - m.snapshotIndex - 1];

function entry(index: number, term: number): Entry {
  return { index, term, kind: "normal", data: new TextEncoder().encode(`i${index}t${term}`) };
}

function snapshot(index: number, term: number): Snapshot {
  return { meta: { index, term, config: CONFIG }, data: new TextEncoder().encode(`s${index}`) };
}

/** One random operation valid for the state `m`. */
type Operation =
  | { readonly kind: "save"; readonly update: StorageUpdate }
  | { readonly kind: "compact"; readonly snapshot: Snapshot };

function randomOperation(random: Prng, m: Model): Operation {
  const last = lastIndexOf(m);
  const roll = random.nextInt(10);
  if (roll < 6) {
    // Append, often overwriting a suffix, sometimes with a new hard state.
    const from = m.snapshotIndex + 1 + random.nextInt(m.terms.length + 1);
    const term = Math.max(1, termOf(m, from - 1) + random.nextInt(2));
    const count = 1 + random.nextInt(8);
    const entries = Array.from({ length: count }, (_, i) => entry(from + i, term));
    const hardState = random.nextInt(2) === 0 ? undefined : {
      term: Math.max(m.hardState.term, term),
      vote: 1 + random.nextInt(3),
      commit: m.hardState.commit + random.nextInt(3),
    };
    return { kind: "save", update: { entries, ...(hardState ? { hardState } : {}) } };
  }
  if (roll < 8 && last > m.snapshotIndex) {
    const index = m.snapshotIndex + 1 + random.nextInt(last - m.snapshotIndex);
    return { kind: "compact", snapshot: snapshot(index, termOf(m, index)) };
  }
  // A leader's snapshot: past the log, or matching it in the middle.
  const index = random.nextInt(2) === 0 || last === m.snapshotIndex
    ? last + 1 + random.nextInt(5)
    : m.snapshotIndex + 1 + random.nextInt(last - m.snapshotIndex);
  const term = index <= last ? termOf(m, index) : termOf(m, last) + 1;
  return { kind: "save", update: { snapshot: snapshot(index, term), entries: [] } };
}

function apply(storage: FileStorage, op: Operation): Promise<void> {
  return op.kind === "save" ? storage.save(op.update) : storage.compact(op.snapshot);
}

/** Checks a recovered storage against what was acknowledged and the operation cut short. */
function checkRecovered(storage: FileStorage, acked: Model, cut: Operation | undefined): void {
  assertStorageInvariants(storage);
  const recovered = modelOf(storage);
  const cutUpdate = cut?.kind === "save" ? cut.update : undefined;
  // Hard state: the acknowledged one, or the one being written.
  const hardStates = [acked.hardState, cutUpdate?.hardState].filter((hs) => hs !== undefined);
  ok(
    hardStates.some((hs) => JSON.stringify(hs) === JSON.stringify(recovered.hardState)),
    `hard state ${JSON.stringify(recovered.hardState)} is neither of ${JSON.stringify(hardStates)}`,
  );
  // Snapshot: never older than acknowledged.
  ok(recovered.snapshotIndex >= acked.snapshotIndex, "an acknowledged snapshot was lost");
  const cutSnapshot = cut?.kind === "compact" ? cut.snapshot : cutUpdate?.snapshot;
  if (recovered.snapshotIndex > acked.snapshotIndex) {
    strictEqual(recovered.snapshotIndex, cutSnapshot?.meta.index, "only the cut one is newer");
    // A leader's snapshot may legitimately have replaced the whole log.
    if (cutUpdate?.snapshot) return;
  }
  // Entries: every acknowledged entry after the recovered snapshot is there,
  // except those the cut-short append was overwriting.
  const overwrittenFrom = cutUpdate?.entries[0]?.index ?? Infinity;
  const end = Math.min(lastIndexOf(acked), overwrittenFrom - 1);
  for (let index = recovered.snapshotIndex + 1; index <= end; index++) {
    strictEqual(termOf(recovered, index), termOf(acked, index), `entry ${index} survived`);
  }
  // And the log is one that existed or was being written, never a mix of the two:
  // a prefix of the acknowledged log, or of the log the cut-short append makes.
  const intended = cutUpdate && cutUpdate.entries.length > 0
    ? (index: number) =>
      index < overwrittenFrom
        ? termOf(acked, index)
        : cutUpdate.entries[index - overwrittenFrom]?.term
    : (index: number) => termOf(acked, index);
  const matches = (expected: (index: number) => number | undefined) => {
    for (let index = recovered.snapshotIndex + 1; index <= lastIndexOf(recovered); index++) {
      if (termOf(recovered, index) !== expected(index)) return false;
    }
    return true;
  };
  ok(
    matches((index) => termOf(acked, index)) || matches(intended),
    `recovered log ${recovered.terms} (after ${recovered.snapshotIndex}) mixes the acknowledged ` +
      `${acked.terms} (after ${acked.snapshotIndex}) with the cut-short write`,
  );
}

async function runSeed(seed: number): Promise<void> {
  const random = createPrng(seed);
  let disk = new SimDisk(() => random.nextFloat());
  const open = () =>
    FileStorage.open(DIR, {
      initialConfig: CONFIG,
      sync: true,
      segmentBytesMax: 200,
      disk,
      onRecoveryIssue: () => {},
    });
  let storage = await open();
  let acked = modelOf(storage);
  for (let step = 0; step < STEPS_PER_SEED; step++) {
    const op = randomOperation(random, acked);
    const powerLoss = random.nextInt(5) === 0;
    if (powerLoss) disk.failAfter(random.nextInt(12));
    let cut: Operation | undefined;
    try {
      await apply(storage, op);
      acked = modelOf(storage);
    } catch (error) {
      if (!(error instanceof PowerLossError)) throw error;
      cut = op;
    }
    if (powerLoss) {
      await storage.close();
      disk = disk.afterPowerLoss();
      storage = await open();
      checkRecovered(storage, acked, cut);
      acked = modelOf(storage);
    }
  }
  await storage.close();
}

Deno.test("acknowledged writes survive power losses at random moments", async () => {
  for (let seed = 1; seed <= SEEDS; seed++) {
    try {
      await runSeed(seed);
    } catch (error) {
      throw new Error(`seed ${seed} failed: ${(error as Error).message}`, { cause: error });
    }
  }
});

Deno.test("the simulated disk keeps only synced data and synced directory changes", async () => {
  const disk = new SimDisk(() => 0.99);
  const file = await disk.openAppend("/d/a", { create: true, truncate: false });
  await file.write(new Uint8Array([1, 2]));
  await file.syncData();
  await file.write(new Uint8Array([3]));
  file.close();
  await disk.syncDir("/d");
  const other = await disk.openAppend("/d/b", { create: true, truncate: false });
  await other.write(new Uint8Array([9]));
  await other.syncData();
  other.close();
  const after = disk.afterPowerLoss();
  // "a" keeps its synced bytes (plus a possibly torn unsynced tail); "b" was never in a synced directory.
  const a = await after.readFile("/d/a");
  ok(a !== undefined && a[0] === 1 && a[1] === 2 && a.length <= 3);
  strictEqual(await after.readFile("/d/b"), undefined);
  deepStrictEqual(await after.list("/d"), ["a"]);
});
