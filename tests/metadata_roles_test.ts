/**
 * Node roles, racks and quorum membership on real processes: a cluster of
 * three combined voters and one broker-only observer (racks a, b, a, b).
 *
 * - the observer follows the metadata log as a Raft learner, is shown as an
 *   observer with its lag, never becomes the controller, and hosts
 *   partitions like any broker (a topic of replication factor 4);
 * - replicas are spread over racks;
 * - a voter whose data dir is wiped is refused with the exact commands
 *   that re-add it; running them (through the `strom` CLI) brings it back
 *   first as an observer, then as a voter with its new directory id.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { launchCluster } from "./_harness/launcher.ts";
import { requestJson } from "./_harness/http.ts";
import { ClusterNodes } from "./_harness/nodes.ts";
import { eventually } from "./_harness/process.ts";

const CLI_MAIN = fileURLToPath(new URL("../client/cli/main.ts", import.meta.url));
/** The most a single child process (a refused node, a CLI command) may run. */
const CHILD_TIMEOUT_MS = 30_000;

interface Member {
  id: number;
  directoryId: string | null;
  logEndOffset: number | null;
  lag: number | null;
}

/** Runs a command to completion, killing it (by pid) if it outlives `CHILD_TIMEOUT_MS`. */
async function runBounded(
  argv: readonly string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
  }, CHILD_TIMEOUT_MS);
  try {
    const out = await child.output();
    const text = new TextDecoder();
    return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

function cli(...args: string[]) {
  return runBounded([Deno.execPath(), "run", "--allow-all", CLI_MAIN, ...args]);
}

async function quorumOf(url: string): Promise<{ voters: Member[]; observers: Member[] }> {
  const q = await requestJson(`${url}/v1/quorum`);
  assert.equal(q.status, 200, JSON.stringify(q.body));
  return q.body;
}

async function imageHashes(urls: string[]): Promise<string[]> {
  let hashes: string[] = [];
  await eventually(
    async () => {
      const answers = await Promise.all(
        urls.map((u) => requestJson(`${u}/v1/diagnostics/metadata`)),
      );
      hashes = answers.map((a) => a.body?.hash);
      return answers.every((a) => a.status === 200) &&
        new Set(answers.map((a) => a.body.offset)).size === 1;
    },
    15_000,
    "all nodes at the same metadata offset",
  );
  return hashes;
}

Deno.test({
  name:
    "a broker-only node observes the quorum and hosts partitions; a wiped voter is re-added with remove-voter and add-voter",
  async fn() {
    const cluster = await launchCluster({
      nodes: 4,
      args: ["--broker-only", "1", "--racks", "a,b"],
    });
    const nodes = new ClusterNodes(cluster);
    const urls = nodes.ids.map((id) => nodes.clientUrl(id));
    const [url1, , , url4] = urls;
    try {
      // The observer is a learner with a lag, shown apart from the voters; racks are registered.
      await eventually(
        async () => (await quorumOf(url4)).observers.some((o) => o.id === 4 && o.lag !== null),
        10_000,
        "node 4 listed as an observer",
      );
      const quorum = await quorumOf(url4);
      assert.deepEqual(quorum.voters.map((v) => v.id), [1, 2, 3]);
      assert.deepEqual(quorum.observers.map((o) => o.id), [4]);
      const described = await requestJson(`${url4}/v1/cluster`);
      assert.deepEqual(
        described.body.brokers.map((b: { id: number; rack: string }) => [b.id, b.rack]),
        [[1, "a"], [2, "b"], [3, "a"], [4, "b"]],
      );
      assert.notEqual(described.body.controller.id, 4);

      // It hosts partitions: replication factor 4 needs it; RF 2 spreads over both racks.
      const all = await requestJson(`${url4}/v1/topics`, {
        body: { name: "on-every-broker", partitions: 4, replicationFactor: 4 },
      });
      assert.equal(all.status, 201, JSON.stringify(all.body));
      for (const p of all.body.partitions) assert.ok(p.replicas.includes(4));
      assert.ok(all.body.partitions.some((p: { leader: number }) => p.leader === 4));
      const racked = await requestJson(`${url1}/v1/topics`, {
        body: { name: "rack-spread", partitions: 4, replicationFactor: 2 },
      });
      assert.equal(racked.status, 201, JSON.stringify(racked.body));
      const rackOf = (id: number) => (id % 2 === 1 ? "a" : "b");
      for (const p of racked.body.partitions) {
        assert.equal(
          new Set(p.replicas.map(rackOf)).size,
          2,
          `replicas ${p.replicas} on both racks`,
        );
      }
      assert.equal(new Set(await imageHashes(urls)).size, 1, "the observer's image matches");

      // Wipe voter 3 while it is down: it is refused with the commands that re-add it.
      const oldDir = quorum.voters.find((v) => v.id === 3)!.directoryId!;
      const node3 = cluster.manifest.nodes.find((n) => n.id === 3)!;
      nodes.kill(3);
      await Deno.remove(node3.dataDir, { recursive: true });
      const refused = await runBounded(node3.command);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(refused.stderr, /data dir was wiped or replaced/);
      assert.ok(
        refused.stderr.includes(`quorum remove-voter --id 3 --directory-id=${oldDir}`),
        refused.stderr,
      );
      assert.ok(refused.stderr.includes("quorum add-voter --id 3"), refused.stderr);
      await eventually(
        async () => (await requestJson(`${url1}/v1/cluster`)).body?.controller?.id !== undefined,
        10_000,
        "an active controller among the surviving voters",
      );
      assert.notEqual((await requestJson(`${url4}/v1/cluster`)).body.controller.id, 4);

      // The operator runs the commands from the message.
      const removed = await cli(
        "quorum",
        "remove-voter",
        "--id",
        "3",
        `--directory-id=${oldDir}`,
        "--bootstrap-server",
        url1,
      );
      assert.equal(removed.code, 0, removed.stderr);
      assert.deepEqual((await quorumOf(url1)).voters.map((v) => v.id), [1, 2]);
      nodes.restart(3);
      let newDir: string | null = null;
      await eventually(
        async () => {
          const o = (await quorumOf(url1)).observers.find((m) => m.id === 3);
          newDir = o?.directoryId ?? null;
          return o !== undefined && o.lag === 0;
        },
        20_000,
        "node 3 to rejoin as a caught-up observer",
      );
      assert.notEqual(newDir, oldDir);
      let added = await cli("quorum", "add-voter", "--id", "3", "--bootstrap-server", url4);
      for (let attempt = 0; added.code !== 0 && attempt < 5; attempt++) {
        // A learner that fell behind between the check and the command is REQUEST_TIMED_OUT.
        assert.match(added.stderr, /REQUEST_TIMED_OUT/);
        await new Promise((r) => setTimeout(r, 500));
        added = await cli("quorum", "add-voter", "--id", "3", "--bootstrap-server", url4);
      }
      assert.equal(added.code, 0, added.stderr);
      assert.match(added.stdout, /Added voter 3/);
      await eventually(
        async () => {
          const q = await quorumOf(url4);
          return q.voters.some((v) => v.id === 3 && v.directoryId === newDir) &&
            q.observers.map((o) => o.id).join() === "4";
        },
        10_000,
        "node 3 listed as a voter with its new directory id",
      );
      await eventually(
        async () => (await requestJson(`${nodes.clientUrl(3)}/readyz`)).status === 200,
        15_000,
        "node 3 ready (registered and unfenced)",
      );
      assert.equal(new Set(await imageHashes(urls)).size, 1, "identical images after the re-add");
    } catch (e) {
      console.error(`launcher output:\n${cluster.output.lines.slice(-80).join("\n")}`);
      console.error(nodes.restartedLogs());
      throw e;
    } finally {
      await nodes.cleanup();
      await cluster.cleanup();
    }
  },
});

Deno.test({
  name: "in isolated mode controller-only voters host nothing and broker-only observers host all",
  async fn() {
    const cluster = await launchCluster({
      nodes: 5,
      args: ["--controller-only", "3", "--broker-only", "2"],
    });
    const urls = cluster.manifest.nodes.map((n) => n.clientUrl);
    try {
      const described = await requestJson(`${urls[4]}/v1/cluster`);
      assert.deepEqual(described.body.brokers.map((b: { id: number }) => b.id), [4, 5]);
      assert.ok([1, 2, 3].includes(described.body.controller.id));
      await eventually(
        async () => (await quorumOf(urls[0])).observers.map((o) => o.id).join() === "4,5",
        10_000,
        "nodes 4 and 5 listed as observers",
      );
      assert.deepEqual((await quorumOf(urls[0])).voters.map((v) => v.id), [1, 2, 3]);
      const topic = await requestJson(`${urls[0]}/v1/topics`, {
        body: { name: "on-brokers", partitions: 4, replicationFactor: 2 },
      });
      assert.equal(topic.status, 201, JSON.stringify(topic.body));
      for (const p of topic.body.partitions) assert.deepEqual([...p.replicas].sort(), [4, 5]);
      const tooWide = await requestJson(`${urls[1]}/v1/topics`, {
        body: { name: "too-wide", partitions: 1, replicationFactor: 3 },
      });
      assert.equal(tooWide.body.error.code, "INVALID_REPLICATION_FACTOR");
      assert.equal(new Set(await imageHashes(urls)).size, 1);
    } catch (e) {
      console.error(`launcher output:\n${cluster.output.lines.slice(-80).join("\n")}`);
      throw e;
    } finally {
      await cluster.cleanup();
    }
  },
});
