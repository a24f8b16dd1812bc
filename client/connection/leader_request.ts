/**
 * Requests that only a partition's leader can answer (produce, fetch, list
 * offsets), retried against the current leader: NOT_LEADER_OR_FOLLOWER
 * moves to the hinted leader, LEADER_NOT_AVAILABLE, network failures and
 * other retriable answers refresh the metadata and back off, and a topic
 * the leader does not know yet (just created) is looked up again a few
 * times.
 *
 * @module
 */

import { StromError } from "../errors.ts";
import type { CallOptions, Connection } from "./connection.ts";
import type { LeaderLocation } from "./metadata_cache.ts";
import { isRetriable, withRetries } from "./retry.ts";

/** Times UNKNOWN_TOPIC_OR_PARTITION from a leader is retried after a metadata refresh. */
export const UNKNOWN_TOPIC_RETRIES_MAX = 3;

/**
 * Runs `send` against the leader of `topic`/`partition`, retrying as the
 * module describes until the call's deadline.
 *
 * @example
 * ```ts ignore
 * import { Connection, partitionPath, withLeader } from "@strom/client";
 * const conn = new Connection({ brokers: "http://127.0.0.1:9092" });
 * const offsets = await withLeader(conn, "orders", 0, {}, (leader, timeoutMs) =>
 *   conn.http.json(leader.url, { path: `${partitionPath("orders", 0)}/offsets?at=latest`, timeoutMs }));
 * console.log(offsets);
 * await conn.close();
 * ```
 */
export function withLeader<T>(
  conn: Connection,
  topic: string,
  partition: number,
  options: CallOptions,
  send: (leader: LeaderLocation, timeoutMs: number) => Promise<T>,
): Promise<T> {
  const deadlineMs = Date.now() + (options.timeoutMs ?? conn.requestTimeoutMs);
  let refresh = false;
  let unknownTopicRetries = 0;
  const signal = options.signal ? { signal: options.signal } : {};
  return withRetries(async () => {
    const leader = await conn.metadata.leader(topic, partition, { refresh, ...signal });
    refresh = false;
    const remainingMs = Math.max(1, deadlineMs - Date.now());
    return await send(leader, Math.min(conn.requestTimeoutMs, remainingMs));
  }, {
    attemptsMax: Number.MAX_SAFE_INTEGER,
    deadlineMs,
    backoffMs: conn.retryBackoffMs,
    backoffMsMax: conn.retryBackoffMsMax,
    random: conn.random,
    ...signal,
    shouldRetry: (e) => {
      if (e instanceof StromError && e.code === "UNKNOWN_TOPIC_OR_PARTITION") {
        return unknownTopicRetries++ < UNKNOWN_TOPIC_RETRIES_MAX;
      }
      return isRetriable(e);
    },
    onRetry: (e) => {
      if (e instanceof StromError && e.code === "NOT_LEADER_OR_FOLLOWER" && e.leader) {
        conn.metadata.noteLeader(topic, partition, e.leader);
      } else {
        refresh = true;
      }
    },
  });
}

/**
 * `/v1/topics/{topic}` with the name escaped.
 *
 * @example
 * ```ts
 * import { topicPath } from "@strom/client";
 * console.log(topicPath("orders")); // "/v1/topics/orders"
 * ```
 */
export function topicPath(topic: string): string {
  return `/v1/topics/${encodeURIComponent(topic)}`;
}

/**
 * `/v1/topics/{topic}/partitions/{p}` with the name escaped.
 *
 * @example
 * ```ts
 * import { partitionPath } from "@strom/client";
 * console.log(partitionPath("orders", 2)); // "/v1/topics/orders/partitions/2"
 * ```
 */
export function partitionPath(topic: string, partition: number): string {
  return `${topicPath(topic)}/partitions/${partition}`;
}
