/**
 * Group membership by heartbeat (KIP-848 ConsumerGroupHeartbeat), as pure
 * decisions: each function reads the state, returns the records to write and
 * the answer, and changes nothing itself.
 *
 * A heartbeat, in order:
 * 1. finds or creates the member: a join (epoch 0) adds it, or — with an
 *    instance id already in the group — takes over that static member's
 *    assignment and epoch; a regular heartbeat must carry the member's epoch
 *    (or its previous one, with owned partitions within its assignment, when
 *    it missed the last answer), else FENCED_MEMBER_EPOCH;
 * 2. records changed member metadata; a new member or a changed subscription
 *    bumps the group epoch, and so does a change in the subscribed topics'
 *    partition counts (the topics view comes with each call);
 * 3. when the group epoch is ahead of the target assignment, recomputes the
 *    target with the group's assignor, sticky to the previous target;
 * 4. moves the member one reconciliation step toward its target.
 *
 * Invariants: the group epoch only grows while the group exists; a member's
 * epoch never exceeds the assignment epoch; and the invariants of
 * {@link reconcile} (no partition has two owners).
 *
 * @module
 */

import { StromError } from "@strom/client";
import { GroupBatch } from "./_batch.ts";
import type { TopicPartitions } from "./assignment.ts";
import {
  assignmentEquals,
  assignmentFromList,
  assignmentToList,
  EMPTY_ASSIGNMENT,
  isSubset,
  partitionCount,
  partitionKeys,
} from "./assignment.ts";
import { chooseAssignor, runAssignor } from "./assignor.ts";
import type { AssignorName, GroupCoordinatorConfig } from "./config.ts";
import {
  ASSIGNOR_NAMES,
  GROUPS_MAX,
  ID_LENGTH_MAX,
  MEMBERS_PER_GROUP_MAX,
  PARTITIONS_PER_GROUP_MAX,
  REBALANCE_TIMEOUT_MS_DEFAULT,
  REBALANCE_TIMEOUT_MS_MAX,
  SUBSCRIBED_TOPICS_MAX,
} from "./config.ts";
import { fencedMemberEpoch, invalidGroupId, invalidRequest, unknownMember } from "./errors.ts";
import type {
  CurrentAssignment,
  GroupCoordinatorState,
  GroupState,
  MemberMetadata,
} from "./group_state.ts";
import { currentOf, newGroup, targetOf } from "./group_state.ts";
import type { GroupRecord, MemberMetadataRecord } from "./records.ts";
import { JOIN_GROUP_MEMBER_EPOCH, LEAVE_GROUP_STATIC_MEMBER_EPOCH } from "./records.ts";
import { reconcile } from "./reconciliation.ts";
import type { SubscriptionResolver, TopicsView } from "./subscription.ts";
import { sameTopicCounts } from "./subscription.ts";

/** What an operation decided: the records to commit, and the answer to give once they are. */
export interface GroupResult<R> {
  readonly records: GroupRecord[];
  readonly response: R;
}

/** A ConsumerGroupHeartbeat. Fields left undefined or null keep their last value. */
export interface HeartbeatRequest {
  readonly groupId: string;
  /** Empty on a first join: the coordinator picks one. */
  readonly memberId: string;
  /** 0 to join, the current epoch to heartbeat, -1 to leave, -2 for a static member's temporary leave. */
  readonly memberEpoch: number;
  readonly instanceId?: string | null;
  readonly rackId?: string | null;
  readonly clientId?: string;
  /** How long the member may take to revoke partitions before it is removed. */
  readonly rebalanceTimeoutMs?: number;
  readonly subscribedTopicNames?: readonly string[] | null;
  readonly subscribedTopicRegex?: string | null;
  readonly serverAssignor?: AssignorName | null;
  /** What the member owns now; a join owns nothing whatever it says. */
  readonly ownedPartitions?: readonly TopicPartitions[] | null;
}

