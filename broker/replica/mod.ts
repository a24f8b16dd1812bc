/**
 * Replica state of a partition, as pure cores (no timers, clocks, randomness
 * or I/O): the leader's follower tracking, high watermark and ISR requests
 * ({@link PartitionLeader}); the follower's fetch position and truncation
 * ({@link PartitionFollower}); the acks=all and long-poll purgatories; and
 * idempotent producer state. The broker node drives them from its HTTP
 * routes, timers and partition logs.
 *
 * @module
 */

export * from "./config.ts";
export * from "./errors.ts";
export { ReplicaInvariantError } from "./_assert.ts";
export * from "./high_watermark.ts";
export * from "./leader_state.ts";
export * from "./follower_state.ts";
export * from "./produce_purgatory.ts";
export * from "./fetch_purgatory.ts";
export * from "./producer_state.ts";
