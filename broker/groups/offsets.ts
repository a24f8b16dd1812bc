/**
 * Committed offsets: commit, fetch, reset, retention and group deletion, as
 * pure decisions over the replicated state.
 *
 * Invariants:
 * - a member's commit is accepted only at its current member epoch and only
 *   for partitions it holds (assigned or pending revocation), so a commit
 *   sent before the member acknowledged a revocation cannot overwrite what
 *   the partition's next owner commits (with one commit in flight per
 *   member, committed offsets of a partition then never move backwards —
 *   the group simulation checks this);
 * - a commit without a member (an admin tool or a simple consumer) is
 *   accepted only while the group has no members, as Kafka does;
 * - offsets of an empty group expire once both the group has been empty and
 *   the offset was committed `offsetsRetentionMs` ago (KIP-211); an empty
 *   group without offsets is deleted, with a tombstone for every key it
 *   wrote, so a compacted partition cannot bring any of it back.
 *
 * @module
 */

import { StromError } from "@strom/client";
import { GroupBatch } from "./_batch.ts";
import type { TopicPartitions } from "./assignment.ts";
import { hasPartition, partitionKey } from "./assignment.ts";
import {
  GROUPS_MAX,
  ID_LENGTH_MAX,
  OFFSET_METADATA_CHARS_MAX,
  OFFSETS_PER_COMMIT_MAX,
  OFFSETS_PER_GROUP_MAX,
} from "./config.ts";
import {
  groupNotFound,
  invalidRequest,
  nonEmptyGroup,
  notAssigned,
  staleMemberEpoch,
  unknownMember,
} from "./errors.ts";
import type { CommittedOffset, GroupCoordinatorState, GroupState } from "./group_state.ts";
import { currentOf } from "./group_state.ts";
import type { GroupResult } from "./membership.ts";
import { validateGroupId, validatePartitionList } from "./membership.ts";

/** One partition's offset to commit. */
export interface OffsetToCommit {
  readonly topic: string;
  readonly partition: number;
  /** The next offset to consume. */
  readonly offset: number;
  readonly leaderEpoch?: number | null;
  readonly metadata?: string;
}

/** An offset commit. Without `memberId` (or with epoch < 0) it is a simple commit. */
export interface OffsetCommitRequest {
  readonly groupId: string;
  readonly memberId?: string | null;
  readonly memberEpoch?: number;
  readonly offsets: readonly OffsetToCommit[];
}

/** What a commit (or reset) wrote. */
export interface OffsetCommitResponse {
  readonly committed: number;
}

/** A committed offset as fetched; `offset` is -1 when nothing was committed. */
export interface FetchedOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly leaderEpoch: number | null;
  readonly metadata: string;
  readonly commitTimestampMs: number | null;
}

/** Commits offsets for a member at its current epoch, or for a group without members. */
export function commitOffsets(
  state: GroupCoordinatorState,
  req: OffsetCommitRequest,
  nowMs: number,
): GroupResult<OffsetCommitResponse> {
  validateGroupId(req.groupId);
  validateOffsets(req.offsets);
  const g = state.groups.get(req.groupId);
  const memberId = req.memberId ?? "";
  const epoch = req.memberEpoch ?? -1;
  if (memberId === "" || epoch < 0) {
    if (g && g.members.size > 0) {
      throw unknownMember(
        req.groupId,
        memberId || "(none)",
        `only a member at its current epoch may commit while the group has ${g.members.size} member(s)`,
      );
    }
  } else {
    if (!g?.members.has(memberId)) throw unknownMember(req.groupId, memberId);
    const current = currentOf(g, memberId);
    if (epoch !== current.memberEpoch) {
      throw staleMemberEpoch(req.groupId, memberId, epoch, current.memberEpoch);
    }
    // The epoch does not move when a revocation is acknowledged and another
    // one follows, so a commit sent before the acknowledgement could still
    // carry the current epoch: the partitions themselves must still be held.
    for (const o of req.offsets) {
      if (
        !hasPartition(current.assigned, o.topic, o.partition) &&
        !hasPartition(current.pendingRevocation, o.topic, o.partition)
      ) {
        throw notAssigned(req.groupId, memberId, `${o.topic}-${o.partition}`, epoch);
      }
    }
  }
  return writeOffsets(state, req.groupId, req.offsets, nowMs);
}

/**
 * Sets the offsets of a group without members (`groups reset-offsets`).
 * Resolving earliest, latest or a timestamp to an offset is the caller's job.
 */
