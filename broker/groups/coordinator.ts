/**
 * The group coordinator of one `__consumer_offsets` partition: a pure,
 * deterministic state machine the broker node drives from that partition's
 * leader (see README.md for the driving loop).
 *
 * Every operation that changes something returns `{records, response}` and
 * changes nothing itself; the replicated state changes only in
 * {@link GroupCoordinator.replay}, with records in log order. The driver
 * replays an operation's records before it runs the next operation (so each
 * decision sees the last), and answers the caller only once those records
 * are committed. Time comes in as `nowMs`; topics as a name → partition
 * count view; member ids from the injected `newMemberId`.
 *
 * The one piece of state outside the records is member liveness (last
 * heartbeat, revocation deadline), kept in memory as Kafka does: on
 * becoming leader, {@link GroupCoordinator.activate} gives every member a
 * fresh session.
 *
 * @module
 */

import type { GroupCoordinatorConfig } from "./config.ts";
import { DEFAULT_GROUP_COORDINATOR_CONFIG, RECORDS_PER_OPERATION_MAX } from "./config.ts";
import type { GroupDescription, GroupListing } from "./describe.ts";
import { describeGroup, listGroups } from "./describe.ts";
import { GroupCoordinatorState } from "./group_state.ts";
import type {
  ExpiredMember,
  GroupResult,
  HeartbeatRequest,
  HeartbeatResponse,
  MembershipContext,
} from "./membership.ts";
import { expireMembers, heartbeat, leaveGroup, MemberSessions } from "./membership.ts";
import type {
  FetchedOffset,
  OffsetCommitRequest,
  OffsetCommitResponse,
  OffsetExpiry,
  OffsetToCommit,
} from "./offsets.ts";
import {
  commitOffsets,
  deleteGroup,
  expireOffsets,
  fetchOffsets,
  resetOffsets,
} from "./offsets.ts";
import type { GroupRecord } from "./records.ts";
import { LEAVE_GROUP_MEMBER_EPOCH } from "./records.ts";
import type { TopicsView } from "./subscription.ts";
import { SubscriptionResolver } from "./subscription.ts";
import type { TopicPartitions } from "./assignment.ts";

/** How a coordinator is built. */
export interface GroupCoordinatorOptions {
  readonly config?: Partial<GroupCoordinatorConfig>;
  /** A fresh, unique member id (the node passes `crypto.randomUUID`). */
  readonly newMemberId: () => string;
  /** State already replayed from the partition; empty by default. */
  readonly state?: GroupCoordinatorState;
}

/** One coordinator partition's decisions, replicated state and member liveness. */
export class GroupCoordinator {
  readonly config: GroupCoordinatorConfig;
  readonly state: GroupCoordinatorState;
  readonly #ctx: MembershipContext;

  constructor(options: GroupCoordinatorOptions) {
    this.config = { ...DEFAULT_GROUP_COORDINATOR_CONFIG, ...options.config };
    this.state = options.state ?? new GroupCoordinatorState();
    this.#ctx = {
      config: this.config,
      resolver: new SubscriptionResolver(),
      sessions: new MemberSessions(),
      newMemberId: options.newMemberId,
    };
  }

  /** Applies committed (or about to be committed) records, in log order. */
  replay(records: Iterable<GroupRecord>): void {
    this.state.replayAll(records);
  }

  /** Called after loading the partition as its new leader: every member gets a fresh session. */
  activate(nowMs: number): void {
    this.#ctx.sessions.clear();
    for (const g of this.state.groups.values()) {
      for (const memberId of g.members.keys()) {
        this.#ctx.sessions.set(g.groupId, memberId, {
          lastHeartbeatMs: nowMs,
          revocationDeadlineMs: null,
        });
      }
    }
  }

  /** `POST /v1/groups/{group}/heartbeat`: join, heartbeat or leave (KIP-848). */
  heartbeat(
    req: HeartbeatRequest,
    call: { readonly nowMs: number; readonly topics: TopicsView },
  ): GroupResult<HeartbeatResponse> {
    return heartbeat(this.state, this.#ctx, req, call);
  }

  /** `DELETE /v1/groups/{group}/members/{member}`: the member leaves at once. */
  leaveGroup(groupId: string, memberId: string, nowMs: number): GroupResult<HeartbeatResponse> {
    return leaveGroup(
      this.state,
      this.#ctx,
      { groupId, memberId, memberEpoch: LEAVE_GROUP_MEMBER_EPOCH },
      nowMs,
    );
  }

  /** Removes members past their session or rebalance timeout; run it every few hundred ms. */
  expireMembers(nowMs: number): GroupResult<ExpiredMember[]> {
    return expireMembers(this.state, this.#ctx, nowMs, RECORDS_PER_OPERATION_MAX);
  }

  /** `POST /v1/groups/{group}/offsets`. */
  commitOffsets(req: OffsetCommitRequest, nowMs: number): GroupResult<OffsetCommitResponse> {
    return commitOffsets(this.state, req, nowMs);
  }

  /** `GET /v1/groups/{group}/offsets`: of the given partitions, or all. */
  fetchOffsets(groupId: string, partitions?: readonly TopicPartitions[] | null): FetchedOffset[] {
    return fetchOffsets(this.state, { groupId, partitions });
  }

  /** Sets explicit offsets of a group without members. */
  resetOffsets(
    groupId: string,
    offsets: readonly OffsetToCommit[],
    nowMs: number,
  ): GroupResult<OffsetCommitResponse> {
    return resetOffsets(this.state, { groupId, offsets }, nowMs);
  }

  /** Deletes a group without members, with its offsets. */
  deleteGroup(groupId: string): GroupResult<{ deletedOffsets: number }> {
    return deleteGroup(this.state, groupId);
  }

  /** Expires offsets of empty groups past `offsetsRetentionMs`; run it every few minutes. */
  expireOffsets(nowMs: number): GroupResult<OffsetExpiry> {
    return expireOffsets(
      this.state,
      nowMs,
      this.config.offsetsRetentionMs,
      RECORDS_PER_OPERATION_MAX,
    );
  }

  /** `GET /v1/groups/{group}`. */
  describeGroup(groupId: string): GroupDescription {
    return describeGroup(this.state, groupId, this.config.defaultAssignor);
  }

  /** `GET /v1/groups` (this partition's share). */
  listGroups(): GroupListing[] {
    return listGroups(this.state);
  }
}
