/**
 * The records of a `__consumer_offsets` partition (Kafka's KIP-848 group
 * records plus offset commits) and their key/value encoding.
 *
 * Invariants:
 * - a record's key names exactly what it describes (a group, a member of a
 *   group, or a committed partition), so a compacted topic keeps the latest
 *   record of each and replaying what compaction kept rebuilds the same
 *   state as replaying the whole partition;
 * - a tombstone is the same key with a null value: it deletes what the key
 *   names, and compaction drops it (and everything before it) eventually;
 * - records state results, never intentions: replay needs no decisions.
 *
 * The partition also holds the coordinator runtime's leadership barrier
 * records (`broker/group_coordinator/leadership_barrier.ts`); they are not
 * group records, and loading skips them before decoding.
 *
 * Encoding: the key is UTF-8 JSON `[0, kind, ...fields]` (0 = key version),
 * the value UTF-8 JSON `{"v": 0, ...}` or null. JSON arrays and objects
 * written by {@link encodeGroupRecord} have a fixed field order, so equal
 * keys are equal bytes. {@link decodeGroupRecord} validates every field and
 * throws only {@link StromError} `CORRUPT_MESSAGE`.
 *
 * @module
 */

import { StromError } from "@strom/client";
import type { TopicPartitions } from "./assignment.ts";
import { assignmentFromList, assignmentToList } from "./assignment.ts";
import type { AssignorName } from "./config.ts";
import { ASSIGNOR_NAMES } from "./config.ts";

/**
 * Where a member is in reconciling toward its target (Kafka's MemberState):
 * `stable` — it owns its whole assignment at its epoch;
 * `unrevoked_partitions` — it must first give up `pendingRevocation`;
 * `unreleased_partitions` — some target partitions are still owned by others.
 */
export type MemberState = "stable" | "unrevoked_partitions" | "unreleased_partitions";

/** The member epoch of a static member that left temporarily (Kafka's -2). */
export const LEAVE_GROUP_STATIC_MEMBER_EPOCH = -2;
/** The member epoch that asks to leave (Kafka's -1). */
export const LEAVE_GROUP_MEMBER_EPOCH = -1;
/** The member epoch of a join. */
export const JOIN_GROUP_MEMBER_EPOCH = 0;

/** The group exists, at this epoch. `emptySinceMs` is set while it has no members. */
export interface GroupMetadataRecord {
  readonly type: "GroupMetadata";
  readonly groupId: string;
  readonly epoch: number;
  readonly emptySinceMs: number | null;
}

/** The partition counts of the topics the group's members subscribe to, as last assigned. */
export interface GroupSubscriptionRecord {
  readonly type: "GroupSubscription";
  readonly groupId: string;
  /** Topic name → partition count, in name order. */
  readonly topics: readonly (readonly [string, number])[];
}

/** A member's identity and subscription, as the coordinator keeps it. */
export interface MemberMetadata {
  readonly memberId: string;
  readonly instanceId: string | null;
  readonly rackId: string | null;
  readonly clientId: string;
  /** Sorted; empty when the member subscribes by regex. */
  readonly subscribedTopicNames: readonly string[];
  readonly subscribedTopicRegex: string | null;
  readonly serverAssignor: AssignorName | null;
  readonly rebalanceTimeoutMs: number;
}

/** The record of a member's identity and subscription. */
export interface MemberMetadataRecord extends MemberMetadata {
  readonly type: "MemberMetadata";
  readonly groupId: string;
}

/** The target assignment was computed for this group epoch. */
export interface TargetAssignmentMetadataRecord {
  readonly type: "TargetAssignmentMetadata";
  readonly groupId: string;
  readonly assignmentEpoch: number;
}

/** One member's target assignment. */
export interface TargetAssignmentMemberRecord {
  readonly type: "TargetAssignmentMember";
  readonly groupId: string;
  readonly memberId: string;
  readonly partitions: readonly TopicPartitions[];
}

/** What a member owns now and what it must give up. */
export interface CurrentAssignmentRecord {
  readonly type: "CurrentAssignment";
  readonly groupId: string;
  readonly memberId: string;
  readonly memberEpoch: number;
  readonly previousMemberEpoch: number;
  readonly state: MemberState;
  readonly assigned: readonly TopicPartitions[];
  readonly pendingRevocation: readonly TopicPartitions[];
}