export function resetOffsets(
  state: GroupCoordinatorState,
  req: { readonly groupId: string; readonly offsets: readonly OffsetToCommit[] },
  nowMs: number,
): GroupResult<OffsetCommitResponse> {
  validateGroupId(req.groupId);
  validateOffsets(req.offsets);
  const g = state.groups.get(req.groupId);
  if (g && g.members.size > 0) throw nonEmptyGroup(req.groupId, g.members.size, "reset offsets of");
  return writeOffsets(state, req.groupId, req.offsets, nowMs);
}

function writeOffsets(
  state: GroupCoordinatorState,
  groupId: string,
  offsets: readonly OffsetToCommit[],
  nowMs: number,
): GroupResult<OffsetCommitResponse> {
  const b = new GroupBatch(state);
  const existing = b.group(groupId);
  if (!existing) {
    if (state.groups.size >= GROUPS_MAX) {
      throw new StromError(
        "TOO_MANY_GROUPS",
        `this coordinator holds ${GROUPS_MAX} groups already; delete unused groups first`,
      );
    }
    // A group created by a commit has never had members: it counts as empty from now.
    b.emit({ type: "GroupMetadata", groupId, epoch: 0, emptySinceMs: nowMs });
  }
  const g = b.group(groupId)!;
  const added = new Set(
    offsets.map((o) => partitionKey(o.topic, o.partition)).filter((k) => !g.offsets.has(k)),
  ).size;
  if (g.offsets.size + added > OFFSETS_PER_GROUP_MAX) {
    throw new StromError(
      "INVALID_COMMIT_OFFSET_SIZE",
      `group '${groupId}' would keep ${
        g.offsets.size + added
      } committed partitions, more than ${OFFSETS_PER_GROUP_MAX}`,
    );
  }
  for (const o of offsets) {
    b.emit({
      type: "OffsetCommit",
      groupId,
      topic: o.topic,
      partition: o.partition,
      offset: o.offset,
      leaderEpoch: o.leaderEpoch ?? null,
      metadata: o.metadata ?? "",
      commitTimestampMs: nowMs,
    });
  }
  return { records: b.records, response: { committed: offsets.length } };
}

/**
 * Committed offsets of a group: of the given partitions (-1 where none is
 * committed), or all of them. An unknown group has none.
 */
export function fetchOffsets(
  state: GroupCoordinatorState,
  req: { readonly groupId: string; readonly partitions?: readonly TopicPartitions[] | null },
): FetchedOffset[] {
  validateGroupId(req.groupId);
  const g = state.groups.get(req.groupId);
  if (req.partitions == null) {
    return g ? sortedOffsets(g).map(fetched) : [];
  }
  validatePartitionList(req.partitions, "partitions");
  const out: FetchedOffset[] = [];
  for (const { topic, partitions } of req.partitions) {
    for (const partition of partitions) {
      const o = g?.offsets.get(partitionKey(topic, partition));
      out.push(
        o ? fetched(o) : {
          topic,
          partition,
          offset: -1,
          leaderEpoch: null,
          metadata: "",
          commitTimestampMs: null,
        },
      );
    }
  }
  return out;
}

/** A group's offsets in topic, partition order. */
export function sortedOffsets(g: GroupState): CommittedOffset[] {
  return [...g.offsets.values()].sort((a, b) =>
    a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition
  );
}

function fetched(o: CommittedOffset): FetchedOffset {
  return {
    topic: o.topic,
    partition: o.partition,
    offset: o.offset,
    leaderEpoch: o.leaderEpoch,
    metadata: o.metadata,
    commitTimestampMs: o.commitTimestampMs,
  };
}

/** Deletes a group without members and all its offsets. */
export function deleteGroup(
  state: GroupCoordinatorState,
  groupId: string,
): GroupResult<{ deletedOffsets: number }> {
  validateGroupId(groupId);
  const g = state.groups.get(groupId);
  if (!g) throw groupNotFound(groupId);
  if (g.members.size > 0) throw nonEmptyGroup(groupId, g.members.size, "delete");
  const b = new GroupBatch(state);
  const deletedOffsets = g.offsets.size;
  deleteGroupRecords(b, g);
  return { records: b.records, response: { deletedOffsets } };
}

/** What {@link expireOffsets} removed. */
export interface OffsetExpiry {
  readonly expiredOffsets: number;
  readonly deletedGroups: string[];
}

