/**
 * Which `__consumer_offsets` partition coordinates a group — Kafka's
 * `Utils.abs(groupId.hashCode()) % groupMetadataTopicPartitionCount`, so a
 * group lands on the same partition number as it would in Kafka.
 *
 * @module
 */

/** The internal topic holding group metadata and committed offsets. */
export const GROUP_METADATA_TOPIC = "__consumer_offsets";

/** Kafka's `offsets.topic.num.partitions` default. */
export const GROUP_METADATA_PARTITIONS_DEFAULT = 50;

/** Java's `String.hashCode()`: `s[0]*31^(n-1) + … + s[n-1]` over UTF-16 code units, in 32-bit ints. */
export function javaStringHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

/** Kafka's `Utils.abs`: like `Math.abs`, but maps -2^31 to 0 instead of overflowing. */
export function kafkaAbs(n: number): number {
  return n === -2147483648 ? 0 : Math.abs(n);
}

/** The `__consumer_offsets` partition whose leader coordinates `groupId`. */
export function groupCoordinatorPartition(groupId: string, partitionCount: number): number {
  if (!Number.isSafeInteger(partitionCount) || partitionCount < 1) {
    throw new RangeError(`partition count must be a positive integer; got ${partitionCount}`);
  }
  return kafkaAbs(javaStringHashCode(groupId)) % partitionCount;
}
