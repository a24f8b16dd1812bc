/**
 * The range assignor (Kafka's `range`): for each topic, its subscribers in
 * order of instance id (or member id when they have none) get contiguous
 * ranges of partitions, the first `count % subscribers` one more than the
 * rest. Deterministic rather than sticky: ordering by instance id keeps a
 * restarted static member's ranges.
 *
 * @module
 */

import type { AssignmentInput, AssignmentOutput } from "./assignor.ts";
import { fromSets } from "./assignment.ts";

/** Computes a range assignment. */
export function rangeAssign(input: AssignmentInput): AssignmentOutput {
  const sets = new Map(input.members.map((m) => [m.memberId, new Map<string, Set<number>>()]));
  const sortKey = (m: { memberId: string; instanceId: string | null }) =>
    m.instanceId === null ? `1${m.memberId}` : `0${m.instanceId}`;
  for (const [topic, count] of input.topics) {
    const subscribers = input.members
      .filter((m) => m.topics.includes(topic))
      .sort((a, b) => sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0);
    if (subscribers.length === 0) continue;
    const base = Math.floor(count / subscribers.length);
    const extra = count % subscribers.length;
    let next = 0;
    subscribers.forEach((m, i) => {
      const n = base + (i < extra ? 1 : 0);
      const ps = new Set<number>();
      for (let k = 0; k < n; k++) ps.add(next++);
      sets.get(m.memberId)!.set(topic, ps);
    });
  }
  return new Map([...sets].map(([id, s]) => [id, fromSets(s)]));
}
