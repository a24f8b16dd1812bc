/**
 * A clean restart (SIGTERM) of a partition leader moves its leaderships away
 * before it stops (controlled shutdown), so an idempotent acks=all producer
 * writing through such restarts loses nothing, duplicates nothing and sees
 * no failed send. Three restarts: the partition leader twice, then the
 * active controller.
 *
 * While the producer runs, the active controller's `/v1/cluster` is polled:
 * no broker may ever be fenced except the one being restarted, and that
 * one must be back in the partition's ISR within {@link ISR_REJOIN_MS_MAX}
 * of starting again. No node may die other than by our SIGTERM (exit 0).
 *
 * History (issue 5): this test used to fail in about two runs of three —
 * a controller "fenced another broker ~1.5 s after taking over, and it
 * stayed out of the ISR for 25+ s". The fencing was right: the broker had
 * crashed. A stopping node's graceful HTTP/2 shutdown sent GOAWAY to its
 * peers, and Deno 2.9.6's `node:http2` client can abort or segfault inside
 * nghttp2 on a GOAWAY (denoland/deno#36788). Nodes now stop without sending
 * one (broker/api/request_gate.ts).
 *
 * Bounded: one cluster start (≤ 60 s), each stop ≤ 30 s, each wait ≤ 30 s,
 * 3 restarts; `ClusterNodes` and the launcher's cleanup stop every process
 * by pid.
 */

import assert from "node:assert/strict";
import { Strom, StromError } from "@strom/client";
import { requestJson } from "./_harness/http.ts";
import { launchCluster } from "./_harness/launcher.ts";
import { ClusterNodes } from "./_harness/nodes.ts";
import { eventually } from "./_harness/process.ts";

const TOPIC = "clean-restarts";
/** Whom each round restarts. */
const ROUNDS = ["partition leader", "partition leader", "active controller"] as const;
const IN_FLIGHT_MAX = 20;
/** Bounds the writer loop even if sends were to fail fast. */
const SENDS_MAX = 200_000;
/** A restarted broker must be back in the ISR this soon after it starts. */
const ISR_REJOIN_MS_MAX = 10_000;
const POLL_INTERVAL_MS = 100;
/** Timeline lines kept for a failure report. */
const EVENTS_MAX = 500;

interface BrokerView {
  readonly id: number;
  readonly fenced?: boolean;
}

/** The active controller's view: brokers and the partition. */
interface ControllerView {
  readonly controller: number;
  readonly fenced: number[];
  readonly leader: number;
  readonly isr: number[];
}

Deno.test({
  name:
    "an idempotent acks=all producer sees no failed send, no loss and no false fencing across clean restarts",
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
    const t0 = Date.now();
    const events: string[] = [];
    const note = (line: string) => {
      if (events.length < EVENTS_MAX) {
        events.push(`${((Date.now() - t0) / 1000).toFixed(2)}s ${line}`);
      }
    };
    const report = () => `timeline:\n${events.join("\n")}\n${nodes.restartedLogs(20)}`;
    let polling = true;
    let poller: Promise<void> = Promise.resolve();
    try {
      await admin.createTopic({ name: TOPIC, partitions: 1, replicationFactor: 3 });
      const fullIsr = async () => {
        const p = (await admin.describeTopic(TOPIC)).partitions[0];
        return p.leader > 0 && p.isr.length === 3 ? p.leader : 0;
      };
      await eventually(async () => (await fullIsr()) > 0, 30_000, "a leader and a full ISR");

      // The broker being restarted may be fenced; nobody else, ever.
      let restarting = 0;
      let latest: ControllerView | undefined;
      const falselyFenced: string[] = [];
      poller = (async () => {
        let last = "";
        while (polling) {
          const view = await controllerView(nodes.liveUrls());
          if (view) {
            latest = view;
            const line =
              `controller ${view.controller} fenced [${view.fenced}] leader ${view.leader} isr [${view.isr}]`;
            if (line !== last) note(line);
            last = line;
            for (const id of view.fenced) {
              if (id !== restarting) falselyFenced.push(`broker ${id} at ${line}`);
            }
          }
          await new Promise((r) => setTimeout(r, POLL_INTERVAL_MS));
        }
      })();

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

      const rejoinMs: number[] = [];
      for (const [round, whom] of ROUNDS.entries()) {
        const leader = await fullIsr();
        assert.ok(leader > 0, "a leader with a full ISR before each restart");
        await eventually(() => latest !== undefined, 30_000, "a view of the active controller");
        const target = whom === "partition leader" ? leader : latest!.controller;
        const ackedBefore = acked.size;
        restarting = target;
        note(`round ${round}: SIGTERM ${whom} ${target}`);
        await nodes.terminate(target);
        nodes.restart(target);
        const startedAt = Date.now();
        note(`round ${round}: node ${target} restarted`);
        await eventually(
          async () => {
            if (failures.length > 0) throw failures[0];
            return (await fullIsr().catch(() => 0)) > 0;
          },
          30_000,
          `node ${target} back in the ISR (round ${round})\n${report()}`,
        );
        rejoinMs.push(Date.now() - startedAt);
        note(`round ${round}: node ${target} back in the ISR`);
        await eventually(
          () => {
            if (failures.length > 0) throw failures[0];
            return acked.size > ackedBefore + 50;
          },
          30_000,
          `writes flowing after round ${round}`,
        );
        // Wait for the controller's view to show the broker unfenced before allowing the next one.
        await eventually(
          () => latest !== undefined && !latest.fenced.includes(target),
          30_000,
          `node ${target} unfenced (round ${round})\n${report()}`,
        );
        restarting = 0;
      }
      stop = true;
      await writer;
      await producer.flush();
      polling = false;
      await poller;

      assert.deepEqual(falselyFenced.slice(0, 5), [], `brokers fenced while alive\n${report()}`);
      for (const [round, ms] of rejoinMs.entries()) {
        assert.ok(
          ms <= ISR_REJOIN_MS_MAX,
          `round ${round}: back in the ISR after ${ms} ms (at most ${ISR_REJOIN_MS_MAX})\n${report()}`,
        );
      }
      const deaths = cluster.output.lines.filter((l) =>
        /died:/.test(l) && !/exit code 0\./.test(l)
      );
      assert.deepEqual(deaths, [], "no node died other than by a clean stop");
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
      console.error(
        `  ${acked.size} acks=all sends across ${ROUNDS.length} clean restarts; back in the ISR after ${
          rejoinMs.join(", ")
        } ms; no broker fenced while alive`,
      );
    } finally {
      polling = false;
      await poller.catch(() => {});
      await strom.close().catch(() => {});
      await nodes.cleanup();
      await cluster.cleanup();
    }
  },
});

/** Asks live nodes until one answers as the active controller; undefined if none does. */
async function controllerView(urls: string[]): Promise<ControllerView | undefined> {
  for (const url of urls) {
    const cluster = await requestJson(`${url}/v1/cluster`, { timeoutMs: 1_000 });
    // Only the Raft leader's image is current; a node replaying its log after a restart
    // shows fencings that were long undone.
    if (cluster.status !== 200 || cluster.body.controller?.id !== cluster.body.nodeId) continue;
    const topic = await requestJson(`${url}/v1/topics/${TOPIC}`, { timeoutMs: 1_000 });
    if (topic.status !== 200) continue;
    const p = topic.body.partitions[0];
    return {
      controller: cluster.body.nodeId,
      fenced: (cluster.body.brokers as BrokerView[]).filter((b) => b.fenced).map((b) => b.id),
      leader: p.leader,
      isr: p.isr,
    };
  }
  return undefined;
}
