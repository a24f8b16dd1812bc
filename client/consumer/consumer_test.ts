import assert from "node:assert/strict";
import { FakeCluster } from "../_testing/fake_cluster.ts";
import { StromError } from "../errors.ts";
import { encodeRecordBatch } from "../record_batch/record_batch.ts";
import { Strom } from "../strom.ts";
import type { ConsumerRecord } from "./consumer.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

async function withCluster(
  nodes: number,
  fn: (cluster: FakeCluster, strom: Strom) => Promise<void>,
): Promise<void> {
  const cluster = FakeCluster.start(nodes);
  cluster.createTopic("t", 2);
  const strom = new Strom({ brokers: cluster.urls[0], retryBackoffMs: 5, retryBackoffMsMax: 20 });
  try {
    await fn(cluster, strom);
  } finally {
    await strom.close();
    await cluster.close();
  }
}

async function appendValues(cluster: FakeCluster, partition: number, values: string[]) {
  const batch = await encodeRecordBatch({ records: values.map((v) => ({ value: enc.encode(v) })) });
  return cluster.append("t", partition, batch);
}

async function take(iterable: AsyncIterable<ConsumerRecord>, n: number): Promise<string[]> {
  const out: string[] = [];
  for await (const r of iterable) {
    out.push(dec.decode(r.value!));
    if (out.length === n) break;
  }
  return out;
}

Deno.test("a consumer reads an assigned partition from an offset, skipping earlier records of the batch", async () => {
  await withCluster(1, async (cluster, strom) => {
    await appendValues(cluster, 0, ["a", "b", "c", "d", "e"]);
    await appendValues(cluster, 0, ["f"]);
    const consumer = strom.consumer();
    consumer.assign([{ topic: "t", partition: 0, offset: 3 }]);
    assert.deepEqual(await take(consumer, 3), ["d", "e", "f"]);
    assert.equal(consumer.position({ topic: "t", partition: 0 }), 6);
  });
});

Deno.test("autoOffsetReset earliest starts at the log start; latest waits for new records", async () => {
  await withCluster(1, async (cluster, strom) => {
    await appendValues(cluster, 0, ["old"]);
    const early = strom.consumer({ autoOffsetReset: "earliest", fetchWaitMsMax: 50 });
    early.assign([{ topic: "t", partition: 0 }]);
    assert.deepEqual(await take(early, 1), ["old"]);
    const late = strom.consumer({ fetchWaitMsMax: 50 });
    late.assign([{ topic: "t", partition: 0 }]);
    const next = take(late, 1);
    await new Promise((r) => setTimeout(r, 100));
    await appendValues(cluster, 0, ["new"]);
    assert.deepEqual(await next, ["new"]);
  });
});

Deno.test("an out-of-range offset is reset by autoOffsetReset, or thrown when it is none", async () => {
  await withCluster(1, async (cluster, strom) => {
    await appendValues(cluster, 0, ["x", "y"]);
    const consumer = strom.consumer({ autoOffsetReset: "earliest" });
    consumer.assign([{ topic: "t", partition: 0, offset: 99 }]);
    assert.deepEqual(await take(consumer, 2), ["x", "y"]);
    const strict = strom.consumer({ autoOffsetReset: "none" });
    strict.assign([{ topic: "t", partition: 0, offset: 99 }]);
    await assert.rejects(
      take(strict, 1),
      (e: unknown) => e instanceof StromError && e.code === "OFFSET_OUT_OF_RANGE",
    );
  });
});

