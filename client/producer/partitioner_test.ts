import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import fc from "fast-check";
import { Partitioners } from "kafkajs";
import { murmur2, partitionForKey } from "./partitioner.ts";

const utf8 = new TextEncoder();

Deno.test("murmur2 matches the Java client's published values", () => {
  // Values from Kafka's UtilsTest.testMurmur2 (Java int results).
  const cases: [string, number][] = [
    ["21", -973932308],
    ["foobar", -790332482],
    ["a-little-bit-long-string", -985981536],
    ["a-little-bit-longer-string", -1486304829],
    ["lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971],
    ["abc", 479470107],
  ];
  for (const [key, expected] of cases) assert.equal(murmur2(utf8.encode(key)), expected, key);
});

Deno.test("partitionForKey picks the same partition as KafkaJS's default partitioner", () => {
  const kafkajs = Partitioners.DefaultPartitioner();
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 64 }),
      fc.integer({ min: 1, max: 512 }),
      (key, count) => {
        const partitionMetadata = Array.from({ length: count }, (_, i) => ({
          partitionErrorCode: 0,
          partitionId: i,
          leader: 0,
          replicas: [0],
          isr: [0],
        }));
        const theirs = kafkajs({
          topic: "t",
          partitionMetadata,
          message: { key: Buffer.from(key), value: null },
        });
        assert.equal(partitionForKey(key, count), theirs);
      },
    ),
    { numRuns: 500, seed: 20261121 },
  );
});

Deno.test("partitionForKey refuses a partition count below one", () => {
  assert.throws(() => partitionForKey(utf8.encode("k"), 0), RangeError);
});
