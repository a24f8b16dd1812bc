import assert from "node:assert/strict";
import { FakeCluster } from "../_testing/fake_cluster.ts";
import { StromError } from "../errors.ts";
import { decodeRecordBatch } from "../record_batch/record_batch.ts";
import { Strom } from "../strom.ts";
import type { ProducerOptions } from "./producer.ts";
import { partitionForKey } from "./partitioner.ts";

const text = new TextDecoder();

async function withProducer(
  options: ProducerOptions,
  fn: (
    ctx: { cluster: FakeCluster; strom: Strom; producer: ReturnType<Strom["producer"]> },
  ) => Promise<void>,
  setup: (cluster: FakeCluster) => void = (c) => c.createTopic("t", 1),
): Promise<void> {
  const cluster = FakeCluster.start();
  setup(cluster);
  const strom = new Strom({ brokers: cluster.urls[0], retryBackoffMs: 5, retryBackoffMsMax: 20 });
  try {
    await fn({ cluster, strom, producer: strom.producer(options) });
  } finally {
    await strom.close();
    await cluster.close();
  }
}

async function values(cluster: FakeCluster, topic: string, partition: number): Promise<string[]> {
  const out: string[] = [];
  for (const b of cluster.batches(topic, partition)) {
    for (const r of (await decodeRecordBatch(b)).records) out.push(text.decode(r.value!));
  }
  return out;
}

function produceRequests(cluster: FakeCluster) {
  return cluster.log.filter((l) => l.batch !== undefined);
}

Deno.test("send() resolves with the partition and offset of each record", async () => {
  await withProducer({}, async ({ producer, cluster }) => {
    const a = await producer.send({ topic: "t", value: "a" });
    const b = await producer.send({ topic: "t", value: new TextEncoder().encode("b") });
    const c = await producer.sendJson({ topic: "t", value: { n: 1 } });
    assert.deepEqual([a.partition, a.offset, b.offset, c.offset], [0, 0, 1, 2]);
    assert.deepEqual(await values(cluster, "t", 0), ["a", "b", '{"n":1}']);
  });
});

Deno.test("records sent together share a batch until batchBytes is reached", async () => {
  await withProducer({ batchBytes: 61 + 10 * 31, lingerMs: 50 }, async ({ producer, cluster }) => {
    await Promise.all(
      Array.from(
        { length: 25 },
        (_, i) => producer.send({ topic: "t", value: `v${i}`.padEnd(10) }),
      ),
    );
    const counts = produceRequests(cluster).map((r) => r.batch!.recordCount);
    assert.deepEqual(counts, [10, 10, 5]);
  });
});

Deno.test("lingerMs holds a batch open for records sent a moment later", async () => {
  await withProducer({ lingerMs: 100 }, async ({ producer, cluster }) => {
    const first = producer.send({ topic: "t", value: "1" });
    await new Promise((r) => setTimeout(r, 10));
    await Promise.all([first, producer.send({ topic: "t", value: "2" })]);
    assert.deepEqual(produceRequests(cluster).map((r) => r.batch!.recordCount), [2]);
  });
});

Deno.test("keyed records land on partitionForKey's partition", async () => {
  await withProducer({}, async ({ producer }) => {
    for (const key of ["a", "user-42", "zebra", ""]) {
      const { partition } = await producer.send({ topic: "t", key, value: "v" });
      assert.equal(partition, partitionForKey(new TextEncoder().encode(key), 6), key);
    }
  }, (c) => c.createTopic("t", 6));
});

Deno.test("unkeyed records stick to one partition per batch and move on when it is sent", async () => {
  await withProducer({ lingerMs: 20 }, async ({ producer }) => {
    const first = await Promise.all(
      Array.from({ length: 5 }, () => producer.send({ topic: "t", value: "x" })),
    );
    assert.equal(new Set(first.map((m) => m.partition)).size, 1);
    const second = await producer.send({ topic: "t", value: "y" });
    assert.notEqual(second.partition, first[0].partition);
  }, (c) => c.createTopic("t", 4));
});