/** The answer to a heartbeat. */
export interface HeartbeatResponse {
  readonly memberId: string;
  /** -1 or -2 after a leave. */
  readonly memberEpoch: number;
  readonly heartbeatIntervalMs: number;
  /** Everything the member may own now: it revokes what it owns outside this. */
  readonly assignment: TopicPartitions[];
}

/** Inputs every membership operation needs besides the state. */
export interface MembershipContext {
  readonly config: GroupCoordinatorConfig;
  readonly resolver: SubscriptionResolver;
  readonly sessions: MemberSessions;
  readonly newMemberId: () => string;
}

/**
 * Liveness of members, kept in memory only (as Kafka's coordinator does): a
 * new coordinator gives every member a fresh session when it activates.
 */
export class MemberSessions {
  readonly #byMember = new Map<string, MemberSession>();

  get(groupId: string, memberId: string): MemberSession | undefined {
    return this.#byMember.get(sessionKey(groupId, memberId));
  }
  set(groupId: string, memberId: string, s: MemberSession): void {
    this.#byMember.set(sessionKey(groupId, memberId), s);
  }
  delete(groupId: string, memberId: string): void {
    this.#byMember.delete(sessionKey(groupId, memberId));
  }
  clear(): void {
    this.#byMember.clear();
  }
  /** Forgets sessions of members the state no longer has. */
  prune(state: GroupCoordinatorState): void {
    for (const key of this.#byMember.keys()) {
      const [groupId, memberId] = key.split("\u0000");
      if (!state.groups.get(groupId)?.members.has(memberId)) this.#byMember.delete(key);
    }
  }
}

/** One member's liveness. */
export interface MemberSession {
  readonly lastHeartbeatMs: number;
  /** Set while the member has partitions to revoke: past it, the member is removed. */
  readonly revocationDeadlineMs: number | null;
}

function sessionKey(groupId: string, memberId: string): string {
  return `${groupId}\u0000${memberId}`;
}

/** Handles one heartbeat. */
export function heartbeat(
  state: GroupCoordinatorState,
  ctx: MembershipContext,
  req: HeartbeatRequest,
  call: { readonly nowMs: number; readonly topics: TopicsView },
): GroupResult<HeartbeatResponse> {
  validateHeartbeat(req);
  if (req.memberEpoch < 0) return leaveGroup(state, ctx, req, call.nowMs);
  const b = new GroupBatch(state, true);
  if (!b.group(req.groupId)) {
    if (req.memberEpoch !== JOIN_GROUP_MEMBER_EPOCH) {
      throw unknownMember(req.groupId, req.memberId, "the group does not exist");
    }
    if (state.groups.size >= GROUPS_MAX) {
      throw new StromError(
        "TOO_MANY_GROUPS",
        `this coordinator holds ${GROUPS_MAX} groups already; delete unused groups or add __consumer_offsets partitions`,
      );
    }
  }
  const g: GroupState = b.group(req.groupId) ?? newGroup(req.groupId);
  const { memberId, bump } = req.memberEpoch === JOIN_GROUP_MEMBER_EPOCH
    ? join(b, g, ctx, req)
    : checkRegularHeartbeat(b, g, req);
  let group = b.group(req.groupId)!;

  const subscription = ctx.resolver.groupSubscription(group.members.values(), call.topics);
  let total = 0;
  for (const n of subscription.values()) total += n;
  if (total > PARTITIONS_PER_GROUP_MAX) {
    throw invalidRequest(
      `group '${req.groupId}' would subscribe to ${total} partitions, more than ${PARTITIONS_PER_GROUP_MAX}; narrow the subscription`,
    );
  }
  const topicsChanged = !sameTopicCounts(subscription, group.subscription);
  if (topicsChanged) {
    b.emit({ type: "GroupSubscription", groupId: req.groupId, topics: [...subscription] });
  }
  if (bump || topicsChanged) {
    b.emit({
      type: "GroupMetadata",
      groupId: req.groupId,
      epoch: group.epoch + 1,
      emptySinceMs: null,
    });
  }
  group = b.group(req.groupId)!;
  if (group.epoch > group.assignmentEpoch) computeTargetAssignment(b, group, ctx, call.topics);
  group = b.group(req.groupId)!;

  const owned = req.memberEpoch === JOIN_GROUP_MEMBER_EPOCH
    ? EMPTY_ASSIGNMENT
    : req.ownedPartitions
    ? assignmentFromList(req.ownedPartitions)
    : null;
  const current = currentOf(group, memberId);
  const heldByOthers = heldByOtherMembers(group, memberId);
  const next = reconcile({
    current,
    targetEpoch: group.assignmentEpoch,
    target: targetOf(group, memberId),
    owned,
    heldByOther: (topic, p) => heldByOthers.has(`${topic}\u0000${p}`),
  });
  if (next !== current || !group.current.has(memberId)) emitCurrent(b, req.groupId, memberId, next);

  const previousSession = ctx.sessions.get(req.groupId, memberId);
  const revoking = next.state === "unrevoked_partitions";
  ctx.sessions.set(req.groupId, memberId, {
    lastHeartbeatMs: call.nowMs,
    revocationDeadlineMs: !revoking ? null : previousSession?.revocationDeadlineMs ??
      call.nowMs + group.members.get(memberId)!.rebalanceTimeoutMs,
  });
  return {
    records: b.records,
    response: {
      memberId,
      memberEpoch: next.memberEpoch,
      heartbeatIntervalMs: ctx.config.heartbeatIntervalMs,
      assignment: assignmentToList(next.assigned),
    },
  };
}

