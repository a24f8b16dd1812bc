/**
 * Incremental reconciliation (Kafka's CurrentAssignmentBuilder): one step of
 * a member from its current assignment toward its target.
 *
 * Invariants this keeps, given that no two members' `assigned ∪
 * pendingRevocation` overlap before the step:
 * - a partition is added to `assigned` only if no other member holds it in
 *   `assigned ∪ pendingRevocation` — so it never has two owners;
 * - a partition leaves `pendingRevocation` only when the member reports
 *   owned partitions that do not include it (or, at a join, owns nothing);
 * - while partitions are pending revocation the member epoch does not move,
 *   so the member can still commit offsets for them; once revoked, the epoch
 *   becomes the target epoch, which is then strictly larger (a revocation is
 *   only ever asked for a newer target) — so commits sent before the
 *   revocation are rejected as stale once it is acknowledged.
 *
 * @module
 */

import type { Assignment } from "./assignment.ts";
import {
  assignmentEquals,
  difference,
  EMPTY_ASSIGNMENT,
  fromSets,
  intersection,
  intersects,
  partitionCount,
  union,
} from "./assignment.ts";
import type { CurrentAssignment } from "./group_state.ts";

/** What one reconciliation step decides from. */
export interface ReconcileInput {
  readonly current: CurrentAssignment;
  readonly targetEpoch: number;
  readonly target: Assignment;
  /** What the member reports owning; null when the heartbeat did not say. */
  readonly owned: Assignment | null;
  /** Whether another member holds the partition (assigned or pending revocation). */
  readonly heldByOther: (topic: string, partition: number) => boolean;
}

/** The member's next current assignment (the same object when nothing changes). */
export function reconcile(input: ReconcileInput): CurrentAssignment {
  const c = input.current;
  switch (c.state) {
    case "unrevoked_partitions":
      if (input.owned === null || intersects(input.owned, c.pendingRevocation)) return c;
      return computeNext(input, c.assigned);
    case "stable":
      if (c.memberEpoch === input.targetEpoch) return c;
      return computeNext(input, c.assigned);
    case "unreleased_partitions":
      return computeNext(input, c.assigned);
  }
}

function computeNext(input: ReconcileInput, assigned: Assignment): CurrentAssignment {
  const c = input.current;
  const keep = intersection(assigned, input.target);
  const revoke = difference(assigned, input.target);
  if (partitionCount(revoke) > 0 && (input.owned === null || intersects(input.owned, revoke))) {
    return {
      memberEpoch: c.memberEpoch,
      previousMemberEpoch: c.previousMemberEpoch,
      state: "unrevoked_partitions",
      assigned: keep,
      pendingRevocation: revoke,
    };
  }
  const pending = difference(input.target, assigned);
  const free = new Map<string, Set<number>>();
  let unreleased = false;
  for (const [topic, ps] of pending) {
    for (const p of ps) {
      if (input.heldByOther(topic, p)) {
        unreleased = true;
      } else {
        let set = free.get(topic);
        if (!set) free.set(topic, set = new Set());
        set.add(p);
      }
    }
  }
  const epochMoves = c.memberEpoch !== input.targetEpoch;
  const next: CurrentAssignment = {
    memberEpoch: input.targetEpoch,
    previousMemberEpoch: epochMoves ? c.memberEpoch : c.previousMemberEpoch,
    state: unreleased ? "unreleased_partitions" : "stable",
    assigned: union(keep, fromSets(free)),
    pendingRevocation: EMPTY_ASSIGNMENT,
  };
  return sameCurrentAssignment(next, c) ? c : next;
}

/** Whether two current assignments are equal. */
export function sameCurrentAssignment(a: CurrentAssignment, b: CurrentAssignment): boolean {
  return a.memberEpoch === b.memberEpoch &&
    a.previousMemberEpoch === b.previousMemberEpoch &&
    a.state === b.state &&
    assignmentEquals(a.assigned, b.assigned) &&
    assignmentEquals(a.pendingRevocation, b.pendingRevocation);
}
