/**
 * Kafka's default partitioner for keyed records: murmur2 of the key bytes,
 * made positive by masking the sign bit, modulo the partition count. A key
 * lands on the same partition as with the Java client, KafkaJS's
 * `DefaultPartitioner` and librdkafka's `murmur2_random`, so topics can be
 * shared with Kafka tooling that relies on key placement.
 *
 * @module
 */

const MURMUR2_SEED = 0x9747b28c;
const MURMUR2_M = 0x5bd1e995;
const MURMUR2_R = 24;

/**
 * Kafka's 32-bit murmur2 hash (`org.apache.kafka.common.utils.Utils.murmur2`),
 * as a signed 32-bit integer.
 *
 * @example
 * ```ts
 * import { murmur2 } from "@strom/client";
 * console.log(murmur2(new TextEncoder().encode("key")));
 * ```
 */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (MURMUR2_SEED ^ length) | 0;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, MURMUR2_M);
    k ^= k >>> MURMUR2_R;
    k = Math.imul(k, MURMUR2_M);
    h = Math.imul(h, MURMUR2_M);
    h ^= k;
  }
  // The tail bytes fall through from 3 to 1, as in the Java switch.
  const rest = length & 3;
  if (rest === 3) h ^= data[whole + 2] << 16;
  if (rest >= 2) h ^= data[whole + 1] << 8;
  if (rest >= 1) {
    h ^= data[whole];
    h = Math.imul(h, MURMUR2_M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, MURMUR2_M);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * The partition Kafka's default partitioner picks for `key` among
 * `partitionCount` partitions: `(murmur2(key) & 0x7fffffff) % partitionCount`.
 *
 * @example
 * ```ts
 * import { partitionForKey } from "@strom/client";
 * const p = partitionForKey(new TextEncoder().encode("user-42"), 6);
 * console.log(p >= 0 && p < 6); // true
 * ```
 */
export function partitionForKey(key: Uint8Array, partitionCount: number): number {
  if (!Number.isInteger(partitionCount) || partitionCount < 1) {
    throw new RangeError(`partitionCount must be a positive integer, got ${partitionCount}`);
  }
  return (murmur2(key) & 0x7fffffff) % partitionCount;
}
