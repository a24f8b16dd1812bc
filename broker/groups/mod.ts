/**
 * The consumer group coordinator (KIP-848 style), as a pure core: membership
 * by heartbeat, server-side sticky assignment reconciled incrementally,
 * static membership, committed offsets with retention, all as records of a
 * `__consumer_offsets` partition. The broker node drives a
 * {@link GroupCoordinator} per partition it leads; see README.md.
 *
 * @module
 */

export * from "./config.ts";
export * from "./coordinator.ts";
export * from "./coordinator_partition.ts";
export * from "./records.ts";
export * from "./assignment.ts";
export { GroupCoordinatorState, NO_CURRENT_ASSIGNMENT } from "./group_state.ts";
export type {
  CommittedOffset,
  CurrentAssignment,
  GroupState,
  MemberMetadata,
} from "./group_state.ts";
export type {
  ExpiredMember,
  ExpiryReason,
  GroupResult,
  HeartbeatRequest,
  HeartbeatResponse,
} from "./membership.ts";
export type {
  FetchedOffset,
  OffsetCommitRequest,
  OffsetCommitResponse,
  OffsetExpiry,
  OffsetToCommit,
} from "./offsets.ts";
export type {
  GroupDescription,
  GroupListing,
  GroupStateName,
  MemberDescription,
} from "./describe.ts";
export { groupStateName } from "./describe.ts";
export type { TopicsView } from "./subscription.ts";
export type { AssignmentInput, AssignmentMember, AssignmentOutput } from "./assignor.ts";
export { chooseAssignor, runAssignor } from "./assignor.ts";