/** A committed offset. */
export interface OffsetCommitRecord {
  readonly type: "OffsetCommit";
  readonly groupId: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly leaderEpoch: number | null;
  readonly metadata: string;
  readonly commitTimestampMs: number;
}

/** What a key names. */
export type GroupRecordKey =
  | { readonly kind: "GroupMetadata"; readonly groupId: string }
  | { readonly kind: "GroupSubscription"; readonly groupId: string }
  | { readonly kind: "TargetAssignmentMetadata"; readonly groupId: string }
  | {
    readonly kind: "MemberMetadata" | "TargetAssignmentMember" | "CurrentAssignment";
    readonly groupId: string;
    readonly memberId: string;
  }
  | {
    readonly kind: "OffsetCommit";
    readonly groupId: string;
    readonly topic: string;
    readonly partition: number;
  };

/** Deletes what its key names. */
export interface TombstoneRecord {
  readonly type: "Tombstone";
  readonly key: GroupRecordKey;
}

/** Every record of a `__consumer_offsets` partition. */
export type GroupRecord =
  | GroupMetadataRecord
  | GroupSubscriptionRecord
  | MemberMetadataRecord
  | TargetAssignmentMetadataRecord
  | TargetAssignmentMemberRecord
  | CurrentAssignmentRecord
  | OffsetCommitRecord
  | TombstoneRecord;

/** A record as the partition stores it. */
export interface EncodedGroupRecord {
  readonly key: Uint8Array;
  /** Null for a tombstone. */
  readonly value: Uint8Array | null;
}

const KIND_CODES = {
  GroupMetadata: "g",
  GroupSubscription: "s",
  TargetAssignmentMetadata: "ta",
  MemberMetadata: "m",
  TargetAssignmentMember: "tm",
  CurrentAssignment: "ca",
  OffsetCommit: "o",
} as const;
type Kind = keyof typeof KIND_CODES;
const KINDS_BY_CODE = new Map<string, Kind>(
  Object.entries(KIND_CODES).map(([kind, code]) => [code, kind as Kind]),
);
const MEMBER_STATES: readonly MemberState[] = [
  "stable",
  "unrevoked_partitions",
  "unreleased_partitions",
];
const KEY_VERSION = 0;
const VALUE_VERSION = 0;

/** The key of a record (a tombstone's is the key it deletes). */
export function recordKey(r: GroupRecord): GroupRecordKey {
  switch (r.type) {
    case "Tombstone":
      return r.key;
    case "GroupMetadata":
    case "GroupSubscription":
    case "TargetAssignmentMetadata":
      return { kind: r.type, groupId: r.groupId };
    case "MemberMetadata":
    case "TargetAssignmentMember":
    case "CurrentAssignment":
      return { kind: r.type, groupId: r.groupId, memberId: r.memberId };
    case "OffsetCommit":
      return { kind: r.type, groupId: r.groupId, topic: r.topic, partition: r.partition };
  }
}

/** The key's bytes; equal keys give equal bytes. */
export function encodeRecordKey(key: GroupRecordKey): Uint8Array {
  const fields: unknown[] = [KEY_VERSION, KIND_CODES[key.kind], key.groupId];
  if ("memberId" in key) fields.push(key.memberId);
  if ("topic" in key) fields.push(key.topic, key.partition);
  return utf8.encode(JSON.stringify(fields));
}

/** Encodes a record into the key and value of a `__consumer_offsets` record. */
export function encodeGroupRecord(r: GroupRecord): EncodedGroupRecord {
  const key = encodeRecordKey(recordKey(r));
  const value = valueOf(r);
  return { key, value: value === null ? null : utf8.encode(JSON.stringify(value)) };
}