/** A join (epoch 0): a new member, a rejoin, or a static member's return. */
function join(
  b: GroupBatch,
  g: GroupState,
  ctx: MembershipContext,
  req: HeartbeatRequest,
): { memberId: string; bump: boolean } {
  const instanceId = req.instanceId ?? null;
  const staticHolder = instanceId === null
    ? undefined
    : [...g.members.values()].find((m) => m.instanceId === instanceId);
  const known = req.memberId === "" ? undefined : g.members.get(req.memberId);
  // A member that is still in the group and rejoins (after it was fenced or
  // lost its session) dropped everything: it starts over like a dynamic one.
  const selfRejoin = staticHolder !== undefined && staticHolder.memberId === req.memberId &&
    currentOf(g, req.memberId).memberEpoch !== LEAVE_GROUP_STATIC_MEMBER_EPOCH;
  if (known && known.instanceId !== instanceId && known.instanceId !== null) {
    throw invalidRequest(
      `member '${req.memberId}' of group '${req.groupId}' has instance id '${known.instanceId}', not '${instanceId}'`,
    );
  }
  if (staticHolder && !selfRejoin) {
    // The instance returns (after a restart or a temporary leave): it takes
    // over the old member's assignment and epoch, without a rebalance. The
    // new process owns nothing yet, so what the old one was revoking is free.
    const memberId = req.memberId === "" ? ctx.newMemberId() : req.memberId;
    const old = currentOf(g, staticHolder.memberId);
    const oldTarget = targetOf(g, staticHolder.memberId);
    if (staticHolder.memberId !== memberId) {
      removeMemberRecords(b, g.groupId, staticHolder.memberId);
    }
    const metadata = mergeMetadata(staticHolder, req, memberId);
    b.emit(metadata);
    if (staticHolder.memberId !== memberId && partitionCount(oldTarget) > 0) {
      b.emit({
        type: "TargetAssignmentMember",
        groupId: g.groupId,
        memberId,
        partitions: assignmentToList(oldTarget),
      });
    }
    const epoch = old.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH
      ? old.previousMemberEpoch
      : old.memberEpoch;
    emitCurrent(b, g.groupId, memberId, {
      memberEpoch: epoch,
      previousMemberEpoch: epoch,
      // Reconciliation then recomputes from the kept assignment.
      state: "unreleased_partitions",
      assigned: old.assigned,
      pendingRevocation: EMPTY_ASSIGNMENT,
    });
    return { memberId, bump: !sameSubscription(staticHolder, metadata) };
  }
  if (known) {
    // A rejoining member owns nothing: start it over. The group epoch bumps
    // so that its new member epoch differs from every epoch it had before:
    // a commit it sent before it dropped its partitions is then stale, and
    // cannot land after it (or another member) takes them up again.
    const metadata = mergeMetadata(known, req, known.memberId);
    if (!sameMetadata(known, metadata)) b.emit(metadata);
    emitCurrent(b, g.groupId, known.memberId, {
      memberEpoch: 0,
      previousMemberEpoch: currentOf(g, known.memberId).memberEpoch,
      state: "stable",
      assigned: EMPTY_ASSIGNMENT,
      pendingRevocation: EMPTY_ASSIGNMENT,
    });
    return { memberId: known.memberId, bump: true };
  }
  if (req.subscribedTopicNames == null && req.subscribedTopicRegex == null) {
    throw invalidRequest("a joining member must send subscribedTopicNames or subscribedTopicRegex");
  }
  if (g.members.size >= MEMBERS_PER_GROUP_MAX) {
    throw new StromError(
      "GROUP_MAX_SIZE_REACHED",
      `group '${g.groupId}' has ${MEMBERS_PER_GROUP_MAX} members already, its maximum`,
    );
  }
  const memberId = req.memberId === "" ? ctx.newMemberId() : req.memberId;
  b.emit(mergeMetadata(undefined, req, memberId));
  return { memberId, bump: true };
}

