/**
 * Limits and defaults of the group coordinator runtime (the I/O shell around
 * `broker/groups/`), in one place: how many `__consumer_offsets` partitions,
 * how often the timers run, how many operations may wait per partition.
 *
 * @module
 */

import type { GroupCoordinatorConfig } from "../groups/mod.ts";
import { DEFAULT_GROUP_COORDINATOR_CONFIG } from "../groups/mod.ts";

/**
 * Partitions of `__consumer_offsets` when the node creates it. Kafka's 50 is
 * sized for big clusters; ten keep a local cluster light (each partition is
 * a log, a replica and a coordinator on three brokers).
 */
export const OFFSETS_TOPIC_PARTITIONS_DEFAULT = 10;
/** Kafka's `offsets.topic.replication.factor`; fewer brokers give min(3, brokers). */
export const OFFSETS_TOPIC_REPLICATION_FACTOR = 3;
/** Operations (requests and timer runs) one coordinator partition queues; more get COORDINATOR_NOT_AVAILABLE. */
export const OPERATIONS_QUEUED_PER_PARTITION_MAX = 1_024;
/** How often each led partition runs `expireMembers`. */
export const EXPIRE_MEMBERS_INTERVAL_MS = 500;
/** How often each led partition runs `expireOffsets` (Kafka's offsets.retention.check.interval.ms is 10 min). */
export const EXPIRE_OFFSETS_INTERVAL_MS = 5 * 60_000;
/** How often leadership of `__consumer_offsets` partitions is checked against the replicas. */
export const LEADERSHIP_POLL_MS = 100;
/** Bytes read per step while loading a partition. */
export const LOAD_READ_BYTES = 1024 * 1024;
/** Records per batch appended (an operation may write several batches in one request). */
export const RECORDS_PER_BATCH_MAX = 500;
/** How long an append waits for replication before the coordinator gives up on its state. */
export const APPEND_TIMEOUT_MS = 15_000;
/** Time one forwarded group request may take (a heartbeat answers at once; a commit waits for replication). */
export const GROUP_FORWARD_TIMEOUT_MS = 20_000;
/** High watermarks looked up at once while describing a group. */
export const LAG_LOOKUPS_CONCURRENT_MAX = 16;

/** Settings of the runtime. */
export interface GroupRuntimeConfig {
  readonly offsetsTopicPartitions: number;
  readonly coordinator: GroupCoordinatorConfig;
}

/**
 * The defaults, with overrides from the environment so a test (or an
 * operator) can shorten the session timeout without a config file:
 * `STROM_GROUP_SESSION_TIMEOUT_MS`, `STROM_GROUP_HEARTBEAT_INTERVAL_MS`,
 * `STROM_OFFSETS_TOPIC_PARTITIONS`.
 */
export function groupRuntimeConfigFromEnv(
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): GroupRuntimeConfig {
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env(name);
    if (raw === undefined || raw === "") return fallback;
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new RangeError(`${name} must be an integer from ${min} to ${max}; got ${raw}`);
    }
    return n;
  };
  const d = DEFAULT_GROUP_COORDINATOR_CONFIG;
  return {
    offsetsTopicPartitions: int(
      "STROM_OFFSETS_TOPIC_PARTITIONS",
      OFFSETS_TOPIC_PARTITIONS_DEFAULT,
      1,
      1_000,
    ),
    coordinator: {
      ...d,
      sessionTimeoutMs: int("STROM_GROUP_SESSION_TIMEOUT_MS", d.sessionTimeoutMs, 500, 3_600_000),
      heartbeatIntervalMs: int(
        "STROM_GROUP_HEARTBEAT_INTERVAL_MS",
        d.heartbeatIntervalMs,
        50,
        600_000,
      ),
    },
  };
}
