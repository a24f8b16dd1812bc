/**
 * @strom/client against a real local cluster: every codec end to end, keyed
 * placement, a leader SIGKILL in the middle of an idempotent stream (no
 * loss, no duplicate, order per partition kept), and back-pressure against
 * a stalled (SIGSTOPped) leader. One cluster for the whole file.
 *
 * @module
 */

import assert from "node:assert/strict";
import { partitionForKey, Strom, StromError } from "@strom/client";
import type { ConsumerRecord, Producer } from "@strom/client";
import { launchCluster } from "./_harness/launcher.ts";
import { ClusterNodes } from "./_harness/nodes.ts";
import { eventually } from "./_harness/process.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
/** Most time any one wait in this file may take. */
const WAIT_MS_MAX = 60_000;

async function readAll(
  strom: Strom,
  topic: string,
  partitions: number,
  count: number,
): Promise<ConsumerRecord[]> {
  const consumer = strom.consumer({ autoOffsetReset: "earliest", fetchWaitMsMax: 200 });
  consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition })));
  const out: ConsumerRecord[] = [];
  const deadline = AbortSignal.timeout(WAIT_MS_MAX);
  try {
    while (out.length < count) {
      const batch = await consumer.nextBatch({ signal: deadline });
      if (!batch) break;
      out.push(...batch.records);
    }
  } finally {
    await consumer.close();
  }
  return out;
}

/** Sends `total` records with at most `window` unanswered; `onSent(i)` runs before record i. */
async function stream(
  producer: Producer,
  topic: string,
  total: number,
  window: number,
  onSent: (i: number) => void | Promise<void>,
) {
  const results: ({ partition: number; offset: number } | StromError)[] = new Array(total);
  const pending = new Set<Promise<void>>();
  for (let i = 0; i < total; i++) {
    await onSent(i);
    const key = `k${i % 30}`;
    const p = producer.send({ topic, key, value: `${key}:${i}` }).then(
      (m) => {
        results[i] = m;
      },
      (e) => {
        results[i] = e;
      },
    );
    pending.add(p);
    p.finally(() => pending.delete(p));
    if (pending.size >= window) await Promise.race(pending);
  }
  await Promise.all(pending);
  return results;
}

Deno.test({
  name:
    "the client produces and consumes through a real cluster, through a leader kill and a stall",
  async fn(t) {
    const cluster = await launchCluster({ nodes: 3 });
    const nodes = new ClusterNodes(cluster);
    const urls = cluster.manifest.nodes.map((n) => n.clientUrl);
    const strom = new Strom({
      brokers: urls,
      requestTimeoutMs: 5_000,
      retryBackoffMs: 50,
      retryBackoffMsMax: 500,
    });
    const admin = strom.admin();
    try {
      await t.step(
        "every codec round-trips and keyed records land on Kafka's partition",
        async () => {
          await admin.createTopic({ name: "codecs", partitions: 3, replicationFactor: 3 });
          const codecs = ["none", "gzip", "snappy", "lz4", "zstd"] as const;
          const sent = new Map<string, number>();
          for (const compression of codecs) {
            const producer = strom.producer({ compression });
            await Promise.all(Array.from({ length: 40 }, async (_, i) => {
              const key = `${compression}-${i % 7}`;
              const value = `${compression}:${i}:${"x".repeat(i * 10)}`;
              const m = await producer.send({ topic: "codecs", key, value });
              assert.equal(m.partition, partitionForKey(enc.encode(key), 3), key);
              sent.set(value, m.partition);
            }));
            await producer.close();
          }
          const got = await readAll(strom, "codecs", 3, sent.size);
          assert.equal(got.length, sent.size);
          for (const r of got) assert.equal(sent.get(dec.decode(r.value!)), r.partition);
        },
      );

      await t.step("a leader SIGKILL mid-stream loses nothing and duplicates nothing", async () => {
        await admin.createTopic({ name: "kill", partitions: 3, replicationFactor: 3 });
        const victim = (await admin.describeTopic("kill")).partitions[0].leader;
        const producer = strom.producer({ deliveryTimeoutMs: 45_000, ackTimeoutMs: 5_000 });
        const total = 3_000;
        const started = Date.now();
        let killedAt = 0;
        const results = await stream(producer, "kill", total, 200, (i) => {
          if (i === 1_000) {
            nodes.kill(victim);
            killedAt = Date.now();
          }
        });
        await producer.close();
        const failed = results.filter((r) => r instanceof StromError);
        assert.equal(failed.length, 0, `failed sends: ${String(failed[0])}`);
        console.error(
          `  ${total} idempotent sends in ${Date.now() - started} ms; node ${victim} killed ${
            killedAt - started
          } ms in`,
        );
        nodes.restart(victim);
        const got = await readAll(strom, "kill", 3, total);
        const values = got.map((r) => dec.decode(r.value!));
        assert.equal(new Set(values).size, values.length, "no duplicates");
        assert.equal(values.length, total, "no loss");
        // Per key (so per partition) the sequence numbers only grow, and each record sits
        // exactly at the offset its send() reported.
        const lastByKey = new Map<string, number>();
        for (const r of got) {
          const [key, n] = dec.decode(r.value!).split(":");
          assert.ok(
            (lastByKey.get(key) ?? -1) < Number(n),
            `order of ${key}: ${n} after ${lastByKey.get(key)} at ${r.partition}/${r.offset}`,
          );
          lastByKey.set(key, Number(n));
          const reported = results[Number(n)] as { partition: number; offset: number };
          assert.deepEqual([reported.partition, reported.offset], [r.partition, r.offset]);
        }
      });

      await t.step(
        "a producer with a small buffer waits on a stalled leader instead of growing",
        async () => {
          await eventually(
            async () => {
              const brokers = (await admin.describeCluster().catch(() => undefined))?.brokers;
              return brokers?.length === 3 && brokers.every((b) => !b.fenced);
            },
            WAIT_MS_MAX,
            "the killed node to be back and unfenced",
          );
          await admin.createTopic({ name: "stall", partitions: 1, replicationFactor: 3 });
          const warm = strom.producer();
          await warm.send({ topic: "stall", value: "warm" });
          await warm.close();
          const leader = (await admin.describeTopic("stall")).partitions[0].leader;
          const bufferBytesMax = 32 * 1024;
          const producer = strom.producer({
            bufferBytesMax,
            bufferWaitMsMax: 20_000,
            deliveryTimeoutMs: 30_000,
            ackTimeoutMs: 2_000,
          });
          const sends: Promise<unknown>[] = [];
          nodes.pause(leader);
          try {
            for (let i = 0; i < 100; i++) {
              sends.push(
                producer.send({ topic: "stall", value: "y".repeat(1024) }).catch((e) => e),
              );
            }
            await new Promise((r) => setTimeout(r, 500));
            const stats = producer.bufferStats;
            assert.ok(stats.usedBytes <= bufferBytesMax, `buffer used ${stats.usedBytes}`);
            assert.ok(stats.sendsWaiting >= 60, `${stats.sendsWaiting} sends waiting`);
          } finally {
            nodes.resume(leader);
          }
          const settled = await Promise.all(sends);
          const errors = settled.filter((s) => s instanceof Error);
          assert.equal(errors.length, 0, `sends failed after the stall: ${String(errors[0])}`);
          await producer.close();
        },
      );
    } finally {
      await strom.close();
      await nodes.cleanup();
      await cluster.cleanup();
    }
  },
});
