/**
 * A {@link ShardLog} over the broker's own replica of a `__consumer_offsets`
 * partition: loading reads the local log from its start to the log end
 * offset seen when loading began (the leader's log is authoritative; records
 * above the HW will be committed before anything appended after them), and
 * appends go through the replica manager's leader path with acks=all, as
 * any produce does, so they are validated, replicated and fenced by epoch.
 *
 * @module
 */

import { decodeRecordBatches, encodeRecordBatchSync, StromError } from "@strom/client";
import { concatBytes } from "../concat_bytes.ts";
import type { ProduceRequest, ProduceResult } from "../api/data_plane.ts";
import type { EncodedGroupRecord } from "../groups/mod.ts";
import { GROUP_METADATA_TOPIC } from "../groups/mod.ts";
import type { PartitionReplica } from "../replica_manager/mod.ts";
import { APPEND_TIMEOUT_MS, LOAD_READ_BYTES, RECORDS_PER_BATCH_MAX } from "./config.ts";
import type { ShardLog } from "./coordinator_shard.ts";
import { isLeadershipBarrierKey, leadershipBarrierRecord } from "./leadership_barrier.ts";

/** What the shard log needs from the replica manager. */
export interface ShardReplicas {
  replica(topic: string, partition: number): PartitionReplica | undefined;
  produce(request: ProduceRequest): Promise<ProduceResult>;
}

/** The shard log of `partition` at `leaderEpoch` on this broker. */
export function replicaShardLog(
  replicas: ShardReplicas,
  partition: number,
  leaderEpoch: number,
): ShardLog {
  const current = (): PartitionReplica => {
    const r = replicas.replica(GROUP_METADATA_TOPIC, partition);
    if (r === undefined || r.closed || !r.isLeader || r.leaderEpoch !== leaderEpoch) {
      throw new StromError(
        "NOT_COORDINATOR",
        `this broker no longer leads ${GROUP_METADATA_TOPIC}-${partition} at leader epoch ${leaderEpoch}`,
      );
    }
    return r;
  };
  return {
    partition,
    leaderEpoch,
    async *read() {
      const log = current().log;
      const end = log.logEndOffset;
      let offset = log.logStartOffset;
      while (offset < end) {
        const { batches, nextOffset } = await log.read(offset, LOAD_READ_BYTES, {
          endOffsetMax: end,
        });
        if (nextOffset <= offset) {
          throw new StromError(
            "CORRUPT_MESSAGE",
            `reading ${GROUP_METADATA_TOPIC}-${partition} made no progress at offset ${offset}`,
          );
        }
        const chunk: EncodedGroupRecord[] = [];
        for (const batch of await decodeRecordBatches(batches)) {
          for (const r of batch.records) {
            if (r.offset < offset || r.offset >= end || r.key === null) continue;
            if (isLeadershipBarrierKey(r.key)) continue;
            chunk.push({ key: r.key, value: r.value });
          }
        }
        yield chunk;
        offset = nextOffset;
      }
    },
    async append(records) {
      current();
      await replicas.produce({
        topic: GROUP_METADATA_TOPIC,
        partition,
        batches: encodeBatches(records),
        acks: "all",
        timeoutMs: APPEND_TIMEOUT_MS,
      });
      // The produce answered once the HW covered the records; if leadership
      // moved meanwhile the produce failed, so reaching here means committed.
    },
    confirmLeadership() {
      return this.append([leadershipBarrierRecord(leaderEpoch, Date.now())]);
    },
  };
}

/** Records as concatenated batches of at most RECORDS_PER_BATCH_MAX records each. */
export function encodeBatches(records: readonly EncodedGroupRecord[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const nowMs = Date.now();
  for (let i = 0; i < records.length; i += RECORDS_PER_BATCH_MAX) {
    const chunk = records.slice(i, i + RECORDS_PER_BATCH_MAX);
    parts.push(encodeRecordBatchSync({
      records: chunk.map((r) => ({ key: r.key, value: r.value })),
      baseTimestamp: nowMs,
    }));
  }
  return concatBytes(parts);
}
