/**
 * Request bodies of the group routes, parsed into the coordinator's request
 * types. Shapes are checked here (so a bad body is a clear INVALID_REQUEST,
 * never a crash); the coordinator checks the rest (ids, epochs, limits).
 *
 * @module
 */

import { StromError } from "@strom/client";
import type { HeartbeatRequest, OffsetCommitRequest, OffsetToCommit } from "../groups/mod.ts";
import type { AssignorName, TopicPartitions } from "../groups/mod.ts";
import { OFFSETS_PER_COMMIT_MAX } from "../groups/mod.ts";

/** Where a reset moves a group's offsets. */
export type ResetTarget =
  | "earliest"
  | "latest"
  | { readonly timestampMs: number }
  | { readonly offset: number };

/** `POST /v1/groups/{group}/offsets/reset`. */
export interface ResetRequest {
  readonly to: ResetTarget;
  /** Only this topic's partitions; default every topic the group has offsets for. */
  readonly topic?: string;
}

/** The heartbeat body: `{memberId, memberEpoch, instanceId?, rackId?, clientId?, rebalanceTimeoutMs?, subscribedTopicNames? | subscribedTopicRegex?, serverAssignor?, ownedPartitions?}`. */
export function parseHeartbeat(groupId: string, body: unknown): HeartbeatRequest {
  const b = object(body, "the heartbeat body");
  const memberEpoch = b.memberEpoch;
  if (typeof memberEpoch !== "number") {
    throw invalid(`"memberEpoch" must be a number (0 to join, the current epoch, -1 to leave)`);
  }
  return {
    groupId,
    memberId: optionalString(b.memberId, "memberId") ?? "",
    memberEpoch,
    ...nullable(b, "instanceId"),
    ...nullable(b, "rackId"),
    ...(b.clientId === undefined ? {} : { clientId: b.clientId as string }),
    ...(b.rebalanceTimeoutMs === undefined
      ? {}
      : { rebalanceTimeoutMs: b.rebalanceTimeoutMs as number }),
    ...(b.subscribedTopicNames === undefined
      ? {}
      : { subscribedTopicNames: b.subscribedTopicNames as string[] | null }),
    ...nullable(b, "subscribedTopicRegex"),
    ...(b.serverAssignor === undefined
      ? {}
      : { serverAssignor: b.serverAssignor as AssignorName | null }),
    ...(b.ownedPartitions === undefined
      ? {}
      : { ownedPartitions: b.ownedPartitions as TopicPartitions[] | null }),
  };
}

/** The commit body: `{memberId?, memberEpoch?, offsets: [{topic, partition, offset, leaderEpoch?, metadata?}]}`. */
export function parseCommit(groupId: string, body: unknown): OffsetCommitRequest {
  const b = object(body, "the commit body");
  const memberId = optionalString(b.memberId, "memberId");
  if (b.memberEpoch !== undefined && typeof b.memberEpoch !== "number") {
    throw invalid(`"memberEpoch" must be a number`);
  }
  return {
    groupId,
    ...(memberId === undefined ? {} : { memberId }),
    ...(b.memberEpoch === undefined ? {} : { memberEpoch: b.memberEpoch as number }),
    offsets: parseOffsets(b.offsets),
  };
}

/** The reset body: `{to: "earliest" | "latest" | {timestampMs} | {offset}, topic?}`. */
export function parseReset(body: unknown): ResetRequest {
  const b = object(body, "the reset body");
  const topic = optionalString(b.topic, "topic");
  const to = b.to;
  let target: ResetTarget;
  if (to === "earliest" || to === "latest") target = to;
  else if (isObject(to) && isWhole(to.timestampMs)) target = { timestampMs: to.timestampMs };
  else if (isObject(to) && isWhole(to.offset)) target = { offset: to.offset };
  else {
    throw invalid(
      `"to" must be "earliest", "latest", {"timestampMs": n} or {"offset": n}; got ${
        JSON.stringify(to ?? null)
      }`,
    );
  }
  return { to: target, ...(topic === undefined ? {} : { topic }) };
}

function parseOffsets(raw: unknown): OffsetToCommit[] {
  if (!Array.isArray(raw)) {
    throw invalid(`"offsets" must be a list of {topic, partition, offset}`);
  }
  if (raw.length > OFFSETS_PER_COMMIT_MAX) {
    throw new StromError(
      "INVALID_COMMIT_OFFSET_SIZE",
      `${raw.length} offsets in one commit; at most ${OFFSETS_PER_COMMIT_MAX}`,
    );
  }
  return raw.map((o, i) => {
    if (
      !isObject(o) || typeof o.topic !== "string" || !isWhole(o.partition) || !isWhole(o.offset)
    ) {
      throw invalid(
        `offsets[${i}] must be {topic: string, partition: integer ≥ 0, offset: integer ≥ 0}`,
      );
    }
    if (o.metadata !== undefined && typeof o.metadata !== "string") {
      throw invalid(`offsets[${i}].metadata must be a string`);
    }
    if (
      o.leaderEpoch !== undefined && o.leaderEpoch !== null && !Number.isSafeInteger(o.leaderEpoch)
    ) {
      throw invalid(`offsets[${i}].leaderEpoch must be an integer or null`);
    }
    return {
      topic: o.topic,
      partition: o.partition,
      offset: o.offset,
      ...(o.leaderEpoch === undefined ? {} : { leaderEpoch: o.leaderEpoch as number | null }),
      ...(o.metadata === undefined ? {} : { metadata: o.metadata as string }),
    };
  });
}

function object(body: unknown, what: string): Record<string, unknown> {
  if (!isObject(body)) throw invalid(`${what} must be a JSON object`);
  return body;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function isWhole(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}

function optionalString(x: unknown, name: string): string | undefined {
  if (x === undefined || x === null) return undefined;
  if (typeof x !== "string") throw invalid(`"${name}" must be a string`);
  return x;
}

function nullable(b: Record<string, unknown>, name: string): Record<string, unknown> {
  const x = b[name];
  if (x === undefined) return {};
  if (x !== null && typeof x !== "string") throw invalid(`"${name}" must be a string or null`);
  return { [name]: x };
}

function invalid(message: string): StromError {
  return new StromError("INVALID_REQUEST", message);
}
