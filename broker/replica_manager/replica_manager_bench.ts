/**
 * acks=all produce through three in-process replica managers (real logs in
 * temp dirs, follower fetches through the real wire encoding, no HTTP):
 * the cost of the replication shell itself. `deno bench --allow-all
 * broker/replica_manager/replica_manager_bench.ts`
 */

import { encodeRecordBatchSync } from "@strom/client";
import { makeImage, partitionState, TestCluster } from "./_test_cluster.ts";

const TOPIC = "bench";
const cluster = await TestCluster.start(
  [1, 2, 3],
  makeImage(1, [1, 2, 3], [{
    name: TOPIC,
    configs: { "min.insync.replicas": "2" },
    partitions: [partitionState([1, 2, 3], 1, 0)],
  }]),
);
const leader = cluster.managers.get(1)!;
const batch16k = () =>
  encodeRecordBatchSync({
    records: Array.from({ length: 16 }, () => ({ value: new Uint8Array(1024).fill(7) })),
  });

Deno.bench("acks=all, 16 x 1 KiB records per batch, one request at a time", async () => {
  await leader.produce({
    topic: TOPIC,
    partition: 0,
    batches: batch16k(),
    acks: "all",
    timeoutMs: 10_000,
  });
});

Deno.bench("acks=all, 16 x 1 KiB records per batch, 16 requests in flight", async () => {
  await Promise.all(
    Array.from({ length: 16 }, () =>
      leader.produce({
        topic: TOPIC,
        partition: 0,
        batches: batch16k(),
        acks: "all",
        timeoutMs: 10_000,
      })),
  );
});

Deno.bench("acks=1, 16 x 1 KiB records per batch, one request at a time", async () => {
  await leader.produce({
    topic: TOPIC,
    partition: 0,
    batches: batch16k(),
    acks: "1",
    timeoutMs: 10_000,
  });
});

// Benches have no teardown hook: remove the temp dirs synchronously as the process ends.
globalThis.addEventListener("unload", () => {
  for (const dir of cluster.dirs) Deno.removeSync(dir, { recursive: true });
});