/** A regular heartbeat (epoch > 0): checks membership and epoch, records metadata changes. */
function checkRegularHeartbeat(
  b: GroupBatch,
  g: GroupState,
  req: HeartbeatRequest,
): { memberId: string; bump: boolean } {
  const member = g.members.get(req.memberId);
  if (!member) throw unknownMember(req.groupId, req.memberId);
  const current = currentOf(g, req.memberId);
  if (req.memberEpoch !== current.memberEpoch) {
    // A member that missed our last answer may heartbeat with its previous
    // epoch, as long as it owns nothing outside its assignment.
    const owned = req.ownedPartitions ? assignmentFromList(req.ownedPartitions) : null;
    const missedAnswer = current.memberEpoch !== LEAVE_GROUP_STATIC_MEMBER_EPOCH &&
      req.memberEpoch === current.previousMemberEpoch && owned !== null &&
      isSubset(owned, current.assigned);
    if (!missedAnswer) {
      throw fencedMemberEpoch(req.groupId, req.memberId, req.memberEpoch, current.memberEpoch);
    }
  }
  const metadata = mergeMetadata(member, req, member.memberId);
  if (!sameMetadata(member, metadata)) b.emit(metadata);
  return { memberId: member.memberId, bump: !sameSubscription(member, metadata) };
}

/**
 * A member leaves: -1 removes it at once (its partitions are free for
 * others); -2 (static members only) keeps its assignment for the session
 * timeout so that the same instance can come back without a rebalance.
 */
export function leaveGroup(
  state: GroupCoordinatorState,
  ctx: MembershipContext,
  req: Pick<HeartbeatRequest, "groupId" | "memberId" | "memberEpoch">,
  nowMs: number,
): GroupResult<HeartbeatResponse> {
  const b = new GroupBatch(state, true);
  const g = b.group(req.groupId);
  if (!g) throw unknownMember(req.groupId, req.memberId, "the group does not exist");
  const member = g.members.get(req.memberId);
  if (!member) throw unknownMember(req.groupId, req.memberId);
  if (req.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
    if (member.instanceId === null) {
      throw invalidRequest(
        `member '${req.memberId}' has no instance id: only static members leave with epoch -2; use -1`,
      );
    }
    const current = currentOf(g, req.memberId);
    if (current.memberEpoch !== LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
      emitCurrent(b, g.groupId, req.memberId, {
        memberEpoch: LEAVE_GROUP_STATIC_MEMBER_EPOCH,
        previousMemberEpoch: current.memberEpoch,
        state: "stable",
        assigned: current.assigned,
        // The leaving process has released everything it was revoking.
        pendingRevocation: EMPTY_ASSIGNMENT,
      });
    }
    ctx.sessions.set(req.groupId, req.memberId, {
      lastHeartbeatMs: nowMs,
      revocationDeadlineMs: null,
    });
  } else {
    removeMember(b, g.groupId, req.memberId, nowMs);
    ctx.sessions.delete(req.groupId, req.memberId);
  }
  return {
    records: b.records,
    response: {
      memberId: req.memberId,
      memberEpoch: req.memberEpoch,
      heartbeatIntervalMs: ctx.config.heartbeatIntervalMs,
      assignment: [],
    },
  };
}

