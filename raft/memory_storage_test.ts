import { deepStrictEqual, equal, rejects, throws } from "node:assert/strict";
import { encodeConfigEntry } from "./config_change.ts";
import { MemoryStorage } from "./memory_storage.ts";
import { CompactedError, UnavailableError } from "./storage.ts";
import type { Entry } from "./types.ts";

const ent = (
  index: number,
  term: number,
  kind: Entry["kind"] = "normal",
  data: Uint8Array = new Uint8Array(4),
): Entry => ({
  index,
  term,
  kind,
  data,
});

Deno.test("MemoryStorage stores, truncates conflicting suffixes and bounds reads by bytes", async () => {
  const s = new MemoryStorage();
  await s.save({
    entries: [ent(1, 1), ent(2, 1), ent(3, 1)],
    hardState: { term: 1, vote: 1, commit: 1 },
  });
  await s.save({ entries: [ent(2, 2)] });
  equal(s.lastIndex(), 2);
  equal(s.term(2), 2);
  equal(s.entries(1, 3, 4).length, 1);
  equal(s.entries(1, 3, 8).length, 2);
  deepStrictEqual(s.initialState().hardState, { term: 1, vote: 1, commit: 1 });
  throws(() => s.term(3), UnavailableError);
  await rejects(s.save({ entries: [ent(9, 2)] }));
});

Deno.test("MemoryStorage compacts up to a snapshot and reports the latest membership", async () => {
  const config = { voters: [1, 2], learners: [3] };
  const s = new MemoryStorage({ config: { voters: [1], learners: [] } });
  const change = encodeConfigEntry({ change: { type: "addLearner", nodeId: 3 }, config });
  await s.save({ entries: [ent(1, 1), ent(2, 1, "config", change), ent(3, 2)] });
  deepStrictEqual(s.initialState().config, config);
  await s.compact({ meta: { index: 2, term: 1, config }, data: new Uint8Array([1]) });
  equal(s.firstIndex(), 3);
  equal(s.term(2), 1);
  throws(() => s.entries(2, 3, 100), CompactedError);
  deepStrictEqual(s.initialState().config, config, "from the snapshot once the entry is compacted");
  await s.save({
    snapshot: { meta: { index: 10, term: 3, config }, data: new Uint8Array() },
    entries: [],
  });
  equal(s.firstIndex(), 11);
  equal(s.lastIndex(), 10);
  await s.close();
  await rejects(s.save({ entries: [] }));
});