Deno.test("an unkeyed record that does not fit the sticky batch goes to the next partition, not a batch of its own", async () => {
  // Room for 10 records and a bit: the 10th does not fill the batch, the 11th does not fit.
  await withProducer(
    { batchBytes: 61 + 10 * 31 + 15, lingerMs: 50 },
    async ({ producer, cluster }) => {
      const sent = await Promise.all(
        Array.from(
          { length: 25 },
          (_, i) => producer.send({ topic: "t", value: `v${i}`.padEnd(10) }),
        ),
      );
      const requests = produceRequests(cluster);
      // Three batches of 10, 10 and 5 records, each on one partition, the next always elsewhere.
      assert.deepEqual(
        requests.map((r) => r.batch!.recordCount).sort((a, b) => b - a),
        [10, 10, 5],
      );
      const partitionOf = (i: number) => sent[i].partition;
      for (const [from, to] of [[0, 9], [10, 19], [20, 24]]) {
        for (let i = from; i <= to; i++) {
          assert.equal(partitionOf(i), partitionOf(from), `record ${i}`);
        }
      }
      assert.notEqual(partitionOf(10), partitionOf(0));
      assert.notEqual(partitionOf(20), partitionOf(10));
    },
    (c) => c.createTopic("t", 4),
  );
});

Deno.test("idempotent batches carry the producer id and consecutive sequence numbers", async () => {
  await withProducer({ lingerMs: 1 }, async ({ producer, cluster }) => {
    assert.equal(producer.idempotent, true);
    await Promise.all([1, 2, 3].map((i) => producer.send({ topic: "t", value: `a${i}` })));
    await producer.send({ topic: "t", value: "b" });
    await Promise.all([1, 2].map((i) => producer.send({ topic: "t", value: `c${i}` })));
    const batches = produceRequests(cluster).map((r) => r.batch!);
    assert.deepEqual(batches.map((b) => b.baseSequence), [0, 3, 4]);
    assert.ok(batches.every((b) => b.producerId === 1000));
  });
});

Deno.test("at most five batches per partition are in flight", async () => {
  await withProducer({ batchBytes: 1, lingerMs: 0 }, async ({ producer, cluster }) => {
    cluster.produceDelayMs = 30;
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => producer.send({ topic: "t", value: `${i}` })),
    );
    const flight = cluster.inFlight.get("t-0")!;
    assert.ok(flight.max <= 5 && flight.max >= 2, `max in flight ${flight.max}`);
    assert.deepEqual(await values(cluster, "t", 0), Array.from({ length: 20 }, (_, i) => `${i}`));
  });
});

Deno.test("without idempotence one batch per partition is in flight unless asked for more", async () => {
  const sendTwenty = async (producer: ReturnType<Strom["producer"]>) =>
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => producer.send({ topic: "t", value: `${i}` })),
    );
  await withProducer({ acks: 1, batchBytes: 1, lingerMs: 0 }, async ({ producer, cluster }) => {
    cluster.produceDelayMs = 10;
    await sendTwenty(producer);
    assert.equal(cluster.inFlight.get("t-0")!.max, 1, "nothing lets the leader reorder them");
    assert.deepEqual(await values(cluster, "t", 0), Array.from({ length: 20 }, (_, i) => `${i}`));
  });
  const options = {
    acks: 1 as const,
    batchBytes: 1,
    lingerMs: 0,
    inFlightBatchesPerPartitionMax: 3,
  };
  await withProducer(options, async ({ producer, cluster }) => {
    cluster.produceDelayMs = 30;
    await sendTwenty(producer);
    assert.ok(cluster.inFlight.get("t-0")!.max >= 2, "an explicit limit is used");
  });
});

Deno.test("retriable errors are retried; the leader hint is followed", async () => {
  await withProducer({}, async ({ producer, cluster }) => {
    cluster.faults.push({
      method: "POST",
      path: /records$/,
      code: "NOT_LEADER_OR_FOLLOWER",
      times: 2,
      leader: { id: 1, url: cluster.urls[0] },
    });
    const m = await producer.send({ topic: "t", value: "v" });
    assert.equal(m.offset, 0);
    assert.equal(cluster.log.filter((l) => l.path.endsWith("/records")).length, 3);
  });
});

Deno.test("errors that are not retriable fail the send at once", async () => {
  await withProducer({}, async ({ producer, cluster }) => {
    cluster.faults.push({ method: "POST", path: /records$/, code: "INVALID_RECORD", times: 1 });
    await assert.rejects(
      producer.send({ topic: "t", value: "v" }),
      (e: unknown) => e instanceof StromError && e.code === "INVALID_RECORD",
    );
    assert.equal(cluster.log.filter((l) => l.path.endsWith("/records")).length, 1);
  });
});

Deno.test("a batch whose answer was lost is re-sent and recognised as a duplicate", async () => {
  await withProducer({}, async ({ producer, cluster }) => {
    cluster.faults.push({
      method: "POST",
      path: /records$/,
      code: "REQUEST_TIMED_OUT",
      times: 1,
      afterAppend: true,
    });
    const m = await producer.send({ topic: "t", value: "once" });
    assert.equal(m.offset, 0);
    assert.deepEqual(await values(cluster, "t", 0), ["once"]);
  });
});

