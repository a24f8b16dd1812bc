/**
 * A deposed group coordinator must not answer from stale memory. The chaos
 * checker saw a group's committed offsets move backwards: a request reached
 * the coordinator's node while it was SIGSTOPped, a new leader of the
 * group's `__consumer_offsets` partition meanwhile accepted newer commits,
 * and on SIGCONT the old node answered the request with the offsets it had
 * in memory. With the leadership barrier (broker/group_coordinator/
 * leadership_barrier.ts) it answers NOT_COORDINATOR or the current offsets.
 *
 * Real processes: one 3-node cluster. Bounded: each wait ≤ 30 s, two rounds;
 * `ClusterNodes` and the launcher's cleanup stop every process by pid.
 */

import assert from "node:assert/strict";
import { launchCluster } from "./_harness/launcher.ts";
import { ClusterNodes } from "./_harness/nodes.ts";
import { createTopic, describePartitions, requestJson } from "./_harness/http.ts";
import { eventually } from "./_harness/process.ts";
import { groupCoordinatorPartition } from "../broker/groups/mod.ts";

const TOPIC = "stale-offsets";
const OFFSETS_TOPIC = "__consumer_offsets";
const ROUNDS = 2;

Deno.test({
  name:
    "a coordinator paused past its session answers a request queued meanwhile with NOT_COORDINATOR or the current offsets, never older ones",
  async fn() {
    const cluster = await launchCluster();
    const nodes = new ClusterNodes(cluster);
    try {
      const urls = cluster.manifest.nodes.map((n) => n.clientUrl);
      await createTopic(urls[0], TOPIC, 1);

      const commit = async (url: string, group: string, offset: number) => {
        await eventually(
          async () =>
            (await requestJson(`${url}/v1/groups/${group}/offsets`, {
              body: { offsets: [{ topic: TOPIC, partition: 0, offset }] },
              timeoutMs: 10_000,
            })).status === 200,
          30_000,
          `committing offset ${offset} of group ${group} through ${url}`,
        );
      };
      const coordinatorOf = async (url: string, group: string) => {
        const partitions = await describePartitions(url, OFFSETS_TOPIC);
        if (!partitions) return undefined;
        const partition = groupCoordinatorPartition(group, partitions.length);
        return { partition, ...partitions[partition] };
      };

      for (let round = 0; round < ROUNDS; round++) {
        const group = `stale-${round}`;
        await commit(urls[0], group, 10);
        const before = await coordinatorOf(urls[0], group);
        assert.ok(before && before.leader > 0, "the group has a coordinator");
        const old = before.leader;
        const witness = nodes.ids.find((id) => id !== old)!;

        nodes.pause(old);
        try {
          // The controller fences the silent broker and elects a new leader.
          await eventually(
            async () => {
              const now = await coordinatorOf(nodes.clientUrl(witness), group);
              return now !== undefined && now.leader > 0 && now.leader !== old &&
                now.leaderEpoch > before.leaderEpoch;
            },
            30_000,
            `a new coordinator for ${group} while node ${old} is paused`,
          );
          await commit(nodes.clientUrl(witness), group, 20);
          // Queued in the paused node's socket; it runs when the node resumes.
          const queued = requestJson(`${nodes.clientUrl(old)}/v1/groups/${group}/offsets`, {
            timeoutMs: 30_000,
          });
          await new Promise((resolve) => setTimeout(resolve, 300));
          nodes.resume(old);
          const answer = await queued;
          console.log(
            `round ${round}: node ${old} answered the queued fetch ${answer.status} ${
              answer.status === 200 ? "" : answer.body?.error?.code
            }`,
          );
          if (answer.status === 200) {
            const offsets = answer.body.offsets as {
              topic: string;
              partition: number;
              offset: number;
            }[];
            const seen = offsets.find((o) => o.topic === TOPIC && o.partition === 0)?.offset;
            assert.equal(seen, 20, `node ${old} answered offsets ${JSON.stringify(offsets)}`);
          } else {
            assert.ok(
              ["NOT_COORDINATOR", "COORDINATOR_NOT_AVAILABLE", "COORDINATOR_LOAD_IN_PROGRESS"]
                .includes(answer.body?.error?.code),
              `node ${old} answered ${answer.status} ${JSON.stringify(answer.body)}`,
            );
          }
        } finally {
          if (nodes.running(old)) nodes.resume(old);
        }
        // Everyone agrees afterwards.
        await eventually(
          async () => {
            const r = await requestJson(`${urls[0]}/v1/groups/${group}/offsets`);
            return r.status === 200 &&
              r.body.offsets.some((o: { partition: number; offset: number }) =>
                o.partition === 0 && o.offset === 20
              );
          },
          30_000,
          `the committed offset of ${group} is 20 everywhere`,
        );
      }
    } finally {
      await nodes.cleanup();
      await cluster.cleanup();
    }
  },
});
