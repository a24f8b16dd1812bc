/**
 * The coordinator's replicated state: every group of one `__consumer_offsets`
 * partition, rebuilt by replaying that partition's records in order.
 *
 * Replay is the only way this state changes, and it makes no decisions: the
 * same records give the same state on the leader that wrote them, on a new
 * leader that reloads the partition, and after log compaction (which keeps
 * the latest record per key). For that last point, replay tolerates records
 * of one group in any order of their keys: a member's assignment may come
 * before its metadata, and any non-tombstone record of an unknown group
 * creates the group with defaults.
 *
 * Invariants (kept by the operations, checked by the simulation):
 * - `epoch >= assignmentEpoch`; the target assignment was computed for
 *   `assignmentEpoch`;
 * - every member has metadata; a target or current assignment without
 *   metadata exists only transiently within a replayed batch;
 * - no partition is in two members' `assigned ∪ pendingRevocation`.
 *
 * @module
 */

import type { Assignment } from "./assignment.ts";
import {
  assignmentFromList,
  assignmentToList,
  EMPTY_ASSIGNMENT,
  partitionKey,
} from "./assignment.ts";
import type { GroupRecord, MemberMetadata, MemberState } from "./records.ts";

/** A member's identity and subscription (from its MemberMetadata record). */
export type { MemberMetadata } from "./records.ts";

/** What a member owns and must give up (from its CurrentAssignment record). */
export interface CurrentAssignment {
  readonly memberEpoch: number;
  readonly previousMemberEpoch: number;
  readonly state: MemberState;
  readonly assigned: Assignment;
  readonly pendingRevocation: Assignment;
}

/** A member that has metadata but no assignment yet. */
export const NO_CURRENT_ASSIGNMENT: CurrentAssignment = {
  memberEpoch: 0,
  previousMemberEpoch: -1,
  state: "stable",
  assigned: EMPTY_ASSIGNMENT,
  pendingRevocation: EMPTY_ASSIGNMENT,
};

/** One committed offset. */
export interface CommittedOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly leaderEpoch: number | null;
  readonly metadata: string;
  readonly commitTimestampMs: number;
}

/** One group. Mutated only by {@link replayGroupRecord}. */
export interface GroupState {
  readonly groupId: string;
  /** Bumped whenever membership, subscriptions or subscribed topics change. */
  epoch: number;
  /** When the group last became empty; null while it has members. */
  emptySinceMs: number | null;
  /** Topic → partition count of every subscribed topic, as the target assignment saw them. */
  subscription: Map<string, number>;
  /** The group epoch the target assignment was computed for (≤ epoch). */
  assignmentEpoch: number;
  readonly members: Map<string, MemberMetadata>;
  readonly targets: Map<string, Assignment>;
  readonly current: Map<string, CurrentAssignment>;
  /** By {@link partitionKey}. */
  readonly offsets: Map<string, CommittedOffset>;
}

/** A new, empty group. */
export function newGroup(groupId: string): GroupState {
  return {
    groupId,
    epoch: 0,
    emptySinceMs: null,
    subscription: new Map(),
    assignmentEpoch: 0,
    members: new Map(),
    targets: new Map(),
    current: new Map(),
    offsets: new Map(),
  };
}

/** A copy an operation may replay its own records into without touching the original. */
export function cloneGroup(g: GroupState): GroupState {
  return {
    ...g,
    subscription: new Map(g.subscription),
    members: new Map(g.members),
    targets: new Map(g.targets),
    current: new Map(g.current),
    offsets: new Map(g.offsets),
  };
}

/** A member's current assignment (the empty one if it has none yet). */
export function currentOf(g: GroupState, memberId: string): CurrentAssignment {
  return g.current.get(memberId) ?? NO_CURRENT_ASSIGNMENT;
}

/** A member's target assignment (empty if it has none). */
export function targetOf(g: GroupState, memberId: string): Assignment {
  return g.targets.get(memberId) ?? EMPTY_ASSIGNMENT;
}

