/**
 * The contract every {@link DurableRaftStorage} passes, as a suite of Deno
 * tests that any implementation registers with its own factory. Memory and
 * file storage run the same suite (`storage_contract_test.ts`), so the core
 * can rely on one behaviour whichever it is given.
 *
 * @module
 */

import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import fc from "fast-check";
import { encodeConfigEntry } from "./config_change.ts";
import type { DurableRaftStorage } from "./storage.ts";
import { CompactedError, UnavailableError } from "./storage.ts";
import type { ClusterConfig, Entry, HardState, Snapshot } from "./types.ts";
import { EMPTY_HARD_STATE } from "./types.ts";

/** One storage under test, and how to reopen and dispose of it. */
export interface ContractSubject {
  /** The storage as created, empty. */
  readonly storage: DurableRaftStorage;
  /**
   * Closes the current storage and opens what it persisted. Omit for storages
   * that do not persist; the reopen tests are then skipped.
   */
  readonly reopen?: () => Promise<DurableRaftStorage>;
  /** Closes the current storage and removes whatever the factory created. */
  readonly dispose: () => Promise<void>;
}

/** Makes a fresh, empty storage whose initial membership is `config`. */
export type ContractFactory = (config: ClusterConfig) => Promise<ContractSubject>;

const CONFIG: ClusterConfig = { voters: [1, 2, 3], learners: [] };
const NO_LIMIT = Number.MAX_SAFE_INTEGER;

function entry(index: number, term: number, text = `e${index}t${term}`): Entry {
  return { index, term, kind: "normal", data: new TextEncoder().encode(text) };
}

/** Entries `from..to` inclusive, all in `term`. */
function entries(from: number, to: number, term: number): Entry[] {
  const result: Entry[] = [];
  for (let index = from; index <= to; index++) result.push(entry(index, term));
  return result;
}

function snapshotAt(index: number, term: number, config = CONFIG): Snapshot {
  return { meta: { index, term, config }, data: new TextEncoder().encode(`state@${index}`) };
}

/** Index and term of each stored entry, to compare logs without their data. */
function summary(storage: DurableRaftStorage): Array<[number, number]> {
  return storage.entries(storage.firstIndex(), storage.lastIndex() + 1, NO_LIMIT)
    .map((e) => [e.index, e.term]);
}

/**
 * Checks the invariants of `storage.ts` on `storage`:
 * `firstIndex() === snapshot().meta.index + 1`, `lastIndex() >= snapshot().meta.index`,
 * `term(snapshot index)` is the snapshot's term, and the stored entries are
 * dense with non-decreasing terms.
 */
export function assertStorageInvariants(storage: DurableRaftStorage): void {
  const { index: snapshotIndex, term: snapshotTerm } = storage.snapshot().meta;
  strictEqual(storage.firstIndex(), snapshotIndex + 1, "firstIndex is the snapshot index + 1");
  ok(storage.lastIndex() >= snapshotIndex, "lastIndex is at or after the snapshot");
  strictEqual(storage.term(snapshotIndex), snapshotTerm, "term(snapshot index) is its term");
  const stored = storage.entries(storage.firstIndex(), storage.lastIndex() + 1, NO_LIMIT);
  strictEqual(stored.length, storage.lastIndex() - snapshotIndex, "entries are all there");
  let previousTerm = snapshotTerm;
  stored.forEach((e, i) => {
    strictEqual(e.index, snapshotIndex + 1 + i, "entries are dense");
    ok(e.term >= previousTerm, `term of entry ${e.index} does not go back`);
    strictEqual(storage.term(e.index), e.term, "term() agrees with entries()");
    previousTerm = e.term;
  });
}

