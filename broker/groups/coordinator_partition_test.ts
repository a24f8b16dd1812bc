import assert from "node:assert/strict";
import {
  groupCoordinatorPartition,
  javaStringHashCode,
  kafkaAbs,
} from "./coordinator_partition.ts";

Deno.test("javaStringHashCode() matches Java's String.hashCode()", () => {
  assert.equal(javaStringHashCode(""), 0);
  assert.equal(javaStringHashCode("a"), 97);
  assert.equal(javaStringHashCode("hello"), 99162322);
  assert.equal(javaStringHashCode("Aa"), javaStringHashCode("BB"));
  // Overflows wrap at 32 bits: this one is Integer.MIN_VALUE.
  assert.equal(javaStringHashCode("polygenelubricants"), -2147483648);
  // UTF-16 code units, as Java counts them.
  assert.equal(javaStringHashCode("😀"), 0xd83d * 31 + 0xde00);
});

Deno.test("groupCoordinatorPartition() is abs(hashCode) % partitions, with Kafka's abs of Integer.MIN_VALUE", () => {
  assert.equal(kafkaAbs(-2147483648), 0);
  assert.equal(kafkaAbs(-5), 5);
  assert.equal(groupCoordinatorPartition("hello", 50), 99162322 % 50);
  assert.equal(groupCoordinatorPartition("polygenelubricants", 50), 0);
  // A negative hash: the partition is taken from its absolute value.
  const negative = "my-consumer-group-0";
  assert.ok(javaStringHashCode(negative) < 0);
  assert.equal(groupCoordinatorPartition(negative, 7), 1322913908 % 7);
  assert.throws(() => groupCoordinatorPartition("g", 0), RangeError);
});
