/**
 * The child process of the crash test in `file_storage_test.ts`: appends
 * entries to a {@link FileStorage} with fsync on, as fast as it can, and
 * prints each index once its `save()` has resolved. The parent SIGKILLs it at
 * an arbitrary moment and checks that every printed index survived.
 *
 * Usage: `deno run --allow-read --allow-write file_storage_crash_child.ts DIR`
 *
 * @module
 */

import { FileStorage } from "./file_storage.ts";

/** The data of entry `index`, long enough to span segments and vary in size. */
export function crashTestData(index: number): Uint8Array {
  return new TextEncoder().encode(`entry-${index}:`.padEnd(20 + (index * 37) % 300, "x"));
}

/** Stops the child even if the parent never kills it. */
const ENTRIES_MAX = 100_000;
/** Compact every this many entries, so that crashes also hit compaction. */
const COMPACT_EVERY_ENTRIES = 150;
/** How many entries a compaction leaves in the log. */
const COMPACT_KEEP_ENTRIES = 50;

if (import.meta.main) {
  const dir = Deno.args[0];
  const storage = await FileStorage.open(dir, {
    initialConfig: { voters: [1], learners: [] },
    sync: true,
    segmentBytesMax: 4096,
  });
  const out = Deno.stdout;
  for (let index = storage.lastIndex() + 1; index <= ENTRIES_MAX; index++) {
    await storage.save({
      entries: [{ index, term: 1, kind: "normal", data: crashTestData(index) }],
      hardState: { term: 1, vote: 1, commit: index },
    });
    await out.write(new TextEncoder().encode(`${index}\n`));
    if (index % COMPACT_EVERY_ENTRIES === 0) {
      const meta = {
        index: index - COMPACT_KEEP_ENTRIES,
        term: 1,
        config: { voters: [1], learners: [] },
      };
      await storage.compact({ meta, data: new TextEncoder().encode(`state@${meta.index}`) });
    }
  }
  await storage.close();
}
