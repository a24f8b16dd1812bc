import assert from "node:assert/strict";
import fc from "fast-check";
import type { MetadataImage } from "./image.ts";
import {
  decodeImageSnapshot,
  EMPTY_IMAGE,
  encodeImageSnapshot,
  imageHash,
  MetadataReplayError,
  replay,
  topicByName,
} from "./image.ts";
import type { MetadataRecord } from "./records.ts";
import { decodeRecords, encodeRecords } from "./records.ts";

const BROKERS: MetadataRecord[] = [1, 2, 3].map((id) => ({
  type: "RegisterBroker",
  brokerId: id,
  incarnationId: `i${id}`,
  directoryId: `d${id}`,
  brokerEpoch: id,
  clientUrl: `http://b${id}`,
  internalUrl: `http://b${id}i`,
  rack: null,
}));

const TOPIC: MetadataRecord[] = [
  { type: "Topic", name: "t", topicId: "T" },
  {
    type: "Partition",
    topicId: "T",
    partition: 0,
    replicas: [1, 2, 3],
    isr: [1, 2, 3],
    leader: 1,
    leaderEpoch: 0,
    partitionEpoch: 0,
  },
];

function base(): MetadataImage {
  return replay(replay(EMPTY_IMAGE, BROKERS, 1), TOPIC, 2);
}

Deno.test("replay() builds brokers, topics and partitions", () => {
  const image = base();
  assert.equal(image.offset, 2);
  assert.equal(image.brokers.get(2)!.registeredAtOffset, 1);
  assert.equal(image.brokers.get(2)!.fenced, true, "brokers register fenced");
  assert.deepEqual(topicByName(image, "t")!.partitions[0].isr, [1, 2, 3]);
});

Deno.test("replay() rejects a change that breaks an invariant and leaves the image alone", () => {
  const image = base();
  const bad: [string, MetadataRecord][] = [
    ["leader outside the ISR", {
      type: "PartitionChange",
      topicId: "T",
      partition: 0,
      leader: 3,
      isr: [1, 2],
      leaderEpoch: 1,
      partitionEpoch: 1,
    }],
    ["a skipped partition epoch", {
      type: "PartitionChange",
      topicId: "T",
      partition: 0,
      leader: 1,
      isr: [1, 2],
      leaderEpoch: 0,
      partitionEpoch: 2,
    }],
    ["a leader change without a leader epoch bump", {
      type: "PartitionChange",
      topicId: "T",
      partition: 0,
      leader: 2,
      isr: [1, 2],
      leaderEpoch: 0,
      partitionEpoch: 1,
    }],
    ["an empty ISR with a leader", {
      type: "PartitionChange",
      topicId: "T",
      partition: 0,
      leader: 1,
      isr: [],
      leaderEpoch: 1,
      partitionEpoch: 1,
    }],
    ["a duplicate topic", { type: "Topic", name: "t", topicId: "U" }],
    ["a stale broker epoch", { type: "UnfenceBroker", brokerId: 1, brokerEpoch: 9 }],
    ["a reused broker epoch", { ...(BROKERS[0] as object), brokerEpoch: 3 } as MetadataRecord],
  ];
  for (const [what, record] of bad) {
    assert.throws(() => replay(image, [record], 3), MetadataReplayError, what);
  }
  assert.equal(image.offset, 2);
  assert.deepEqual(topicByName(image, "t")!.partitions[0].isr, [1, 2, 3]);
});

Deno.test("replay() shares untouched topics with the previous image", () => {
  const image = replay(base(), [{ type: "Topic", name: "u", topicId: "U" }], 3);
  const next = replay(
    image,
    [{ type: "Config", topicId: "U", key: "retention.ms", value: "5" }],
    4,
  );
  assert.equal(next.topics.get("T"), image.topics.get("T"));
  assert.notEqual(next.topics.get("U"), image.topics.get("U"));
});

Deno.test("a snapshot round trip keeps the image hash", async () => {
  const image = replay(base(), [{ type: "UnfenceBroker", brokerId: 2, brokerEpoch: 2 }], 3);
  const back = decodeImageSnapshot(encodeImageSnapshot(image));
  assert.equal(await imageHash(back), await imageHash(image));
  assert.deepEqual(topicByName(back, "t"), topicByName(image, "t"));
});

Deno.test("records survive encoding, in any order of valid changes", () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 20 }), (leaders) => {
      let image = base();
      const records: MetadataRecord[][] = [];
      for (const leader of leaders) {
        const p = topicByName(image, "t")!.partitions[0];
        const change: MetadataRecord = {
          type: "PartitionChange",
          topicId: "T",
          partition: 0,
          leader,
          isr: [1, 2, 3],
          leaderEpoch: leader === p.leader ? p.leaderEpoch : p.leaderEpoch + 1,
          partitionEpoch: p.partitionEpoch + 1,
        };
        records.push([change]);
        image = replay(image, decodeRecords(encodeRecords([change])), image.offset + 1);
      }
      const p = topicByName(image, "t")!.partitions[0];
      assert.equal(p.partitionEpoch, leaders.length);
      assert.ok(p.leaderEpoch <= leaders.length);
    }),
    { seed: 42, numRuns: 200 },
  );
});

Deno.test("decodeRecords() refuses unknown record types", () => {
  assert.throws(
    () => decodeRecords(new TextEncoder().encode('[{"type":"Bogus"}]')),
    /unknown metadata record type "Bogus"/,
  );
  assert.throws(() => decodeRecords(new TextEncoder().encode("{}")), /not a list/);
  assert.throws(() => encodeRecords([]), RangeError);
});