Deno.test("prefetching stops at the consumer's memory bound", async () => {
  await withCluster(1, async (cluster, strom) => {
    for (let i = 0; i < 50; i++) await appendValues(cluster, 0, ["x".repeat(1000)]);
    const consumer = strom.consumer({ bufferBytesMax: 5_000, fetchBytesMax: 2_000 });
    consumer.assign([{ topic: "t", partition: 0, offset: 0 }]);
    assert.equal((await take(consumer, 1)).length, 1);
    await new Promise((r) => setTimeout(r, 100));
    // The bound may be passed by at most one fetch's worth.
    assert.ok(consumer.bufferedBytes <= 5_000 + 2_100, `buffered ${consumer.bufferedBytes}`);
    const fetches = cluster.log.filter((l) => l.method === "GET" && l.path.endsWith("/records"));
    assert.ok(fetches.length < 10, `${fetches.length} fetches`);
    assert.equal((await take(consumer, 49)).length, 49);
  });
});

Deno.test("the consumer follows a partition's leader to another broker", async () => {
  await withCluster(2, async (cluster, strom) => {
    await appendValues(cluster, 1, ["on-1"]);
    const consumer = strom.consumer({ fetchWaitMsMax: 20 });
    consumer.assign([{ topic: "t", partition: 1, offset: 0 }]);
    assert.deepEqual(await take(consumer, 1), ["on-1"]);
    cluster.moveLeader("t", 1, 2);
    await appendValues(cluster, 1, ["on-2"]);
    assert.deepEqual(await take(consumer, 1), ["on-2"]);
    assert.ok(cluster.log.some((l) => l.node === 2 && l.path.endsWith("/records")));
  });
});

Deno.test("pause() holds a partition back, resume() and seek() move it again", async () => {
  await withCluster(1, async (cluster, strom) => {
    await appendValues(cluster, 0, ["p0"]);
    await appendValues(cluster, 1, ["p1-a", "p1-b"]);
    const consumer = strom.consumer();
    consumer.assign([{ topic: "t", partition: 0, offset: 0 }, {
      topic: "t",
      partition: 1,
      offset: 0,
    }]);
    consumer.pause([{ topic: "t", partition: 0 }]);
    assert.deepEqual(await take(consumer, 2), ["p1-a", "p1-b"]);
    consumer.resume([{ topic: "t", partition: 0 }]);
    assert.deepEqual(await take(consumer, 1), ["p0"]);
    consumer.seek({ topic: "t", partition: 1, offset: 1 });
    assert.deepEqual(await take(consumer, 1), ["p1-b"]);
    assert.deepEqual(consumer.paused(), []);
    consumer.assign([{ topic: "t", partition: 0, offset: 0 }, {
      topic: "t",
      partition: 0,
      offset: 0,
    }]);
    assert.deepEqual(consumer.assignment(), [{ topic: "t", partition: 0 }]);
    assert.deepEqual(await take(consumer, 1), ["p0"]);
  });
});

Deno.test("run() hands each partition's records to eachBatch until the consumer closes", async () => {
  await withCluster(1, async (cluster, strom) => {
    await appendValues(cluster, 0, ["a", "b"]);
    await appendValues(cluster, 1, ["c"]);
    const consumer = strom.consumer({ fetchWaitMsMax: 20 });
    consumer.assign([{ topic: "t", partition: 0, offset: 0 }, {
      topic: "t",
      partition: 1,
      offset: 0,
    }]);
    const seen: string[] = [];
    const running = consumer.run({
      eachBatch: async (batch) => {
        for (const r of batch.records) seen.push(`${batch.partition}:${dec.decode(r.value!)}`);
        if (seen.length === 3) await consumer.close();
      },
    });
    await running;
    assert.deepEqual(seen.sort(), ["0:a", "0:b", "1:c"]);
  });
});

Deno.test("close() ends a for-await loop that waits for records", async () => {
  await withCluster(1, async (_cluster, strom) => {
    const consumer = strom.consumer({ fetchWaitMsMax: 50 });
    consumer.assign([{ topic: "t", partition: 0 }]);
    const reading = take(consumer, 1);
    await new Promise((r) => setTimeout(r, 30));
    await consumer.close();
    assert.deepEqual(await reading, []);
    assert.throws(
      () => consumer.assign([]),
      (e: unknown) => (e as StromError).code === "CLIENT_CLOSED",
    );
  });
});