Deno.test("a failure in the middle of in-flight batches keeps order and writes each batch once", async () => {
  await withProducer({ batchBytes: 1, lingerMs: 0 }, async ({ producer, cluster }) => {
    cluster.produceDelayMs = 10;
    // The third produce request fails before appending; those after it are out of sequence.
    cluster.faults.push({
      method: "POST",
      path: /records$/,
      code: "NOT_ENOUGH_REPLICAS",
      times: 1,
      skip: 2,
    });
    const sent = Array.from({ length: 12 }, (_, i) => `${i}`);
    const metas = await Promise.all(sent.map((v) => producer.send({ topic: "t", value: v })));
    assert.deepEqual(await values(cluster, "t", 0), sent);
    assert.deepEqual(metas.map((m) => m.offset), sent.map((_, i) => i));
  });
});

Deno.test("send() waits for buffer memory and never holds more than bufferBytesMax", async () => {
  await withProducer(
    { bufferBytesMax: 200, batchBytes: 1, lingerMs: 0 },
    async ({ producer, cluster }) => {
      cluster.stall("t", 0);
      const sends = Array.from(
        { length: 10 },
        (_, i) => producer.send({ topic: "t", value: `${i}`.padEnd(40) }),
      );
      await new Promise((r) => setTimeout(r, 50));
      const stats = producer.bufferStats;
      assert.ok(stats.usedBytes <= 200, `used ${stats.usedBytes}`);
      assert.ok(stats.sendsWaiting >= 6, `waiting ${stats.sendsWaiting}`);
      cluster.unstall("t", 0);
      await Promise.all(sends);
      assert.equal(producer.bufferStats.usedBytes, 0);
      assert.equal((await values(cluster, "t", 0)).length, 10);
    },
  );
});

Deno.test("a record larger than the buffer fails clearly; a long wait fails with BUFFER_EXHAUSTED", async () => {
  await withProducer(
    { bufferBytesMax: 200, bufferWaitMsMax: 50, batchBytes: 1, lingerMs: 0 },
    async ({ producer, cluster }) => {
      await assert.rejects(
        producer.send({ topic: "t", value: "x".repeat(500) }),
        (e: unknown) => e instanceof StromError && e.code === "MESSAGE_TOO_LARGE",
      );
      cluster.stall("t", 0);
      const held = Array.from(
        { length: 2 },
        (_, i) => producer.send({ topic: "t", value: `${i}`.padEnd(60) }),
      );
      await assert.rejects(
        producer.send({ topic: "t", value: "late".padEnd(60) }),
        (e: unknown) => e instanceof StromError && e.code === "BUFFER_EXHAUSTED",
      );
      cluster.unstall("t", 0);
      await Promise.all(held);
    },
  );
});

Deno.test("flush() sends open batches; send() after close() fails with CLIENT_CLOSED", async () => {
  await withProducer({ lingerMs: 10_000 }, async ({ producer, cluster }) => {
    const pending = producer.send({ topic: "t", value: "v" });
    await producer.flush();
    assert.equal((await pending).offset, 0);
    assert.equal(produceRequests(cluster).length, 1);
    await producer.close();
    await assert.rejects(
      producer.send({ topic: "t", value: "v" }),
      (e: unknown) => e instanceof StromError && e.code === "CLIENT_CLOSED",
    );
  });
});

Deno.test("idempotence needs acks all; acks 1 without it sends plain batches", async () => {
  const strom = new Strom({ brokers: "http://127.0.0.1:1" });
  try {
    assert.throws(
      () => strom.producer({ acks: 1, idempotent: true }),
      (e: unknown) => e instanceof StromError && e.code === "INVALID_CONFIG",
    );
    assert.equal(strom.producer({ acks: 1 }).idempotent, false);
  } finally {
    await strom.close();
  }
  await withProducer({ acks: 0 }, async ({ producer, cluster }) => {
    assert.equal((await producer.send({ topic: "t", value: "v" })).offset, -1);
    assert.equal(produceRequests(cluster)[0].batch!.producerId, -1);
  });
});

Deno.test("every codec's batches reach the broker decodable", async () => {
  for (const compression of ["gzip", "snappy", "lz4", "zstd"] as const) {
    await withProducer({ compression }, async ({ producer, cluster }) => {
      await Promise.all(
        ["a", "b", "c"].map((v) => producer.send({ topic: "t", value: v.repeat(100) })),
      );
      assert.deepEqual(await values(cluster, "t", 0), ["a", "b", "c"].map((v) => v.repeat(100)));
    });
  }
});

