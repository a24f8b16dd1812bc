import assert from "node:assert/strict";
import { FakeCluster } from "../_testing/fake_cluster.ts";
import { StromError } from "../errors.ts";
import { encodeRecordBatch } from "../record_batch/record_batch.ts";
import { Strom } from "../strom.ts";

Deno.test("the admin client creates, lists, describes, grows and deletes topics", async () => {
  const cluster = FakeCluster.start();
  const strom = new Strom({ brokers: cluster.urls[0] });
  try {
    const admin = strom.admin();
    const created = await admin.createTopic({ name: "orders", partitions: 2 });
    assert.equal(created.partitions.length, 2);
    await assert.rejects(
      admin.createTopic({ name: "orders" }),
      (e: unknown) => e instanceof StromError && e.code === "TOPIC_ALREADY_EXISTS",
    );
    assert.deepEqual((await admin.listTopics()).map((t) => t.name), ["orders"]);
    assert.equal((await admin.createPartitions("orders", 4)).partitions.length, 4);
    assert.equal((await admin.describeTopic("orders")).partitions[3].leader, 1);
    await admin.alterConfigs("orders", { "retention.ms": "1000" });
    const cluster1 = await admin.describeCluster();
    assert.equal(cluster1.clusterId, "FAKEFAKEFAKEFAKEFAKEFA");
    assert.equal((await admin.describeQuorum()).leaderId, 1);
    await admin.deleteTopic("orders");
    await assert.rejects(
      admin.describeTopic("orders"),
      (e: unknown) => e instanceof StromError && e.code === "UNKNOWN_TOPIC_OR_PARTITION",
    );
  } finally {
    await strom.close();
    await cluster.close();
  }
});

Deno.test("listOffsets() asks each partition's leader for earliest, latest and by time", async () => {
  const cluster = FakeCluster.start();
  cluster.createTopic("t", 2);
  const strom = new Strom({ brokers: cluster.urls[0] });
  try {
    cluster.append(
      "t",
      1,
      await encodeRecordBatch({ records: [{ value: null, timestamp: 5_000 }, { value: null }] }),
    );
    const admin = strom.admin();
    assert.deepEqual((await admin.listOffsets("t", "latest")).map((p) => p.offset), [0, 2]);
    assert.deepEqual((await admin.listOffsets("t", "earliest")).map((p) => p.offset), [0, 0]);
    const byTime = await admin.listOffsets("t", { timestampMs: 4_000 }, { partitions: [1] });
    assert.deepEqual(byTime.map((p) => [p.partition, p.offset]), [[1, 0]]);
  } finally {
    await strom.close();
    await cluster.close();
  }
});
