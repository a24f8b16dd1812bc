/**
 * The uniform assignor (Kafka's `uniform`): balanced and sticky.
 *
 * 1. Every member keeps the partitions of its previous target that still
 *    exist and that it still subscribes to.
 * 2. Partitions nobody kept go, one at a time in name order, to the eligible
 *    member with the fewest partitions.
 * 3. While some member has at least two more partitions than another member
 *    eligible for one of them, one such partition moves from the most loaded
 *    to the least loaded.
 *
 * When all members subscribe to the same topics, the result is balanced
 * within one, and step 3 moves only the partitions balance requires (each
 * move takes one from a member above the final quota to one below it): a
 * fourth member joining three that own two of six partitions each takes
 * exactly one. With differing subscriptions each move still reduces the
 * imbalance, so the loop ends, but the result may be less even than an
 * optimal one. Cost: O(partitions × eligible members) plus O(members²) per
 * move.
 *
 * @module
 */

import type { AssignmentInput, AssignmentOutput } from "./assignor.ts";
import { fromSets } from "./assignment.ts";

interface Slot {
  readonly topic: string;
  readonly partition: number;
}

/** Computes a balanced, sticky target assignment. */
export function uniformAssign(input: AssignmentInput): AssignmentOutput {
  const members = [...input.members].sort((a, b) => cmp(a.memberId, b.memberId));
  const eligible = new Map(members.map((m) => [m.memberId, new Set(m.topics)]));
  const owned = new Map(members.map((m) => [m.memberId, new Map<string, Slot>()]));
  const ownerOf = new Map<string, string>();
  const give = (memberId: string, slot: Slot) => {
    const key = `${slot.topic}\u0000${slot.partition}`;
    owned.get(memberId)!.set(key, slot);
    ownerOf.set(key, memberId);
  };

  // 1. Stickiness.
  for (const m of members) {
    for (const [topic, ps] of input.previous.get(m.memberId) ?? []) {
      const count = input.topics.get(topic);
      if (count === undefined || !eligible.get(m.memberId)!.has(topic)) continue;
      for (const partition of ps) {
        if (partition < count && !ownerOf.has(`${topic}\u0000${partition}`)) {
          give(m.memberId, { topic, partition });
        }
      }
    }
  }

  // 2. Unowned partitions to the least loaded eligible member.
  for (const topic of [...input.topics.keys()].sort()) {
    const candidates = members.filter((m) => eligible.get(m.memberId)!.has(topic));
    if (candidates.length === 0) continue;
    for (let partition = 0; partition < input.topics.get(topic)!; partition++) {
      if (ownerOf.has(`${topic}\u0000${partition}`)) continue;
      let best = candidates[0];
      for (const c of candidates) {
        if (owned.get(c.memberId)!.size < owned.get(best.memberId)!.size) best = c;
      }
      give(best.memberId, { topic, partition });
    }
  }

  // 3. Balance: each move lowers the sum of squared loads, so this ends.
  const moveOne = (): boolean => {
    const byLoad = [...members].sort((a, b) =>
      owned.get(b.memberId)!.size - owned.get(a.memberId)!.size || cmp(a.memberId, b.memberId)
    );
    for (const from of byLoad) {
      const fromOwned = owned.get(from.memberId)!;
      for (const to of [...byLoad].reverse()) {
        if (owned.get(to.memberId)!.size > fromOwned.size - 2) break;
        const keys = [...fromOwned.keys()].sort().reverse();
        const key = keys.find((k) => eligible.get(to.memberId)!.has(fromOwned.get(k)!.topic));
        if (key === undefined) continue;
        const slot = fromOwned.get(key)!;
        fromOwned.delete(key);
        give(to.memberId, slot);
        return true;
      }
    }
    return false;
  };
  while (moveOne()) { /* until balanced */ }

  const out: AssignmentOutput = new Map();
  for (const m of members) {
    const sets = new Map<string, Set<number>>();
    for (const { topic, partition } of owned.get(m.memberId)!.values()) {
      let set = sets.get(topic);
      if (!set) sets.set(topic, set = new Set());
      set.add(partition);
    }
    out.set(m.memberId, fromSets(sets));
  }
  return out;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