/**
 * Expires offsets of empty groups past retention, and deletes empty groups
 * left without offsets. Writes at most `recordsMax` records (roughly: a
 * group's deletion is never split); call again for the rest.
 */
export function expireOffsets(
  state: GroupCoordinatorState,
  nowMs: number,
  retentionMs: number,
  recordsMax: number,
): GroupResult<OffsetExpiry> {
  const b = new GroupBatch(state);
  let expiredOffsets = 0;
  const deletedGroups: string[] = [];
  for (const g of state.groups.values()) {
    if (b.records.length >= recordsMax) break;
    if (g.members.size > 0) continue;
    let kept = 0;
    for (const o of g.offsets.values()) {
      const base = Math.max(o.commitTimestampMs, g.emptySinceMs ?? 0);
      if (nowMs >= base + retentionMs && b.records.length < recordsMax) {
        b.emit({
          type: "Tombstone",
          key: { kind: "OffsetCommit", groupId: g.groupId, topic: o.topic, partition: o.partition },
        });
        expiredOffsets++;
      } else {
        kept++;
      }
    }
    if (kept === 0) {
      deleteGroupRecords(b, b.group(g.groupId)!);
      deletedGroups.push(g.groupId);
    }
  }
  return { records: b.records, response: { expiredOffsets, deletedGroups } };
}

/** Tombstones for every key of an empty group, the group's own key last. */
function deleteGroupRecords(b: GroupBatch, g: GroupState): void {
  const groupId = g.groupId;
  for (const o of sortedOffsets(g)) {
    b.emit({
      type: "Tombstone",
      key: { kind: "OffsetCommit", groupId, topic: o.topic, partition: o.partition },
    });
  }
  // Targets and assignments of departed members were tombstoned when they left;
  // any left over (a bug or an old log) go too, so compaction cannot revive them.
  for (const memberId of b.group(groupId)!.targets.keys()) {
    b.emit({ type: "Tombstone", key: { kind: "TargetAssignmentMember", groupId, memberId } });
  }
  for (const memberId of b.group(groupId)!.current.keys()) {
    b.emit({ type: "Tombstone", key: { kind: "CurrentAssignment", groupId, memberId } });
  }
  b.emit({ type: "Tombstone", key: { kind: "GroupSubscription", groupId } });
  b.emit({ type: "Tombstone", key: { kind: "TargetAssignmentMetadata", groupId } });
  b.emit({ type: "Tombstone", key: { kind: "GroupMetadata", groupId } });
}

function validateOffsets(offsets: readonly OffsetToCommit[]): void {
  if (!Array.isArray(offsets)) throw invalidRequest("offsets must be a list");
  if (offsets.length > OFFSETS_PER_COMMIT_MAX) {
    throw new StromError(
      "INVALID_COMMIT_OFFSET_SIZE",
      `a commit may carry at most ${OFFSETS_PER_COMMIT_MAX} partitions; got ${offsets.length}`,
    );
  }
  for (const o of offsets) {
    if (typeof o?.topic !== "string" || o.topic.length === 0 || o.topic.length > ID_LENGTH_MAX) {
      throw invalidRequest(`offset topic must be a name of 1 to ${ID_LENGTH_MAX} characters`);
    }
    if (!Number.isSafeInteger(o.partition) || o.partition < 0) {
      throw invalidRequest(
        `partition of ${o.topic} must be a non-negative integer; got ${o.partition}`,
      );
    }
    if (!Number.isSafeInteger(o.offset) || o.offset < 0) {
      throw invalidRequest(
        `offset of ${o.topic}-${o.partition} must be a non-negative integer; got ${o.offset}`,
      );
    }
    const le = o.leaderEpoch;
    if (le != null && (!Number.isSafeInteger(le) || le < 0)) {
      throw invalidRequest(
        `leaderEpoch of ${o.topic}-${o.partition} must be a non-negative integer`,
      );
    }
    if (o.metadata !== undefined) {
      if (typeof o.metadata !== "string") {
        throw invalidRequest(`metadata of ${o.topic}-${o.partition} must be a string`);
      }
      if (o.metadata.length > OFFSET_METADATA_CHARS_MAX) {
        throw new StromError(
          "OFFSET_METADATA_TOO_LARGE",
          `metadata of ${o.topic}-${o.partition} has ${o.metadata.length} characters, more than ${OFFSET_METADATA_CHARS_MAX}`,
        );
      }
    }
  }
}
