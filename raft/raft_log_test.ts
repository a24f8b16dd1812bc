import { deepStrictEqual, equal, throws } from "node:assert/strict";
import { MemoryStorage } from "./memory_storage.ts";
import { RaftLog } from "./raft_log.ts";
import { RaftInvariantError } from "./errors.ts";
import { CompactedError } from "./storage.ts";
import type { Entry } from "./types.ts";

const ent = (index: number, term: number): Entry => ({
  index,
  term,
  kind: "normal",
  data: new Uint8Array([index]),
});
const terms = (es: readonly Entry[]) => es.map((e) => e.term);

function logWith(stable: [number, number][], unstable: [number, number][] = []): RaftLog {
  const storage = new MemoryStorage({ entries: stable.map(([i, t]) => ent(i, t)) });
  const log = new RaftLog(storage, 0);
  log.append(unstable.map(([i, t]) => ent(i, t)));
  return log;
}

Deno.test("the log reads across stable and unstable entries", () => {
  const log = logWith([[1, 1], [2, 1]], [[3, 2], [4, 2]]);
  equal(log.lastIndex(), 4);
  deepStrictEqual(terms(log.slice(1, 5, 100)), [1, 1, 2, 2]);
  deepStrictEqual(terms(log.slice(2, 5, 1)), [1], "byte limit, but at least one entry");
  equal(log.stableLastIndex(), 2);
});

Deno.test("append() truncates a conflicting suffix, shadowing stored entries", () => {
  const log = logWith([[1, 1], [2, 1], [3, 1]]);
  equal(log.append([ent(2, 2)]), 2);
  deepStrictEqual(terms(log.slice(1, 3, 100)), [1, 2]);
  equal(log.lastIndex(), 2);
  equal(log.stableLastIndex(), 1);
  throws(() => log.append([ent(5, 2)]), RaftInvariantError);
});

Deno.test("committed entries are never overwritten", () => {
  const log = logWith([[1, 1], [2, 1]]);
  log.commitTo(2);
  throws(() => log.append([ent(2, 3)]), RaftInvariantError);
  throws(() => log.commitTo(9), RaftInvariantError);
});

Deno.test("findConflictByTerm() skips back over a whole term", () => {
  const log = logWith([[1, 1], [2, 1], [3, 3], [4, 3], [5, 3]]);
  deepStrictEqual(log.findConflictByTerm(5, 2), { index: 2, term: 1 });
  deepStrictEqual(log.findConflictByTerm(5, 3), { index: 5, term: 3 });
  deepStrictEqual(log.findConflictByTerm(9, 3), { index: 5, term: 3 });
});

Deno.test("stableTo() ignores acknowledgements of entries replaced meanwhile", () => {
  const log = logWith([], [[1, 1], [2, 1]]);
  log.append([ent(2, 2)]);
  log.stableTo(2, 1);
  equal(log.unstableEntries().length, 2);
  log.stableTo(2, 2);
  equal(log.unstableEntries().length, 0);
});

Deno.test("restore() replaces the log with a snapshot until it is persisted", () => {
  const log = logWith([[1, 1], [2, 1]]);
  log.restore({
    meta: { index: 10, term: 4, config: { voters: [1], learners: [] } },
    data: new Uint8Array(),
  });
  equal(log.firstIndex(), 11);
  equal(log.lastIndex(), 10);
  equal(log.term(10), 4);
  equal(log.committed, 10);
  throws(() => log.term(5), CompactedError);
  deepStrictEqual(log.nextCommittedEntries(100), [], "nothing to apply before the snapshot");
  equal(log.stableLastIndex(), 0);
});