/** Why {@link expireMembers} removed a member. */
export type ExpiryReason = "session_timeout" | "rebalance_timeout";

/** A member {@link expireMembers} removed. */
export interface ExpiredMember {
  readonly groupId: string;
  readonly memberId: string;
  readonly reason: ExpiryReason;
}

/**
 * Removes members that missed their session timeout (static members that
 * left with -2 and did not return included) and members that took longer
 * than their rebalance timeout to revoke partitions. Members without a
 * session (loaded from the log) get a fresh one now.
 */
export function expireMembers(
  state: GroupCoordinatorState,
  ctx: MembershipContext,
  nowMs: number,
  recordsMax: number,
): GroupResult<ExpiredMember[]> {
  const b = new GroupBatch(state, true);
  const expired: ExpiredMember[] = [];
  for (const g of state.groups.values()) {
    for (const member of g.members.values()) {
      if (b.records.length >= recordsMax) break;
      const s = ctx.sessions.get(g.groupId, member.memberId);
      if (!s) {
        ctx.sessions.set(g.groupId, member.memberId, {
          lastHeartbeatMs: nowMs,
          revocationDeadlineMs: null,
        });
        continue;
      }
      let reason: ExpiryReason | null = null;
      if (nowMs >= s.lastHeartbeatMs + ctx.config.sessionTimeoutMs) {
        reason = "session_timeout";
      } else if (
        s.revocationDeadlineMs !== null && nowMs >= s.revocationDeadlineMs &&
        currentOf(g, member.memberId).state === "unrevoked_partitions"
      ) {
        reason = "rebalance_timeout";
      }
      if (reason === null) continue;
      removeMember(b, g.groupId, member.memberId, nowMs);
      ctx.sessions.delete(g.groupId, member.memberId);
      expired.push({ groupId: g.groupId, memberId: member.memberId, reason });
    }
  }
  ctx.sessions.prune(state);
  return { records: b.records, response: expired };
}

/** Tombstones for a member's records, then the group epoch bump its departure causes. */
function removeMember(b: GroupBatch, groupId: string, memberId: string, nowMs: number): void {
  removeMemberRecords(b, groupId, memberId);
  const g = b.group(groupId)!;
  b.emit({
    type: "GroupMetadata",
    groupId,
    epoch: g.epoch + 1,
    emptySinceMs: g.members.size === 0 ? nowMs : null,
  });
}

function removeMemberRecords(b: GroupBatch, groupId: string, memberId: string): void {
  const g = b.group(groupId)!;
  if (g.current.has(memberId)) {
    b.emit({ type: "Tombstone", key: { kind: "CurrentAssignment", groupId, memberId } });
  }
  if (g.targets.has(memberId)) {
    b.emit({ type: "Tombstone", key: { kind: "TargetAssignmentMember", groupId, memberId } });
  }
  b.emit({ type: "Tombstone", key: { kind: "MemberMetadata", groupId, memberId } });
}

