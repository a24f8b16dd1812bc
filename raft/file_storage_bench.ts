/**
 * `deno bench --allow-all raft/file_storage_bench.ts`: the cost of one
 * `save()` of the file storage, with and without fsync, for a single entry
 * (alone, and with its hard state, which costs an atomic file replacement)
 * and for a batch of 64 entries with hard state (a loaded leader's Ready).
 *
 * @module
 */

import { FileStorage } from "./file_storage.ts";
import type { Entry } from "./types.ts";

const DATA = new Uint8Array(256).fill(1);

/** A storage in a fresh temporary directory and a function that appends to it. */
async function appender(sync: boolean, entriesPerSave: number, withHardState: boolean) {
  const dir = await Deno.makeTempDir({ prefix: "strom_raft_bench_" });
  const storage = await FileStorage.open(dir, {
    initialConfig: { voters: [1], learners: [] },
    sync,
  });
  addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
  let next = 1;
  // An async function: Deno.bench awaits only functions declared async.
  return async () => {
    const entries: Entry[] = [];
    for (let i = 0; i < entriesPerSave; i++) {
      entries.push({ index: next++, term: 1, kind: "normal", data: DATA });
    }
    const hardState = { term: 1, vote: 1, commit: next - 1 };
    await storage.save(withHardState ? { entries, hardState } : { entries });
  };
}

for (const sync of [true, false]) {
  const group = sync ? "fsync" : "no fsync";
  const one = await appender(sync, 1, false);
  const oneWithHardState = await appender(sync, 1, true);
  const batch = await appender(sync, 64, true);
  Deno.bench(`save 1 entry of 256 B (${group})`, { group }, one);
  Deno.bench(`save 1 entry + hard state (${group})`, { group }, oneWithHardState);
  Deno.bench(`save 64 entries + hard state (${group})`, { group }, batch);
}
