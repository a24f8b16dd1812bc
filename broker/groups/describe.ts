/**
 * Read-only views of groups for `GET /v1/groups` and `GET /v1/groups/{group}`.
 * Lag is not here: the caller subtracts committed offsets from the
 * partitions' high watermarks, which the coordinator does not know.
 *
 * @module
 */

import type { TopicPartitions } from "./assignment.ts";
import { assignmentToList } from "./assignment.ts";
import { chooseAssignor } from "./assignor.ts";
import type { AssignorName } from "./config.ts";
import type { CommittedOffset, GroupCoordinatorState, GroupState } from "./group_state.ts";
import { currentOf, targetOf } from "./group_state.ts";
import { sortedOffsets } from "./offsets.ts";
import type { MemberState } from "./records.ts";

/**
 * A group's state, as Kafka reports a consumer group's:
 * `empty` — no members; `assigning` — the group epoch is ahead of the target
 * assignment; `reconciling` — some member has not reached its target;
 * `stable` — every member owns its target at the group epoch; `dead` — the
 * group does not exist (deleted or never created).
 */
export type GroupStateName = "empty" | "assigning" | "reconciling" | "stable" | "dead";

/** One member of a described group. */
export interface MemberDescription {
  readonly memberId: string;
  readonly instanceId: string | null;
  readonly clientId: string;
  readonly rackId: string | null;
  readonly memberEpoch: number;
  readonly state: MemberState;
  readonly subscribedTopicNames: readonly string[];
  readonly subscribedTopicRegex: string | null;
  readonly assigned: TopicPartitions[];
  readonly pendingRevocation: TopicPartitions[];
  readonly target: TopicPartitions[];
}

/** A described group. */
export interface GroupDescription {
  readonly groupId: string;
  readonly state: GroupStateName;
  readonly groupEpoch: number;
  readonly assignmentEpoch: number;
  readonly assignor: AssignorName;
  readonly members: MemberDescription[];
  readonly offsets: CommittedOffset[];
}

/** One row of a group listing. */
export interface GroupListing {
  readonly groupId: string;
  readonly state: GroupStateName;
  readonly members: number;
}

/** The state name of a group. */
export function groupStateName(g: GroupState | undefined): GroupStateName {
  if (!g) return "dead";
  if (g.members.size === 0) return "empty";
  if (g.epoch > g.assignmentEpoch) return "assigning";
  for (const id of g.members.keys()) {
    const c = currentOf(g, id);
    if (c.memberEpoch === -2) continue;
    if (c.memberEpoch !== g.assignmentEpoch || c.state !== "stable") return "reconciling";
  }
  return "stable";
}

/** Describes one group (state `dead` and nothing else when it does not exist). */
export function describeGroup(
  state: GroupCoordinatorState,
  groupId: string,
  defaultAssignor: AssignorName,
): GroupDescription {
  const g = state.groups.get(groupId);
  if (!g) {
    return {
      groupId,
      state: "dead",
      groupEpoch: -1,
      assignmentEpoch: -1,
      assignor: defaultAssignor,
      members: [],
      offsets: [],
    };
  }
  const members = [...g.members.values()]
    .sort((a, b) => a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0)
    .map((m): MemberDescription => {
      const c = currentOf(g, m.memberId);
      return {
        memberId: m.memberId,
        instanceId: m.instanceId,
        clientId: m.clientId,
        rackId: m.rackId,
        memberEpoch: c.memberEpoch,
        state: c.state,
        subscribedTopicNames: m.subscribedTopicNames,
        subscribedTopicRegex: m.subscribedTopicRegex,
        assigned: assignmentToList(c.assigned),
        pendingRevocation: assignmentToList(c.pendingRevocation),
        target: assignmentToList(targetOf(g, m.memberId)),
      };
    });
  return {
    groupId,
    state: groupStateName(g),
    groupEpoch: g.epoch,
    assignmentEpoch: g.assignmentEpoch,
    assignor: chooseAssignor(g.members.values(), defaultAssignor),
    members,
    offsets: sortedOffsets(g),
  };
}

/** Every group of the coordinator, by id. */
export function listGroups(state: GroupCoordinatorState): GroupListing[] {
  return [...state.groups.values()]
    .sort((a, b) => a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0)
    .map((g) => ({ groupId: g.groupId, state: groupStateName(g), members: g.members.size }));
}