/** Recomputes the target assignment for the group epoch and records what changed. */
function computeTargetAssignment(
  b: GroupBatch,
  g: GroupState,
  ctx: MembershipContext,
  topics: TopicsView,
): void {
  const members = [...g.members.values()];
  const output = runAssignor(chooseAssignor(members, ctx.config.defaultAssignor), {
    members: members.map((m) => ({
      memberId: m.memberId,
      instanceId: m.instanceId,
      topics: ctx.resolver.topicsOf(m, topics),
    })),
    topics: g.subscription,
    previous: g.targets,
  });
  for (const m of members) {
    const next = output.get(m.memberId) ?? EMPTY_ASSIGNMENT;
    const before = g.targets.get(m.memberId);
    if (before === undefined ? partitionCount(next) > 0 : !assignmentEquals(before, next)) {
      b.emit({
        type: "TargetAssignmentMember",
        groupId: g.groupId,
        memberId: m.memberId,
        partitions: assignmentToList(next),
      });
    }
  }
  b.emit({ type: "TargetAssignmentMetadata", groupId: g.groupId, assignmentEpoch: g.epoch });
}

/** `topic\0partition` of everything members other than `memberId` hold. */
function heldByOtherMembers(g: GroupState, memberId: string): Set<string> {
  const held = new Set<string>();
  for (const [id, c] of g.current) {
    if (id === memberId) continue;
    for (const a of [c.assigned, c.pendingRevocation]) {
      for (const [topic, ps] of a) for (const p of ps) held.add(`${topic}\u0000${p}`);
    }
  }
  return held;
}

function emitCurrent(b: GroupBatch, groupId: string, memberId: string, c: CurrentAssignment) {
  b.emit({
    type: "CurrentAssignment",
    groupId,
    memberId,
    memberEpoch: c.memberEpoch,
    previousMemberEpoch: c.previousMemberEpoch,
    state: c.state,
    assigned: assignmentToList(c.assigned),
    pendingRevocation: assignmentToList(c.pendingRevocation),
  });
}

/** The member's metadata after applying the request's fields (null/undefined keep the old value). */
function mergeMetadata(
  old: MemberMetadata | undefined,
  req: HeartbeatRequest,
  memberId: string,
): MemberMetadataRecord {
  const byNames = req.subscribedTopicNames != null;
  const byRegex = req.subscribedTopicRegex != null;
  return {
    type: "MemberMetadata",
    groupId: req.groupId,
    memberId,
    instanceId: req.instanceId ?? old?.instanceId ?? null,
    rackId: req.rackId ?? old?.rackId ?? null,
    clientId: req.clientId ?? old?.clientId ?? "",
    subscribedTopicNames: byNames
      ? [...new Set(req.subscribedTopicNames!)].sort()
      : byRegex
      ? []
      : old?.subscribedTopicNames ?? [],
    subscribedTopicRegex: byRegex
      ? req.subscribedTopicRegex!
      : byNames
      ? null
      : old?.subscribedTopicRegex ?? null,
    serverAssignor: req.serverAssignor ?? old?.serverAssignor ?? null,
    rebalanceTimeoutMs: req.rebalanceTimeoutMs ?? old?.rebalanceTimeoutMs ??
      REBALANCE_TIMEOUT_MS_DEFAULT,
  };
}

function sameSubscription(a: MemberMetadata, b: MemberMetadata): boolean {
  return a.subscribedTopicRegex === b.subscribedTopicRegex &&
    a.subscribedTopicNames.length === b.subscribedTopicNames.length &&
    a.subscribedTopicNames.every((t, i) => t === b.subscribedTopicNames[i]) &&
    a.serverAssignor === b.serverAssignor;
}

function sameMetadata(a: MemberMetadata, b: MemberMetadata): boolean {
  return sameSubscription(a, b) && a.memberId === b.memberId && a.instanceId === b.instanceId &&
    a.rackId === b.rackId && a.clientId === b.clientId &&
    a.rebalanceTimeoutMs === b.rebalanceTimeoutMs;
}