function valueOf(r: GroupRecord): Record<string, unknown> | null {
  const v = VALUE_VERSION;
  switch (r.type) {
    case "Tombstone":
      return null;
    case "GroupMetadata":
      return { v, epoch: r.epoch, emptySinceMs: r.emptySinceMs };
    case "GroupSubscription":
      return { v, topics: [...r.topics].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0) };
    case "MemberMetadata":
      return {
        v,
        instanceId: r.instanceId,
        rackId: r.rackId,
        clientId: r.clientId,
        topics: [...r.subscribedTopicNames].sort(),
        regex: r.subscribedTopicRegex,
        assignor: r.serverAssignor,
        rebalanceTimeoutMs: r.rebalanceTimeoutMs,
      };
    case "TargetAssignmentMetadata":
      return { v, assignmentEpoch: r.assignmentEpoch };
    case "TargetAssignmentMember":
      return { v, partitions: partitionsJson(r.partitions) };
    case "CurrentAssignment":
      return {
        v,
        memberEpoch: r.memberEpoch,
        previousMemberEpoch: r.previousMemberEpoch,
        state: r.state,
        assigned: partitionsJson(r.assigned),
        pendingRevocation: partitionsJson(r.pendingRevocation),
      };
    case "OffsetCommit":
      return {
        v,
        offset: r.offset,
        leaderEpoch: r.leaderEpoch,
        metadata: r.metadata,
        commitTimestampMs: r.commitTimestampMs,
      };
  }
}

function partitionsJson(list: readonly TopicPartitions[]): [string, number[]][] {
  return assignmentToList(assignmentFromList(list)).map((tp) => [tp.topic, [...tp.partitions]]);
}

/**
 * Decodes a `__consumer_offsets` record.
 *
 * @throws {StromError} `CORRUPT_MESSAGE` when the bytes are not a record this
 * version wrote.
 */
export function decodeGroupRecord(key: Uint8Array, value: Uint8Array | null): GroupRecord {
  const k = decodeKey(key);
  if (value === null) return { type: "Tombstone", key: k };
  const json = parseJson(value, "value");
  if (!isObject(json)) throw corrupt("value is not a JSON object");
  const val = new Fields(json, `${k.kind} value`);
  if (val.int("v") !== VALUE_VERSION) throw corrupt(`unknown value version ${json.v}`);
  const g = k.groupId;
  switch (k.kind) {
    case "GroupMetadata":
      return {
        type: k.kind,
        groupId: g,
        epoch: val.int("epoch"),
        emptySinceMs: val.nullable("emptySinceMs", (x) => val.intOf(x, "emptySinceMs")),
      };
    case "GroupSubscription":
      return { type: k.kind, groupId: g, topics: val.topicCounts("topics") };
    case "TargetAssignmentMetadata":
      return { type: k.kind, groupId: g, assignmentEpoch: val.int("assignmentEpoch") };
    case "MemberMetadata":
      return {
        type: k.kind,
        groupId: g,
        memberId: k.memberId,
        instanceId: val.nullable("instanceId", (x) => val.strOf(x, "instanceId")),
        rackId: val.nullable("rackId", (x) => val.strOf(x, "rackId")),
        clientId: val.str("clientId"),
        subscribedTopicNames: val.strings("topics"),
        subscribedTopicRegex: val.nullable("regex", (x) => val.strOf(x, "regex")),
        serverAssignor: val.nullable("assignor", (x) => val.assignor(x)),
        rebalanceTimeoutMs: val.int("rebalanceTimeoutMs"),
      };
    case "TargetAssignmentMember":
      return { type: k.kind, groupId: g, memberId: k.memberId, partitions: val.tps("partitions") };
    case "CurrentAssignment":
      return {
        type: k.kind,
        groupId: g,
        memberId: k.memberId,
        memberEpoch: val.int("memberEpoch"),
        previousMemberEpoch: val.int("previousMemberEpoch"),
        state: val.memberState("state"),
        assigned: val.tps("assigned"),
        pendingRevocation: val.tps("pendingRevocation"),
      };
    case "OffsetCommit":
      return {
        type: k.kind,
        groupId: g,
        topic: k.topic,
        partition: k.partition,
        offset: val.int("offset"),
        leaderEpoch: val.nullable("leaderEpoch", (x) => val.intOf(x, "leaderEpoch")),
        metadata: val.str("metadata"),
        commitTimestampMs: val.int("commitTimestampMs"),
      };
  }
}

