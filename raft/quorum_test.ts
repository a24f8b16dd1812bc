import { deepStrictEqual, equal } from "node:assert/strict";
import fc from "fast-check";
import { committedIndex, hasQuorum, voteOutcome } from "./quorum.ts";

/** The obviously-correct definition: the largest i that more than half of the voters have reached. */
function committedIndexSlow(matches: readonly number[]): number {
  let best = 0;
  for (const candidate of matches) {
    const reached = matches.filter((m) => m >= candidate).length;
    if (reached > matches.length / 2 && candidate > best) best = candidate;
  }
  return best;
}

Deno.test("committedIndex() equals the slow majority definition for any match indexes", () => {
  fc.assert(
    fc.property(fc.array(fc.nat({ max: 50 }), { minLength: 1, maxLength: 9 }), (matches) => {
      const voters = matches.map((_, i) => i + 1);
      equal(committedIndex(voters, (id) => matches[id - 1]), committedIndexSlow(matches));
    }),
    { numRuns: 2000 },
  );
});

Deno.test("committedIndex() of no voters is 0", () => {
  equal(committedIndex([], () => 5), 0);
});

Deno.test("voteOutcome() wins with a majority, loses when a majority refused, else waits", () => {
  const v = (entries: [number, boolean][]) => voteOutcome([1, 2, 3, 4, 5], new Map(entries));
  equal(v([[1, true], [2, true], [3, true]]), "won");
  equal(v([[1, true], [2, false], [3, false], [4, false]]), "lost");
  equal(v([[1, true], [2, false], [3, false]]), "pending");
  equal(voteOutcome([1, 2, 3], new Map([[1, true], [9, true]])), "pending");
});

Deno.test("voteOutcome() agrees with counting for any set of votes", () => {
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom(true, false, undefined), { minLength: 1, maxLength: 7 }),
      (vs) => {
        const voters = vs.map((_, i) => i + 1);
        const votes = new Map<number, boolean>();
        vs.forEach((v, i) => v !== undefined && votes.set(i + 1, v));
        const yes = vs.filter((v) => v === true).length;
        const no = vs.filter((v) => v === false).length;
        const expected = yes > vs.length / 2 ? "won" : no >= vs.length / 2 ? "lost" : "pending";
        deepStrictEqual(voteOutcome(voters, votes), expected);
      },
    ),
  );
});

Deno.test("hasQuorum() needs strictly more than half", () => {
  equal(hasQuorum([1, 2, 3, 4], (id) => id <= 2), false);
  equal(hasQuorum([1, 2, 3, 4], (id) => id <= 3), true);
  equal(hasQuorum([], () => true), false);
});