/** Shape checks of a heartbeat; subscription regexes are checked when compiled. */
export function validateHeartbeat(req: HeartbeatRequest): void {
  validateGroupId(req.groupId);
  if (!Number.isSafeInteger(req.memberEpoch) || req.memberEpoch < LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
    throw invalidRequest(`member epoch must be an integer ≥ -2; got ${req.memberEpoch}`);
  }
  checkId(req.memberId, "member id", true);
  if (req.memberEpoch !== JOIN_GROUP_MEMBER_EPOCH && req.memberId === "") {
    throw invalidRequest("member id is required unless joining (member epoch 0)");
  }
  if (req.instanceId != null) checkId(req.instanceId, "instance id", false);
  if (req.rackId != null) checkId(req.rackId, "rack id", false);
  if (req.clientId !== undefined) checkId(req.clientId, "client id", true);
  if (req.subscribedTopicNames != null && req.subscribedTopicRegex != null) {
    throw invalidRequest("subscribe by topic names or by regex, not both");
  }
  const names = req.subscribedTopicNames;
  if (names != null) {
    if (!Array.isArray(names) || names.length > SUBSCRIBED_TOPICS_MAX) {
      throw invalidRequest(
        `subscribedTopicNames must be a list of at most ${SUBSCRIBED_TOPICS_MAX} names`,
      );
    }
    for (const t of names) checkId(t, "topic name", false);
  }
  if (req.subscribedTopicRegex != null && typeof req.subscribedTopicRegex !== "string") {
    throw new StromError("INVALID_REGULAR_EXPRESSION", "subscribedTopicRegex must be a string");
  }
  if (req.serverAssignor != null && !ASSIGNOR_NAMES.includes(req.serverAssignor)) {
    throw new StromError(
      "UNSUPPORTED_ASSIGNOR",
      `unknown server assignor '${req.serverAssignor}'; use one of ${ASSIGNOR_NAMES.join(", ")}`,
    );
  }
  const rt = req.rebalanceTimeoutMs;
  if (rt !== undefined && (!Number.isSafeInteger(rt) || rt < 1 || rt > REBALANCE_TIMEOUT_MS_MAX)) {
    throw invalidRequest(
      `rebalanceTimeoutMs must be an integer from 1 to ${REBALANCE_TIMEOUT_MS_MAX}`,
    );
  }
  if (req.ownedPartitions != null) validatePartitionList(req.ownedPartitions, "ownedPartitions");
}

/** Group ids are 1 to {@link ID_LENGTH_MAX} characters. */
export function validateGroupId(groupId: unknown): asserts groupId is string {
  if (typeof groupId !== "string" || groupId.length === 0 || groupId.length > ID_LENGTH_MAX) {
    throw invalidGroupId(groupId, ID_LENGTH_MAX);
  }
}

/** A list of `{topic, partitions}` with names and non-negative integer partitions. */
export function validatePartitionList(list: readonly TopicPartitions[], what: string): void {
  if (!Array.isArray(list)) throw invalidRequest(`${what} must be a list of {topic, partitions}`);
  for (const tp of list) {
    checkId(tp?.topic, `${what} topic`, false);
    if (
      !Array.isArray(tp.partitions) ||
      !tp.partitions.every((p: number) => Number.isSafeInteger(p) && p >= 0)
    ) {
      throw invalidRequest(`${what}: partitions of '${tp.topic}' must be non-negative integers`);
    }
  }
}

function checkId(x: unknown, what: string, emptyOk: boolean): void {
  if (typeof x !== "string" || x.length > ID_LENGTH_MAX || (!emptyOk && x.length === 0)) {
    throw invalidRequest(
      `${what} must be a string of ${emptyOk ? 0 : 1} to ${ID_LENGTH_MAX} characters; got ${
        JSON.stringify(x)
      }`,
    );
  }
}

/** Partition keys (`topic-p`) a group's members hold, for checks. */
export function heldPartitions(g: GroupState): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [id, c] of g.current) {
    for (const k of [...partitionKeys(c.assigned), ...partitionKeys(c.pendingRevocation)]) {
      out.set(k, [...out.get(k) ?? [], id]);
    }
  }
  return out;
}
