/**
 * A broker restarted right after a SIGKILL must not act on the metadata it
 * had on disk: that image still names it leader of partitions the controller
 * has since moved. Acting on it would make a stale leader that accepts acks=1
 * writes doomed to truncation. The node must wait until its new registration
 * is in its metadata log, then follow the current leader.
 *
 * Bounded: one cluster start (≤ 60 s), every wait ≤ 30 s; `ClusterNodes` and
 * the launcher's cleanup stop every process by pid.
 */

import assert from "node:assert/strict";
import { launchCluster } from "./_harness/launcher.ts";
import { ClusterNodes } from "./_harness/nodes.ts";
import { createTopic, describePartitions, type PartitionView } from "./_harness/http.ts";
import { eventually } from "./_harness/process.ts";

const TOPIC = "stale";

Deno.test({
  name:
    "a leader restarted right after SIGKILL never leads again at its old epoch and rejoins as a follower",
  async fn() {
    const cluster = await launchCluster();
    const nodes = new ClusterNodes(cluster);
    try {
      const urls = cluster.manifest.nodes.map((n) => n.clientUrl);
      await createTopic(urls[0], TOPIC, 1);
      const describe = async (url: string): Promise<PartitionView | undefined> =>
        (await describePartitions(url, TOPIC))?.[0];
      let before: PartitionView | undefined;
      await eventually(
        async () => {
          before = await describe(urls[0]);
          return before !== undefined && before.leader > 0 && before.isr.length === 3;
        },
        30_000,
        "a leader and a full ISR",
      );
      const victim = before!.leader;

      nodes.kill(victim);
      nodes.restart(victim);

      const witness = nodes.ids.find((id) => id !== victim)!;
      let after: PartitionView | undefined;
      await eventually(
        async () => {
          after = await describe(nodes.clientUrl(witness));
          return after !== undefined && after.leaderEpoch > before!.leaderEpoch &&
            after.leader !== victim && after.isr.includes(victim);
        },
        30_000,
        `node ${victim} back in the ISR under a new leader`,
      );

      const logs = nodes.restartedLogs(100_000);
      assert.match(logs, /replicas wait for this broker's registration/);
      assert.doesNotMatch(
        logs,
        new RegExp(`became leader partition=${TOPIC}-0 leaderEpoch=${before!.leaderEpoch}\\b`),
        "the restarted node led at its old epoch",
      );
      assert.match(logs, new RegExp(`became follower partition=${TOPIC}-0`));
    } finally {
      await nodes.cleanup();
      await cluster.cleanup();
    }
  },
});
