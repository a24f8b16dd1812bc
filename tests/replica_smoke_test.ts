/**
 * Smoke test of the replica manager on real processes: a topic with
 * replication factor 3, binary acks=all produce to the leader, a fetch back,
 * and all three replicas' diagnostics checksums equal up to the HW. (The
 * chaos tests — leader kills, paused followers — are in replication_test.ts.)
 *
 * Bounded: one cluster start (≤ 60 s), every wait ≤ 20 s; the launcher's
 * cleanup stops every node by pid.
 */

import assert from "node:assert/strict";
import { decodeRecordBatches, encodeRecordBatchSync, H2Client } from "@strom/client";
import { launchCluster } from "./_harness/launcher.ts";
import { createTopic, requestJson } from "./_harness/http.ts";
import { eventually } from "./_harness/process.ts";

const TOPIC = "smoke";
const BATCH = "application/vnd.strom.batch";

Deno.test({
  name:
    "a record produced with acks=all to an RF 3 topic is fetched back and stored identically on all three replicas",
  async fn() {
    const cluster = await launchCluster();
    const http = new H2Client({ timeoutMs: 10_000 });
    try {
      const urls = cluster.manifest.nodes.map((n) => n.clientUrl);
      await createTopic(urls[0], TOPIC, 1);

      let leaderUrl = "";
      await eventually(
        async () => {
          const d = await requestJson(`${urls[0]}/v1/topics/${TOPIC}`);
          const p = d.body?.partitions?.[0];
          if (!(p?.leader > 0 && p.isr.length === 3)) return false;
          leaderUrl = cluster.manifest.nodes.find((n) => n.id === p.leader)!.clientUrl;
          return true;
        },
        20_000,
        "the partition to have a leader and a full ISR",
      );

      const values = ["alpha", "beta", "gamma"];
      const batch = encodeRecordBatchSync({
        records: values.map((v) => ({ value: new TextEncoder().encode(v) })),
      });
      let produced: { baseOffset: number; lastOffset: number } | undefined;
      await eventually(
        async () => {
          const res = await http.request(leaderUrl, {
            method: "POST",
            path: `/v1/topics/${TOPIC}/partitions/0/records?acks=all&timeoutMs=5000`,
            headers: { "content-type": BATCH },
            body: batch.slice(),
          });
          if (res.status !== 200) return false;
          produced = JSON.parse(new TextDecoder().decode(res.body));
          return true;
        },
        20_000,
        "an acks=all produce to succeed",
      );
      assert.deepEqual(produced && [produced.baseOffset, produced.lastOffset], [0, 2]);

      const fetched = await http.request(leaderUrl, {
        path: `/v1/topics/${TOPIC}/partitions/0/records?offset=0&maxWaitMs=0`,
        headers: { accept: BATCH },
      });
      assert.equal(fetched.status, 200);
      assert.equal(fetched.headers["x-strom-high-watermark"], "3");
      const got = (await decodeRecordBatches(fetched.body)).flatMap((b) =>
        b.records.map((r) => new TextDecoder().decode(r.value!))
      );
      assert.deepEqual(got, values);

      await eventually(
        async () => {
          const sums = await Promise.all(urls.map(async (url) => {
            const d = await requestJson(`${url}/v1/diagnostics/replicas?upTo=3`);
            const r = d.body?.replicas?.find((x: { topic: string }) => x.topic === TOPIC);
            return r && r.highWatermark === 3 ? r.checksum.crc32c : undefined;
          }));
          return sums.every((s) => s !== undefined && s === sums[0]);
        },
        20_000,
        "all three replicas to report equal checksums at HW 3",
      );
    } finally {
      await http.close();
      await cluster.cleanup();
    }
  },
});