function decodeKey(bytes: Uint8Array): GroupRecordKey {
  const json = parseJson(bytes, "key");
  if (!Array.isArray(json) || json.length < 3) {
    throw corrupt("key is not a JSON array [0, kind, ...]");
  }
  if (json[0] !== KEY_VERSION) throw corrupt(`unknown key version ${JSON.stringify(json[0])}`);
  const kind = typeof json[1] === "string" ? KINDS_BY_CODE.get(json[1]) : undefined;
  if (!kind) throw corrupt(`unknown record kind ${JSON.stringify(json[1])}`);
  const [, , groupId, a, b] = json;
  if (!isId(groupId)) throw corrupt("key has no group id");
  switch (kind) {
    case "GroupMetadata":
    case "GroupSubscription":
    case "TargetAssignmentMetadata":
      if (json.length !== 3) throw corrupt(`${kind} key has ${json.length} fields, not 3`);
      return { kind, groupId };
    case "MemberMetadata":
    case "TargetAssignmentMember":
    case "CurrentAssignment":
      if (json.length !== 4 || !isId(a)) throw corrupt(`${kind} key needs a member id`);
      return { kind, groupId, memberId: a };
    case "OffsetCommit":
      if (json.length !== 5 || !isId(a) || !isNonNegativeInt(b)) {
        throw corrupt("OffsetCommit key needs a topic and a partition");
      }
      return { kind, groupId, topic: a, partition: b };
  }
}

/** Typed access to a decoded JSON object; every getter throws CORRUPT_MESSAGE. */
class Fields {
  constructor(readonly o: Record<string, unknown>, readonly what: string) {}

  int(name: string): number {
    return this.intOf(this.o[name], name);
  }
  intOf(x: unknown, name: string): number {
    if (typeof x !== "number" || !Number.isSafeInteger(x)) throw this.bad(name, "an integer");
    return x;
  }
  str(name: string): string {
    return this.strOf(this.o[name], name);
  }
  strOf(x: unknown, name: string): string {
    if (typeof x !== "string") throw this.bad(name, "a string");
    return x;
  }
  nullable<T>(name: string, read: (x: unknown) => T): T | null {
    const x = this.o[name];
    return x === null ? null : read(x);
  }
  strings(name: string): string[] {
    const x = this.o[name];
    if (!Array.isArray(x) || !x.every(isId)) throw this.bad(name, "a list of names");
    return x;
  }
  assignor(x: unknown): AssignorName {
    if (!ASSIGNOR_NAMES.includes(x as AssignorName)) throw this.bad("assignor", "an assignor");
    return x as AssignorName;
  }
  memberState(name: string): MemberState {
    const x = this.o[name];
    if (!MEMBER_STATES.includes(x as MemberState)) throw this.bad(name, "a member state");
    return x as MemberState;
  }
  topicCounts(name: string): [string, number][] {
    const x = this.o[name];
    const ok = Array.isArray(x) &&
      x.every((e) => Array.isArray(e) && e.length === 2 && isId(e[0]) && isNonNegativeInt(e[1]));
    if (!ok) throw this.bad(name, "a list of [topic, partition count]");
    return x as [string, number][];
  }
  tps(name: string): TopicPartitions[] {
    const x = this.o[name];
    const ok = Array.isArray(x) &&
      x.every((e) =>
        Array.isArray(e) && e.length === 2 && isId(e[0]) && Array.isArray(e[1]) &&
        e[1].every(isNonNegativeInt)
      );
    if (!ok) throw this.bad(name, "a list of [topic, partitions]");
    return (x as [string, number[]][]).map(([topic, partitions]) => ({ topic, partitions }));
  }
  bad(name: string, expected: string): StromError {
    return corrupt(`${this.what}: field '${name}' is not ${expected}`);
  }
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder("utf-8", { fatal: true });

function parseJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(utf8Strict.decode(bytes));
  } catch (e) {
    throw corrupt(`${what} is not UTF-8 JSON (${(e as Error).message})`);
  }
}

function corrupt(why: string): StromError {
  return new StromError(
    "CORRUPT_MESSAGE",
    `bad __consumer_offsets record: ${why}; the partition holds bytes this broker did not write`,
  );
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function isId(x: unknown): x is string {
  return typeof x === "string" && x.length > 0;
}

function isNonNegativeInt(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}
