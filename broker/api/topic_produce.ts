/**
 * Topic-level JSON produce: chooses each record's partition as Kafka's
 * default partitioner does, encodes one batch per partition (records keep
 * their input order inside it), sends the batches to their leaders
 * concurrently, and answers each record's partition and offset in input
 * order. A partition that fails fails only its own records.
 *
 * @module
 */

import { partitionForKey, StromError } from "@strom/client";
import { topicByName } from "../metadata/image.ts";
import { NO_LEADER } from "../metadata/records.ts";
import type { Acks } from "./data_plane.ts";
import { produceOnLeader } from "./produce_router.ts";
import type { ProduceRouterDeps } from "./produce_router.ts";
import { encodeJsonBatch } from "./record_json.ts";
import type { ParsedRecord } from "./record_json.ts";

/** One record's outcome. */
export type RecordOutcome =
  | { readonly partition: number; readonly offset: number }
  | { readonly partition: number; readonly error: { code: string; message: string } };

/** What topic-level produce needs: routing, plus a random source for the sticky partition. */
export interface TopicProduceDeps extends ProduceRouterDeps {
  /** Uniform in [0, 1); injectable so tests choose the sticky partition. */
  readonly random?: () => number;
}

/** Produces `records` to `topic`; the outcomes are in input order. */
export async function produceToTopic(
  deps: TopicProduceDeps,
  topic: string,
  records: readonly ParsedRecord[],
  options: { acks: Acks; timeoutMs: number },
): Promise<RecordOutcome[]> {
  const partitions = choosePartitions(deps, topic, records);
  const groups = new Map<number, number[]>();
  partitions.forEach((p, i) => {
    const group = groups.get(p);
    if (group) group.push(i);
    else groups.set(p, [i]);
  });
  const outcomes: RecordOutcome[] = new Array(records.length);
  await Promise.all([...groups].map(async ([partition, indexes]) => {
    try {
      const batches = encodeJsonBatch(indexes.map((i) => records[i]), Date.now());
      const result = await produceOnLeader(deps, {
        topic,
        partition,
        batches,
        acks: options.acks,
        timeoutMs: options.timeoutMs,
      });
      indexes.forEach((recordIndex, j) => {
        const offset = result.baseOffset < 0 ? -1 : result.baseOffset + j;
        outcomes[recordIndex] = { partition, offset };
      });
    } catch (e) {
      const error = e instanceof StromError
        ? { code: e.code, message: e.message }
        : { code: "UNKNOWN_SERVER_ERROR", message: String(e) };
      for (const recordIndex of indexes) outcomes[recordIndex] = { partition, error };
    }
  }));
  return outcomes;
}

/**
 * Each record's partition: its own `partition`, else murmur2 of its key,
 * else one partition per request for all unkeyed records (sticky), chosen
 * among partitions that have a leader when any does.
 */
export function choosePartitions(
  deps: Pick<TopicProduceDeps, "image" | "random">,
  topic: string,
  records: readonly ParsedRecord[],
): number[] {
  const t = topicByName(deps.image(), topic);
  if (!t) {
    throw new StromError(
      "UNKNOWN_TOPIC_OR_PARTITION",
      `topic '${topic}' does not exist; create it with POST /v1/topics`,
    );
  }
  const count = t.partitions.length;
  let sticky: number | undefined;
  const random = deps.random ?? Math.random;
  return records.map((r, i) => {
    if (r.partition !== undefined) {
      if (r.partition >= count) {
        throw new StromError(
          "UNKNOWN_TOPIC_OR_PARTITION",
          `records[${i}].partition is ${r.partition}, but topic '${topic}' has ${count} partitions`,
        );
      }
      return r.partition;
    }
    if (r.key) return partitionForKey(r.key, count);
    if (sticky === undefined) {
      const led = t.partitions.flatMap((p, index) => p.leader === NO_LEADER ? [] : [index]);
      const pool = led.length > 0 ? led : t.partitions.map((_, index) => index);
      sticky = pool[Math.floor(random() * pool.length)];
    }
    return sticky;
  });
}