Deno.test("an out-of-sequence answer with nothing earlier pending renumbers under a new producer id", async () => {
  await withProducer({}, async ({ producer, cluster }) => {
    await producer.send({ topic: "t", value: "first" });
    cluster.faults.push({
      method: "POST",
      path: /records$/,
      code: "OUT_OF_ORDER_SEQUENCE_NUMBER",
      times: 1,
    });
    assert.equal((await producer.send({ topic: "t", value: "second" })).offset, 1);
    const batches = produceRequests(cluster).map((r) => r.batch!);
    // The refused request (seq 1 under id 1000) never reached the handler that logs batches.
    assert.deepEqual(batches.map((b) => [b.producerId, b.baseSequence]), [[1000, 0], [1001, 0]]);
    assert.equal(cluster.log.filter((l) => l.path.endsWith("/records")).length, 3);
    assert.deepEqual(await values(cluster, "t", 0), ["first", "second"]);
  });
});

Deno.test("records that cannot be delivered within deliveryTimeoutMs fail with REQUEST_TIMED_OUT", async () => {
  const cluster = FakeCluster.start();
  cluster.createTopic("t", 1);
  const strom = new Strom({ brokers: cluster.urls[0], requestTimeoutMs: 100, retryBackoffMs: 5 });
  try {
    const producer = strom.producer({ deliveryTimeoutMs: 300, ackTimeoutMs: 50 });
    await producer.send({ topic: "t", value: "ok" });
    cluster.stall("t", 0);
    await assert.rejects(
      producer.send({ topic: "t", value: "late" }),
      (e: unknown) =>
        e instanceof StromError && e.code === "REQUEST_TIMED_OUT" &&
        /deliveryTimeoutMs/.test(e.message),
    );
  } finally {
    cluster.unstall("t", 0);
    await strom.close();
    await cluster.close();
  }
});

Deno.test("after losing its leader a partition retries as soon as the metadata shows a new one, not after the backoff", async () => {
  const cluster = FakeCluster.start(2);
  cluster.createTopic("t", 1, 1);
  // A backoff far longer than the test: only the leader watch can make the retry happen in time.
  const strom = new Strom({
    brokers: cluster.urls[0],
    retryBackoffMs: 60_000,
    retryBackoffMsMax: 60_000,
  });
  let guard: ReturnType<typeof setTimeout> | undefined;
  try {
    const producer = strom.producer({ deliveryTimeoutMs: 120_000 });
    cluster.faults.push({
      method: "POST",
      path: /records$/,
      code: "LEADER_NOT_AVAILABLE",
      times: 1,
    });
    const sent = producer.send({ topic: "t", value: "v" });
    // The first attempt has failed once the fault is used up; then the leader moves.
    for (let i = 0; i < 500 && cluster.faults[0].times > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(cluster.faults[0].times, 0, "the first attempt failed");
    cluster.moveLeader("t", 0, 2);
    const timedOut = new Promise<"backoff">((resolve) =>
      guard = setTimeout(() => resolve("backoff"), 20_000)
    );
    const answer = await Promise.race([sent, timedOut]);
    assert.notEqual(answer, "backoff", "the retry waited for the 60 s backoff");
    assert.equal((answer as { offset: number }).offset, 0);
    const produced = cluster.log.filter((l) => l.path.endsWith("/records"));
    assert.deepEqual(
      produced.map((l) => l.node),
      [1, 2],
      "one failed attempt on 1, the retry on 2",
    );
  } finally {
    clearTimeout(guard);
    await strom.close();
    await cluster.close();
  }
});

Deno.test("an idempotent producer sends no batch more than five ahead of its oldest unanswered one", async () => {
  await withProducer({ idempotent: true, lingerMs: 0 }, async ({ producer, cluster }) => {
    const release = cluster.holdAnswer("t", 0, 0);
    try {
      const first = producer.send({ topic: "t", partition: 0, value: "r0" });
      // r0 is appended (its answer held) before r1 is sent, so r1 is next in sequence.
      for (let i = 0; i < 200 && cluster.batches("t", 0).length === 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      // Four more, each answered while r0's answer is still held.
      for (let i = 1; i <= 4; i++) {
        assert.equal((await producer.send({ topic: "t", partition: 0, value: `r${i}` })).offset, i);
      }
      const sixth = producer.send({ topic: "t", partition: 0, value: "r5" });
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(
        produceRequests(cluster).length,
        5,
        "r5 waits: a retry of r0 must stay within the broker's five-batch window",
      );
      release();
      assert.equal((await first).offset, 0);
      assert.equal((await sixth).offset, 5);
    } finally {
      release();
    }
    assert.deepEqual(await values(cluster, "t", 0), ["r0", "r1", "r2", "r3", "r4", "r5"]);
  });
});
