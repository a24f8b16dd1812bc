/**
 * Whole-cluster durability of the metadata log: admin writes (topic
 * creations, config changes) acknowledged by the cluster survive a SIGKILL
 * of every node at once and a restart of all of them from the manifest.
 *
 * Round 0 kills right after the writes were acknowledged; later rounds kill
 * while more writes are in flight. Acknowledged writes must be there after
 * the restart, on every node, with identical metadata image hashes; writes
 * without an answer may or may not be (both are counted and printed).
 */

import assert from "node:assert/strict";
import { launchCluster } from "./_harness/launcher.ts";
import { requestJson } from "./_harness/http.ts";
import { ClusterNodes } from "./_harness/nodes.ts";
import { eventually } from "./_harness/process.ts";

/** Rounds with writes in flight when the kill lands (after the first, fully acknowledged one). */
const IN_FLIGHT_ROUNDS = 2;
/** Concurrent admin writes per round. */
const WRITES_PER_ROUND = 6;
/** The most a restarted cluster gets to be ready again. */
const RESTART_READY_MS = 30_000;

interface Write {
  readonly topic: string;
  /** The `retention.ms` this write sets (config writes), or undefined (create only). */
  readonly retentionMs?: string;
}

/** Every node's image hash once all report the same metadata offset. */
async function imageHashes(urls: string[]): Promise<string[]> {
  let hashes: string[] = [];
  await eventually(
    async () => {
      const answers = await Promise.all(
        urls.map((u) => requestJson(`${u}/v1/diagnostics/metadata`, { timeoutMs: 2_000 })),
      );
      if (answers.some((a) => a.status !== 200)) return false;
      hashes = answers.map((a) => a.body.hash);
      return new Set(answers.map((a) => a.body.offset)).size === 1;
    },
    15_000,
    "all nodes at the same metadata offset",
  );
  return hashes;
}

async function allReady(urls: string[]): Promise<void> {
  await eventually(
    async () =>
      (await Promise.all(urls.map((u) => requestJson(`${u}/readyz`, { timeoutMs: 1_000 }))))
        .every((a) => a.status === 200),
    RESTART_READY_MS,
    "every restarted node to be ready",
  );
}

/** Pause between the starts of a round's writes, so that the kill lands among them. */
const WRITE_STAGGER_MS = 25;

/**
 * Creates a topic and sets `retention.ms` on it; resolves with what was
 * acknowledged. `onAck` runs once the creation is acknowledged.
 */
async function createAndConfigure(
  url: string,
  topic: string,
  retentionMs: string,
  onAck: () => void = () => {},
): Promise<Write[]> {
  const acked: Write[] = [];
  const created = await requestJson(`${url}/v1/topics`, {
    body: { name: topic, partitions: 2, replicationFactor: 3 },
    timeoutMs: 10_000,
  });
  if (created.status !== 201) return acked;
  acked.push({ topic });
  onAck();
  const altered = await requestJson(`${url}/v1/topics/${topic}/configs`, {
    body: { configs: { "retention.ms": retentionMs } },
    timeoutMs: 10_000,
  });
  if (altered.status === 200) acked.push({ topic, retentionMs });
  return acked;
}

/** Checks that every acknowledged write is visible on every node. */
async function assertAcknowledgedPresent(urls: string[], acked: Write[]): Promise<void> {
  for (const url of urls) {
    for (const w of acked) {
      const t = await requestJson(`${url}/v1/topics/${w.topic}`);
      assert.equal(t.status, 200, `acknowledged topic ${w.topic} missing on ${url}`);
      if (w.retentionMs !== undefined) {
        assert.equal(
          t.body.configs["retention.ms"],
          w.retentionMs,
          `acknowledged config of ${w.topic} missing on ${url}`,
        );
      }
    }
  }
}

Deno.test({
  name: "acknowledged admin writes survive a SIGKILL of every node and a restart of all",
  async fn() {
    const cluster = await launchCluster({ nodes: 3 });
    const nodes = new ClusterNodes(cluster);
    const urls = nodes.ids.map((id) => nodes.clientUrl(id));
    const acked: Write[] = [];
    let unanswered = 0;
    let unansweredPresent = 0;
    try {
      for (let round = 0; round <= IN_FLIGHT_ROUNDS; round++) {
        const writes = Array.from({ length: WRITES_PER_ROUND }, (_, i) => ({
          topic: `durable-r${round}-${i}`,
          retentionMs: String(60_000 + round * 1000 + i),
        }));
        const firstAck = Promise.withResolvers<void>();
        const inFlight = writes.map(async (w, i) => {
          if (round > 0) await new Promise((r) => setTimeout(r, i * WRITE_STAGGER_MS));
          return await createAndConfigure(
            urls[i % urls.length],
            w.topic,
            w.retentionMs,
            firstAck.resolve,
          );
        });
        if (round === 0) {
          for (const result of await Promise.all(inFlight)) acked.push(...result);
          assert.equal(acked.length, 2 * WRITES_PER_ROUND, "every round-0 write is acknowledged");
        } else {
          // Kill while writes are in flight: as soon as the first creation is acknowledged.
          let timer: ReturnType<typeof setTimeout> | undefined;
          await Promise.race([
            firstAck.promise,
            new Promise((r) => (timer = setTimeout(r, 3_000))),
          ]);
          clearTimeout(timer);
        }
        const killedAt = performance.now();
        for (const id of nodes.ids) nodes.kill(id);
        if (round > 0) {
          const results = await Promise.all(inFlight);
          const answered = new Set(results.flat().map((w) => `${w.topic}/${w.retentionMs}`));
          for (const r of results) acked.push(...r);
          for (const w of writes) {
            if (!answered.has(`${w.topic}/undefined`)) unanswered++;
          }
        }
        for (const id of nodes.ids) nodes.restart(id);
        await allReady(urls);
        console.log(
          `round ${round}: all nodes ready again ${
            (performance.now() - killedAt).toFixed(0)
          } ms after the SIGKILL; ${acked.length} writes acknowledged so far`,
        );
        await assertAcknowledgedPresent(urls, acked);
        const hashes = await imageHashes(urls);
        assert.equal(new Set(hashes).size, 1, `identical images after round ${round}`);
      }
      // Unacknowledged creations may or may not have committed: count the ones that did.
      const listed = await requestJson(`${urls[0]}/v1/topics`);
      const names = new Set(listed.body.topics.map((t: { name: string }) => t.name));
      for (let round = 1; round <= IN_FLIGHT_ROUNDS; round++) {
        for (let i = 0; i < WRITES_PER_ROUND; i++) {
          const topic = `durable-r${round}-${i}`;
          if (!acked.some((w) => w.topic === topic) && names.has(topic)) unansweredPresent++;
        }
      }
      console.log(
        `${acked.length} acknowledged writes all present; ${unanswered} creations had no answer, ${unansweredPresent} of them committed anyway`,
      );
    } catch (e) {
      console.error(`launcher output:\n${cluster.output.lines.slice(-60).join("\n")}`);
      console.error(nodes.restartedLogs());
      throw e;
    } finally {
      await nodes.cleanup();
      await cluster.cleanup();
    }
  },
});
