/**
 * Limits and defaults of the group coordinator runtime (the I/O shell around
 * `broker/groups/`), in one place: how many `__consumer_offsets` partitions,
 * how often the timers run, how many operations may wait per partition.
 *
 * @module
 */

import type { GroupsConfig } from "../config/node_config.ts";
import type { GroupCoordinatorConfig } from "../groups/mod.ts";

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
 * The runtime settings from the node config's `groups` section (see
 * `broker/config/node_config.ts`, which validates it and fills defaults).
 */
export function groupRuntimeConfig(groups: GroupsConfig): GroupRuntimeConfig {
  const { offsetsTopicPartitions, ...coordinator } = groups;
  return { offsetsTopicPartitions, coordinator };
}
