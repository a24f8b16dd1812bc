import assert from "node:assert/strict";
import fc from "fast-check";
import { StromError } from "@strom/client";
import type { GroupRecord } from "./records.ts";
import { decodeGroupRecord, encodeGroupRecord, encodeRecordKey, recordKey } from "./records.ts";

const SAMPLES: GroupRecord[] = [
  { type: "GroupMetadata", groupId: "g", epoch: 3, emptySinceMs: null },
  { type: "GroupMetadata", groupId: "g", epoch: 4, emptySinceMs: 1_700_000_000_000 },
  { type: "GroupSubscription", groupId: "g", topics: [["a", 3], ["b", 1]] },
  {
    type: "MemberMetadata",
    groupId: "g",
    memberId: "m",
    instanceId: "host-1",
    rackId: "r1",
    clientId: "app",
    subscribedTopicNames: ["a", "b"],
    subscribedTopicRegex: null,
    serverAssignor: "range",
    rebalanceTimeoutMs: 30_000,
  },
  { type: "TargetAssignmentMetadata", groupId: "g", assignmentEpoch: 3 },
  {
    type: "TargetAssignmentMember",
    groupId: "g",
    memberId: "m",
    partitions: [{ topic: "a", partitions: [0, 2] }],
  },
  {
    type: "CurrentAssignment",
    groupId: "g",
    memberId: "m",
    memberEpoch: 3,
    previousMemberEpoch: 2,
    state: "unrevoked_partitions",
    assigned: [{ topic: "a", partitions: [0] }],
    pendingRevocation: [{ topic: "b", partitions: [0] }],
  },
  {
    type: "OffsetCommit",
    groupId: "g",
    topic: "a",
    partition: 2,
    offset: 99,
    leaderEpoch: 4,
    metadata: "héllo",
    commitTimestampMs: 5,
  },
  { type: "Tombstone", key: { kind: "OffsetCommit", groupId: "g", topic: "a", partition: 2 } },
  { type: "Tombstone", key: { kind: "MemberMetadata", groupId: "g", memberId: "m" } },
  { type: "Tombstone", key: { kind: "GroupMetadata", groupId: "g" } },
];

Deno.test("every record kind survives encode and decode unchanged", () => {
  for (const r of SAMPLES) {
    const { key, value } = encodeGroupRecord(r);
    assert.deepEqual(decodeGroupRecord(key, value), r);
    assert.equal(value === null, r.type === "Tombstone");
  }
});

Deno.test("a tombstone has the same key bytes as the record it deletes, and keys of different things differ", () => {
  const keys = SAMPLES.map((r) => new TextDecoder().decode(encodeRecordKey(recordKey(r))));
  assert.equal(keys[7], keys[8], "offset and its tombstone");
  assert.equal(keys[3], keys[9], "member metadata and its tombstone");
  assert.equal(keys[0], keys[1], "two group metadata records");
  const distinct = new Set([keys[0], keys[2], keys[3], keys[4], keys[5], keys[6], keys[7]]);
  assert.equal(distinct.size, 7);
});

Deno.test("decodeGroupRecord() rejects bad bytes with CORRUPT_MESSAGE and nothing else", () => {
  const utf8 = (s: string) => new TextEncoder().encode(s);
  const bad: [string, string | null][] = [
    ["not json", "{}"],
    ['[0,"zz","g"]', '{"v":0}'],
    ['[1,"g","g"]', '{"v":0,"epoch":1,"emptySinceMs":null}'],
    ['[0,"g",""]', '{"v":0,"epoch":1,"emptySinceMs":null}'],
    ['[0,"g","g"]', '{"v":0,"epoch":"1","emptySinceMs":null}'],
    ['[0,"g","g"]', '{"v":1,"epoch":1,"emptySinceMs":null}'],
    ['[0,"o","g","t",-1]', '{"v":0}'],
    ['[0,"ca","g"]', null],
    [
      '[0,"ca","g","m"]',
      '{"v":0,"memberEpoch":1,"previousMemberEpoch":0,"state":"odd","assigned":[],"pendingRevocation":[]}',
    ],
    ['[0,"tm","g","m"]', '{"v":0,"partitions":[["a",[1.5]]]}'],
  ];
  for (const [k, v] of bad) {
    assert.throws(
      () => decodeGroupRecord(utf8(k), v === null ? null : utf8(v)),
      (e: unknown) => e instanceof StromError && e.code === "CORRUPT_MESSAGE",
      `${k} / ${v}`,
    );
  }
  assert.throws(
    () => decodeGroupRecord(new Uint8Array([0xff, 0xfe]), null),
    (e: unknown) => e instanceof StromError && e.code === "CORRUPT_MESSAGE",
  );
});

Deno.test("decodeGroupRecord() throws only StromError on arbitrary bytes and JSON", () => {
  const onlyCorrupt = (key: Uint8Array, value: Uint8Array | null) => {
    try {
      decodeGroupRecord(key, value);
    } catch (e) {
      assert.ok(e instanceof StromError && e.code === "CORRUPT_MESSAGE", String(e));
    }
  };
  const enc = (x: unknown) => new TextEncoder().encode(JSON.stringify(x));
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 64 }),
      fc.option(fc.uint8Array({ maxLength: 64 })),
      onlyCorrupt,
    ),
    { seed: 1, numRuns: 500 },
  );
  fc.assert(
    fc.property(
      fc.tuple(
        fc.constant(0),
        fc.constantFrom("g", "s", "ta", "m", "tm", "ca", "o"),
        fc.jsonValue(),
        fc.jsonValue(),
      ),
      fc.dictionary(
        fc.constantFrom("v", "epoch", "topics", "partitions", "assigned", "state", "offset"),
        fc.jsonValue(),
      ),
      (key, value) => onlyCorrupt(enc(key), enc(value)),
    ),
    { seed: 2, numRuns: 500 },
  );
});
