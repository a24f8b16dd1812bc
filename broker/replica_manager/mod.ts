/**
 * The replica manager: the broker's partition replicas, driven by the
 * metadata image, implementing the client data plane (produce, fetch, list
 * offsets, diagnostics) and ISR replication between brokers.
 *
 * @module
 */

export * from "./config.ts";
export {
  type AlterPartitionRequest,
  ReplicaManager,
  type ReplicaManagerOptions,
} from "./replica_manager.ts";
export { PartitionReplica } from "./partition_replica.ts";
export { ReplicaFetcher, type ReplicaFetchTransport } from "./replica_fetcher.ts";
export * from "./fetch_wire.ts";
export { mountReplicaRoutes, ReplicaFetchHttpClient } from "./replica_http.ts";
export { validateProduceBatches, type ValidBatch } from "./batch_validation.ts";
export { logConfigForTopic } from "./topic_log_config.ts";
export {
  createNodeReplicaManager,
  type ReplicaManagerWiring,
  startNodeReplicaManager,
} from "./node_wiring.ts";