/** The suite's test cases: a name and a body run against a fresh subject. */
const CASES: Array<[string, (subject: ContractSubject) => Promise<void>]> = [
  ["a new storage is empty and has the initial membership", (subject) => {
    const storage = subject.storage;
    strictEqual(storage.firstIndex(), 1);
    strictEqual(storage.lastIndex(), 0);
    strictEqual(storage.term(0), 0);
    deepStrictEqual(storage.snapshot().meta, { index: 0, term: 0, config: CONFIG });
    deepStrictEqual(storage.initialState(), { hardState: EMPTY_HARD_STATE, config: CONFIG });
    deepStrictEqual(storage.entries(1, 1, NO_LIMIT), []);
    throws(() => storage.term(1), UnavailableError);
    assertStorageInvariants(storage);
    return Promise.resolve();
  }],

  ["save() appends entries that entries() and term() read back", async ({ storage }) => {
    await storage.save({ entries: entries(1, 3, 1) });
    await storage.save({ entries: entries(4, 5, 2) });
    strictEqual(storage.lastIndex(), 5);
    deepStrictEqual(storage.entries(1, 6, NO_LIMIT), [...entries(1, 3, 1), ...entries(4, 5, 2)]);
    deepStrictEqual(storage.entries(2, 4, NO_LIMIT), entries(2, 3, 1));
    strictEqual(storage.term(3), 1);
    strictEqual(storage.term(4), 2);
    assertStorageInvariants(storage);
  }],

  ["entries() returns at least one entry however small maxBytes is", async ({ storage }) => {
    await storage.save({ entries: entries(1, 5, 1) });
    deepStrictEqual(storage.entries(2, 6, 0), entries(2, 2, 1));
    const everything = storage.entries(1, 6, NO_LIMIT);
    strictEqual(everything.length, 5);
  }],

  ["entries() and term() refuse indexes outside the log", async ({ storage }) => {
    await storage.save({ entries: entries(1, 10, 1) });
    await storage.compact(snapshotAt(4, 1));
    throws(() => storage.entries(4, 6, NO_LIMIT), CompactedError);
    throws(() => storage.entries(5, 12, NO_LIMIT), UnavailableError);
    throws(() => storage.term(3), CompactedError);
    throws(() => storage.term(11), UnavailableError);
  }],

  ["save() truncates a conflicting suffix", async ({ storage }) => {
    await storage.save({ entries: entries(1, 5, 1) });
    await storage.save({ entries: entries(3, 4, 2) });
    strictEqual(storage.lastIndex(), 4);
    deepStrictEqual(summary(storage), [[1, 1], [2, 1], [3, 2], [4, 2]]);
    throws(() => storage.term(5), UnavailableError);
    await storage.save({ entries: entries(1, 1, 1) }); // a stale resend of a matching prefix
    deepStrictEqual(summary(storage).slice(0, 1), [[1, 1]]);
    assertStorageInvariants(storage);
  }],

  ["save() persists the hard state", async ({ storage }) => {
    const hardState: HardState = { term: 3, vote: 2, commit: 0 };
    await storage.save({ entries: [], hardState });
    deepStrictEqual(storage.initialState().hardState, hardState);
    await storage.save({ entries: entries(1, 2, 3), hardState: { term: 3, vote: 2, commit: 2 } });
    deepStrictEqual(storage.initialState().hardState, { term: 3, vote: 2, commit: 2 });
  }],

  ["a snapshot from the leader replaces the log it covers", async ({ storage }) => {
    await storage.save({ entries: entries(1, 3, 1) });
    const config = { voters: [1, 2], learners: [4] };
    const snapshot = snapshotAt(10, 2, config);
    await storage.save({ snapshot, entries: [], hardState: { term: 2, vote: 0, commit: 10 } });
    strictEqual(storage.firstIndex(), 11);
    strictEqual(storage.lastIndex(), 10);
    strictEqual(storage.term(10), 2);
    deepStrictEqual(storage.snapshot(), snapshot);
    deepStrictEqual(storage.initialState().config, config);
    throws(() => storage.term(3), CompactedError);
    await storage.save({ entries: entries(11, 12, 2) });
    deepStrictEqual(summary(storage), [[11, 2], [12, 2]]);
    assertStorageInvariants(storage);
  }],

  ["a snapshot, entries and hard state in one update are all applied", async ({ storage }) => {
    await storage.save({
      snapshot: snapshotAt(5, 1),
      entries: entries(6, 7, 2),
      hardState: { term: 2, vote: 1, commit: 7 },
    });
    strictEqual(storage.firstIndex(), 6);
    strictEqual(storage.lastIndex(), 7);
    deepStrictEqual(storage.initialState().hardState, { term: 2, vote: 1, commit: 7 });
    assertStorageInvariants(storage);
  }],

  ["compact() discards entries up to the snapshot and keeps the rest", async ({ storage }) => {
    await storage.save({ entries: [...entries(1, 6, 1), ...entries(7, 10, 2)] });
    const snapshot = snapshotAt(7, 2);
    await storage.compact(snapshot);
    strictEqual(storage.firstIndex(), 8);
    strictEqual(storage.lastIndex(), 10);
    strictEqual(storage.term(7), 2);
    deepStrictEqual(storage.snapshot(), snapshot);
    deepStrictEqual(storage.entries(8, 11, NO_LIMIT), entries(8, 10, 2));
    await storage.compact(snapshotAt(10, 2));
    strictEqual(storage.firstIndex(), 11);
    strictEqual(storage.lastIndex(), 10);
    assertStorageInvariants(storage);
  }],

  ["initialState() takes the membership from the last config entry", async ({ storage }) => {
    const config = { voters: [1, 2, 3], learners: [4] };
    const data = encodeConfigEntry({ change: { type: "addLearner", nodeId: 4 }, config });
    await storage.save({
      entries: [entry(1, 1), { index: 2, term: 1, kind: "config", data }, entry(3, 1)],
    });
    deepStrictEqual(storage.initialState().config, config);
    await storage.save({ entries: entries(2, 2, 2) }); // the config entry is truncated away
    deepStrictEqual(storage.initialState().config, CONFIG);
  }],

  ["reopening returns the same log, snapshot and hard state", async (subject) => {
    if (!subject.reopen) return;
    let storage = subject.storage;
    await storage.save({ entries: entries(1, 8, 1), hardState: { term: 1, vote: 1, commit: 5 } });
    await storage.save({ entries: entries(6, 9, 2), hardState: { term: 2, vote: 3, commit: 6 } });
    await storage.compact(snapshotAt(4, 1));
    const before = {
      entries: storage.entries(storage.firstIndex(), storage.lastIndex() + 1, NO_LIMIT),
      snapshot: storage.snapshot(),
      initialState: storage.initialState(),
    };
    storage = await subject.reopen();
    deepStrictEqual({
      entries: storage.entries(storage.firstIndex(), storage.lastIndex() + 1, NO_LIMIT),
      snapshot: storage.snapshot(),
      initialState: storage.initialState(),
    }, before);
    assertStorageInvariants(storage);
  }],

  ["random updates keep the invariants and match a simple model", async (subject) => {
    let storage = subject.storage;
    await fc.assert(
      fc.asyncProperty(
        fc.array(operationArbitrary(), { minLength: 1, maxLength: 25 }),
        async (ops) => {
          storage = await runAgainstModel(storage, subject.reopen, ops);
          // Reset for the next run: a snapshot past everything empties the log.
          const end = storage.lastIndex() + 1000;
          await storage.save({
            snapshot: snapshotAt(end, storage.term(storage.lastIndex()) + 1),
            entries: [],
          });
        },
      ),
      { numRuns: 25, seed: 20261121 },
    );
  }],
];

