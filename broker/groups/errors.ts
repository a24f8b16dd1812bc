/**
 * The errors the group coordinator answers with: {@link StromError}s from
 * the shared table, built here so that messages stay consistent and say what
 * the caller should do.
 *
 * @module
 */

import { StromError } from "@strom/client";

export { StromError };

/** The member is not (or no longer) in the group: rejoin with epoch 0. */
export function unknownMember(groupId: string, memberId: string, why = ""): StromError {
  return new StromError(
    "UNKNOWN_MEMBER_ID",
    `member '${memberId}' is not in group '${groupId}'${why ? ` (${why})` : ""}; ` +
      `release all partitions and rejoin with member epoch 0`,
    { details: { groupId, memberId } },
  );
}

/** The member's epoch does not match the coordinator's: rejoin with epoch 0. */
export function fencedMemberEpoch(
  groupId: string,
  memberId: string,
  requestEpoch: number,
  memberEpoch: number,
): StromError {
  return new StromError(
    "FENCED_MEMBER_EPOCH",
    `member '${memberId}' of group '${groupId}' sent epoch ${requestEpoch} but is at epoch ${memberEpoch}; ` +
      `release all partitions and rejoin with member epoch 0`,
    { details: { groupId, memberId, requestEpoch, memberEpoch } },
  );
}

/** An offset commit from an outdated member epoch. */
export function staleMemberEpoch(
  groupId: string,
  memberId: string,
  requestEpoch: number,
  memberEpoch: number,
): StromError {
  return new StromError(
    "STALE_MEMBER_EPOCH",
    `offset commit of member '${memberId}' in group '${groupId}' carries epoch ${requestEpoch}, ` +
      `but the member is at epoch ${memberEpoch}; heartbeat, then commit what you still own`,
    { details: { groupId, memberId, requestEpoch, memberEpoch } },
  );
}

/** The request is malformed. */
export function invalidRequest(message: string): StromError {
  return new StromError("INVALID_REQUEST", message);
}

/** The group id is empty or too long. */
export function invalidGroupId(groupId: unknown, max: number): StromError {
  return new StromError(
    "INVALID_GROUP_ID",
    `group id must be a string of 1 to ${max} characters; got ${JSON.stringify(groupId)}`,
  );
}

/** The group does not exist. */
export function groupNotFound(groupId: string): StromError {
  return new StromError("GROUP_ID_NOT_FOUND", `group '${groupId}' does not exist`, {
    details: { groupId },
  });
}

/** The operation needs a group without members. */
export function nonEmptyGroup(groupId: string, members: number, what: string): StromError {
  return new StromError(
    "NON_EMPTY_GROUP",
    `cannot ${what} group '${groupId}': it has ${members} active member(s); stop its consumers first`,
    { details: { groupId, members } },
  );
}

/** An offset commit for a partition the member does not (or no longer) hold. */
export function notAssigned(
  groupId: string,
  memberId: string,
  partition: string,
  memberEpoch: number,
): StromError {
  return new StromError(
    "STALE_MEMBER_EPOCH",
    `member '${memberId}' of group '${groupId}' commits ${partition}, which is not assigned to it ` +
      `at epoch ${memberEpoch} (it was revoked); commit only partitions you still own`,
    { details: { groupId, memberId, partition, memberEpoch } },
  );
}
