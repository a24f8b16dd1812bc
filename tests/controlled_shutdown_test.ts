/**
 * A clean restart (SIGTERM) of a partition leader moves its leaderships away
 * before it stops (controlled shutdown), so an idempotent acks=all producer
 * writing through two such restarts loses nothing, duplicates nothing and
 * sees no failed send.
 *
 * IGNORED while an open bug is fixed (found by this test, 2026-11-21): in
 * about two runs of three, after the second clean restart — of the node
 * that was also the active controller, once preferred-leader balancing had
 * just moved the partition's leadership back to the node restarted first —
 * the new controller fences that node ~1.5 s after taking over, and the node
 * then stays out of the ISR for more than 25 s (writes continue on the other
 * two; no acknowledged write is lost). In another run the producer's sends
 * expired after 30 s of ECONNREFUSED to the stopped node. Un-ignore once the
 * fenced broker rejoins promptly.
 *
 * Bounded: one cluster start (≤ 60 s), each stop ≤ 30 s, each wait ≤ 30 s,
 * 2 restarts; `ClusterNodes` and the launcher's cleanup stop every process
 * by pid.
 */

import assert from "node:assert/strict";
import { Strom, StromError } from "@strom/client";
import { launchCluster } from "./_harness/launcher.ts";
import { ClusterNodes } from "./_harness/nodes.ts";
import { eventually } from "./_harness/process.ts";

const TOPIC = "clean-restarts";
const RESTARTS = 2;
const IN_FLIGHT_MAX = 20;
/** Bounds the writer loop even if sends were to fail fast. */
const SENDS_MAX = 200_000;

Deno.test({
  ignore: true,
  name:
    "an idempotent acks=all producer sees no failed send and no loss or duplicate across clean leader restarts",
  async fn() {
    const cluster = await launchCluster();
    const nodes = new ClusterNodes(cluster);
    const strom = new Strom({
      brokers: cluster.manifest.nodes.map((n) => n.clientUrl),
      requestTimeoutMs: 5_000,
      retryBackoffMs: 50,
      retryBackoffMsMax: 500,
    });
    const admin = strom.admin();
    const producer = strom.producer({ deliveryTimeoutMs: 30_000, lingerMs: 1 });
    try {
      await admin.createTopic({ name: TOPIC, partitions: 1, replicationFactor: 3 });
      const fullIsr = async () => {
        const p = (await admin.describeTopic(TOPIC)).partitions[0];
        return p.leader > 0 && p.isr.length === 3 ? p.leader : 0;
      };
      await eventually(async () => (await fullIsr()) > 0, 30_000, "a leader and a full ISR");

      let stop = false;
      let sent = 0;
      const failures: unknown[] = [];
      const acked = new Map<string, number>();
      const writer = (async () => {
        const pending = new Set<Promise<void>>();
        while (!stop && failures.length === 0 && sent < SENDS_MAX) {
          const value = `v${sent++}`;
          const p = producer.send({ topic: TOPIC, value }).then(
            (m) => void acked.set(value, m.offset),
            (e) => void failures.push(e),
          );
          pending.add(p);
          p.finally(() => pending.delete(p));
          if (pending.size >= IN_FLIGHT_MAX) await Promise.race(pending);
        }
        await Promise.all(pending);
      })();

      for (let round = 0; round < RESTARTS; round++) {
        const leader = await fullIsr();
        assert.ok(leader > 0, "a leader with a full ISR before each restart");
        const ackedBefore = acked.size;
        await nodes.terminate(leader);
        nodes.restart(leader);
        await eventually(
          async () => {
            if (failures.length > 0) throw failures[0];
            return (await fullIsr().catch(() => 0)) > 0 && acked.size > ackedBefore + 50;
          },
          30_000,
          `node ${leader} back in the ISR and writes flowing (round ${round})`,
        );
      }
      stop = true;
      await writer;
      await producer.flush();

      assert.equal(
        failures.length,
        0,
        `failed sends: ${
          failures.slice(0, 3).map((e) =>
            e instanceof StromError ? `${e.code}: ${e.message}` : String(e)
          ).join("; ")
        }`,
      );
      assert.equal(acked.size, sent, "every send was acknowledged");

      const consumer = strom.consumer({ autoOffsetReset: "earliest", fetchWaitMsMax: 200 });
      consumer.assign([{ topic: TOPIC, partition: 0 }]);
      const seen = new Map<string, number>();
      const deadline = AbortSignal.timeout(30_000);
      try {
        while (seen.size < acked.size) {
          const batch = await consumer.nextBatch({ signal: deadline });
          if (!batch) break;
          for (const r of batch.records) {
            const value = new TextDecoder().decode(r.value!);
            assert.ok(!seen.has(value), `duplicate ${value}`);
            seen.set(value, r.offset);
          }
        }
      } finally {
        await consumer.close();
      }
      for (const [value, offset] of acked) assert.equal(seen.get(value), offset, value);
      console.error(`  ${acked.size} acks=all sends across ${RESTARTS} clean leader restarts`);
    } finally {
      await strom.close().catch(() => {});
      await nodes.cleanup();
      await cluster.cleanup();
    }
  },
});