/** Applies one record to a map of groups. */
export function replayGroupRecord(groups: Map<string, GroupState>, r: GroupRecord): void {
  if (r.type === "Tombstone") {
    const g = groups.get(r.key.groupId);
    if (!g) return;
    const k = r.key;
    switch (k.kind) {
      case "GroupMetadata":
        groups.delete(k.groupId);
        return;
      case "GroupSubscription":
        g.subscription = new Map();
        return;
      case "TargetAssignmentMetadata":
        g.assignmentEpoch = 0;
        return;
      case "MemberMetadata":
        g.members.delete(k.memberId);
        return;
      case "TargetAssignmentMember":
        g.targets.delete(k.memberId);
        return;
      case "CurrentAssignment":
        g.current.delete(k.memberId);
        return;
      case "OffsetCommit":
        g.offsets.delete(partitionKey(k.topic, k.partition));
        return;
    }
  }
  let g = groups.get(r.groupId);
  if (!g) groups.set(r.groupId, g = newGroup(r.groupId));
  switch (r.type) {
    case "GroupMetadata":
      g.epoch = r.epoch;
      g.emptySinceMs = r.emptySinceMs;
      return;
    case "GroupSubscription":
      g.subscription = new Map(r.topics);
      return;
    case "TargetAssignmentMetadata":
      g.assignmentEpoch = r.assignmentEpoch;
      return;
    case "MemberMetadata": {
      const { type: _t, groupId: _g, ...member } = r;
      g.members.set(r.memberId, member);
      return;
    }
    case "TargetAssignmentMember":
      g.targets.set(r.memberId, assignmentFromList(r.partitions));
      return;
    case "CurrentAssignment":
      g.current.set(r.memberId, {
        memberEpoch: r.memberEpoch,
        previousMemberEpoch: r.previousMemberEpoch,
        state: r.state,
        assigned: assignmentFromList(r.assigned),
        pendingRevocation: assignmentFromList(r.pendingRevocation),
      });
      return;
    case "OffsetCommit": {
      const { type: _t, groupId: _g, ...offset } = r;
      g.offsets.set(partitionKey(r.topic, r.partition), offset);
      return;
    }
  }
}

/** Every group of one coordinator partition. */
export class GroupCoordinatorState {
  readonly groups: Map<string, GroupState> = new Map();

  /** Rebuilds the state from a partition's records, in log order. */
  static fromRecords(records: Iterable<GroupRecord>): GroupCoordinatorState {
    const s = new GroupCoordinatorState();
    for (const r of records) s.replay(r);
    return s;
  }

  /** Applies one committed record. */
  replay(r: GroupRecord): void {
    replayGroupRecord(this.groups, r);
  }

  /** Applies records in order. */
  replayAll(records: Iterable<GroupRecord>): void {
    for (const r of records) this.replay(r);
  }

  /**
   * A canonical text form of the whole state: equal states give equal
   * strings whatever order maps were filled in. For digests and tests.
   */
  canonical(): string {
    const groups = [...this.groups.values()]
      .sort((a, b) => cmp(a.groupId, b.groupId))
      .map(canonicalGroup);
    return JSON.stringify(groups);
  }
}

function canonicalGroup(g: GroupState): unknown {
  const sortedEntries = <V>(m: ReadonlyMap<string, V>) =>
    [...m.entries()].sort(([a], [b]) => cmp(a, b));
  return {
    groupId: g.groupId,
    epoch: g.epoch,
    emptySinceMs: g.emptySinceMs,
    subscription: sortedEntries(g.subscription),
    assignmentEpoch: g.assignmentEpoch,
    // Fields listed one by one: object key order depends on how a record was built.
    members: sortedEntries(g.members).map(([, m]) => [
      m.memberId,
      m.instanceId,
      m.rackId,
      m.clientId,
      [...m.subscribedTopicNames].sort(),
      m.subscribedTopicRegex,
      m.serverAssignor,
      m.rebalanceTimeoutMs,
    ]),
    targets: sortedEntries(g.targets).map(([id, a]) => [id, assignmentToList(a)]),
    current: sortedEntries(g.current).map(([id, c]) => [
      id,
      c.memberEpoch,
      c.previousMemberEpoch,
      c.state,
      assignmentToList(c.assigned),
      assignmentToList(c.pendingRevocation),
    ]),
    offsets: sortedEntries(g.offsets).map(([, o]) => [
      o.topic,
      o.partition,
      o.offset,
      o.leaderEpoch,
      o.metadata,
      o.commitTimestampMs,
    ]),
  };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
