/**
 * Majority arithmetic over the voters of a membership: the commit index a
 * majority has reached, the outcome of an election, and whether a majority
 * is active. Learners never count.
 *
 * @module
 */

import type { NodeId } from "./types.ts";

/**
 * The largest index that a majority of `voters` has matched: sort the match
 * indexes descending; the one at position ⌊n/2⌋ is held by n/2+1 voters.
 * Returns 0 when there are no voters.
 *
 * @example
 * ```ts
 * import { committedIndex } from "@strom/raft";
 * const match = new Map([[1, 9], [2, 5], [3, 7]]);
 * if (committedIndex([1, 2, 3], (id) => match.get(id) ?? 0) !== 7) throw new Error("wrong");
 * ```
 */
export function committedIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  const n = voters.length;
  if (n === 0) return 0;
  const matches = new Array<number>(n);
  for (let i = 0; i < n; i++) matches[i] = matchOf(voters[i]);
  matches.sort((a, b) => b - a);
  return matches[n >> 1];
}

/** Where an election stands. */
export type VoteOutcome = "won" | "lost" | "pending";

/**
 * Tallies `votes` (granted or refused, by voter) among `voters`; votes of non-voters are ignored.
 *
 * @example
 * ```ts
 * import { voteOutcome } from "@strom/raft";
 * const votes = new Map([[1, true], [2, true]]);
 * if (voteOutcome([1, 2, 3], votes) !== "won") throw new Error("two of three is a majority");
 * ```
 */
export function voteOutcome(
  voters: readonly NodeId[],
  votes: ReadonlyMap<NodeId, boolean>,
): VoteOutcome {
  const quorum = (voters.length >> 1) + 1;
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === undefined) missing++;
    else if (v) granted++;
  }
  if (granted >= quorum) return "won";
  if (granted + missing < quorum) return "lost";
  return "pending";
}

/**
 * Whether a majority of `voters` satisfies `isActive`.
 *
 * @example
 * ```ts
 * import { hasQuorum } from "@strom/raft";
 * if (!hasQuorum([1, 2, 3], (id) => id !== 3)) throw new Error("two of three is a majority");
 * ```
 */
export function hasQuorum(voters: readonly NodeId[], isActive: (id: NodeId) => boolean): boolean {
  let active = 0;
  for (const id of voters) if (isActive(id)) active++;
  return voters.length > 0 && active > voters.length / 2;
}
