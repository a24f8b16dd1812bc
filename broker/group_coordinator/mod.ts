/**
 * The group coordinator runtime: `__consumer_offsets` creation, one
 * coordinator shard per led partition (load by replay, serialized
 * operations appended with acks=all, timers), and where a group's
 * coordinator is. The decisions are `broker/groups/`'s; this is their shell.
 *
 * @module
 */

export * from "./config.ts";
export { CoordinatorShard } from "./coordinator_shard.ts";
export type {
  CoordinatorShardOptions,
  ShardLog,
  ShardOperation,
  ShardStatus,
} from "./coordinator_shard.ts";
export { GroupCoordinatorRuntime } from "./group_runtime.ts";
export type { CoordinatorLocation, GroupRuntimeDeps } from "./group_runtime.ts";
export { encodeBatches, replicaShardLog } from "./replica_shard_log.ts";
export type { ShardReplicas } from "./replica_shard_log.ts";