/** A random storage operation, with positions as fractions of the current log. */
type Operation =
  | {
    readonly kind: "append";
    readonly at: number;
    readonly count: number;
    readonly termStep: number;
  }
  | { readonly kind: "compact"; readonly at: number }
  | { readonly kind: "snapshot"; readonly ahead: number }
  | { readonly kind: "reopen" };

function operationArbitrary(): fc.Arbitrary<Operation> {
  return fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({
        kind: fc.constant("append" as const),
        at: fc.double({ min: 0, max: 1, noNaN: true }),
        count: fc.integer({ min: 1, max: 6 }),
        termStep: fc.integer({ min: 0, max: 2 }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant("compact" as const),
        at: fc.double({ min: 0, max: 1, noNaN: true }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("snapshot" as const),
        ahead: fc.integer({ min: 0, max: 5 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("reopen" as const) }) },
  );
}

/**
 * Applies `ops` to the subject's storage and to a model (a snapshot index and
 * term plus an array of terms), comparing the two after each step.
 */
async function runAgainstModel(
  initial: DurableRaftStorage,
  reopen: (() => Promise<DurableRaftStorage>) | undefined,
  ops: readonly Operation[],
): Promise<DurableRaftStorage> {
  let storage = initial;
  let modelSnapshot = { index: storage.snapshot().meta.index, term: storage.snapshot().meta.term };
  let modelTerms = summary(storage).map(([, term]) => term);
  const modelLast = () => modelSnapshot.index + modelTerms.length;
  const modelTerm = (index: number) =>
    index === modelSnapshot.index
      ? modelSnapshot.term
      : modelTerms[index - modelSnapshot.index - 1];
  for (const op of ops) {
    if (op.kind === "append") {
      // `at` may be exactly 1: clamp so that an append never leaves a gap.
      const from = modelSnapshot.index + 1 +
        Math.min(modelTerms.length, Math.floor(op.at * (modelTerms.length + 1)));
      const term = modelTerm(from - 1) + op.termStep;
      const added = entries(from, from + op.count - 1, Math.max(term, 1));
      await storage.save({ entries: added });
      modelTerms = [
        ...modelTerms.slice(0, from - modelSnapshot.index - 1),
        ...added.map((e) => e.term),
      ];
    } else if (op.kind === "compact") {
      const at = modelSnapshot.index + 1 + Math.floor(op.at * modelTerms.length);
      if (at > modelLast()) continue;
      const term = modelTerm(at);
      await storage.compact(snapshotAt(at, term));
      modelTerms = modelTerms.slice(at - modelSnapshot.index);
      modelSnapshot = { index: at, term };
    } else if (op.kind === "snapshot") {
      const index = modelLast() + 1 + op.ahead;
      const term = modelTerm(modelLast()) + 1;
      await storage.save({ snapshot: snapshotAt(index, term), entries: [] });
      modelSnapshot = { index, term };
      modelTerms = [];
    } else if (reopen) {
      storage = await reopen();
    }
    assertStorageInvariants(storage);
    deepStrictEqual(storage.snapshot().meta.index, modelSnapshot.index);
    deepStrictEqual(storage.term(modelSnapshot.index), modelSnapshot.term);
    deepStrictEqual(summary(storage).map(([, term]) => term), modelTerms);
  }
  return storage;
}

/**
 * Registers the storage contract as Deno tests named `"<name>: <case>"`, each
 * run against a fresh storage from `factory`.
 *
 * @example
 * ```ts ignore
 * import { runStorageContract } from "./storage_contract.ts";
 * import { MemoryStorage } from "./memory_storage.ts";
 *
 * runStorageContract("MemoryStorage", (config) => {
 *   const storage = new MemoryStorage({ initialConfig: config });
 *   return Promise.resolve({ storage, dispose: () => storage.close() });
 * });
 * ```
 */
export function runStorageContract(name: string, factory: ContractFactory): void {
  for (const [caseName, body] of CASES) {
    Deno.test(`${name}: ${caseName}`, async () => {
      const subject = await factory(CONFIG);
      try {
        await body(subject);
      } finally {
        await subject.dispose();
      }
    });
  }
}
