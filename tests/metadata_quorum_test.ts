/**
 * The metadata quorum and controller on real processes: topics administered
 * from any node, identical metadata images everywhere, controller and broker
 * failover (SIGKILL) with measured times, and a restarted broker that
 * registers again and is unfenced.
 */

import assert from "node:assert/strict";
import type { LaunchedCluster } from "./_harness/launcher.ts";
import { launchCluster } from "./_harness/launcher.ts";
import { createTopic, requestJson } from "./_harness/http.ts";
import { eventually, LineCollector, processAlive } from "./_harness/process.ts";

/** Every node's image hash once all nodes report the same offset. */
async function imageHashes(urls: string[]): Promise<string[]> {
  let hashes: string[] = [];
  await eventually(
    async () => {
      const answers = await Promise.all(
        urls.map((u) => requestJson(`${u}/v1/diagnostics/metadata`)),
      );
      const offsets = new Set(answers.map((a) => a.body.offset));
      hashes = answers.map((a) => a.body.hash);
      return offsets.size === 1;
    },
    10_000,
    "all nodes at the same metadata offset",
  );
  return hashes;
}

async function controllerOf(url: string): Promise<number> {
  let id = 0;
  await eventually(
    async () => {
      const c = await requestJson(`${url}/v1/cluster`);
      id = c.body?.controller?.id ?? 0;
      return id !== 0;
    },
    10_000,
    "an active controller",
  );
  return id;
}

function startNode(
  command: readonly string[],
): { proc: Deno.ChildProcess; out: LineCollector; err: LineCollector } {
  const proc = new Deno.Command(command[0], {
    args: command.slice(1),
    stdout: "piped",
    stderr: "piped",
  })
    .spawn();
  return { proc, out: new LineCollector(proc.stdout), err: new LineCollector(proc.stderr) };
}

Deno.test({
  name:
    "the metadata quorum survives controller and broker SIGKILLs and stays identical on every node",
  async fn() {
    const cluster: LaunchedCluster = await launchCluster({ nodes: 3 });
    const restarted: ReturnType<typeof startNode>[] = [];
    try {
      const urls = cluster.manifest.nodes.map((n) => n.clientUrl);
      await createTopic(urls[0], "orders", 6);
      const described = await requestJson(`${urls[2]}/v1/topics/orders`);
      // The write was answered once node 1 applied it; node 3 may need a moment.
      await eventually(
        async () => (await requestJson(`${urls[2]}/v1/topics/orders`)).status === 200,
        5_000,
        "node 3 to see the topic",
      );
      assert.ok(described.status === 200 || described.status === 404);
      const dup = await requestJson(`${urls[1]}/v1/topics`, { body: { name: "orders" } });
      assert.equal(dup.body.error.code, "TOPIC_ALREADY_EXISTS");
      const hashes = await imageHashes(urls);
      assert.equal(new Set(hashes).size, 1, "identical images at equal offsets");

      // SIGKILL the active controller; a new one must serve admin writes.
      const controllerId = await controllerOf(urls[0]);
      const victim = cluster.manifest.nodes.find((n) => n.id === controllerId)!;
      const survivor = cluster.manifest.nodes.find((n) => n.id !== controllerId)!;
      const killedAt = performance.now();
      Deno.kill(victim.pid!, "SIGKILL");
      let controllerFailoverMs = 0;
      await eventually(
        async () => {
          const r = await requestJson(`${survivor.clientUrl}/v1/topics`, {
            body: { name: `after-${Date.now()}`, partitions: 1, replicationFactor: 2 },
            timeoutMs: 2_000,
          });
          controllerFailoverMs = performance.now() - killedAt;
          return r.status === 201;
        },
        15_000,
        "a new controller to accept admin writes",
      );
      console.log(
        `controller failover (SIGKILL -> admin write committed): ${
          controllerFailoverMs.toFixed(0)
        } ms`,
      );

      // The killed node's partitions get new leaders from the ISR once it is fenced.
      let brokerFailoverMs = 0;
      await eventually(
        async () => {
          const t = await requestJson(`${survivor.clientUrl}/v1/topics/orders`);
          brokerFailoverMs = performance.now() - killedAt;
          return t.status === 200 &&
            t.body.partitions.every((p: { leader: number; isr: number[] }) =>
              p.leader !== victim.id && p.isr.includes(p.leader) && !p.isr.includes(victim.id)
            );
        },
        15_000,
        "partitions of the killed broker to get new leaders",
      );
      console.log(
        `broker failover (SIGKILL -> new partition leaders from the ISR): ${
          brokerFailoverMs.toFixed(0)
        } ms`,
      );
      const cluster2 = await requestJson(`${survivor.clientUrl}/v1/cluster`);
      const fenced = cluster2.body.brokers.find((b: { id: number }) => b.id === victim.id);
      assert.equal(fenced.fenced, true);

      // Restart it with the manifest's command: it registers again and is unfenced.
      const node = startNode(victim.command);
      restarted.push(node);
      await eventually(
        async () => {
          const c = await requestJson(`${survivor.clientUrl}/v1/cluster`);
          const b = c.body?.brokers?.find((x: { id: number }) => x.id === victim.id);
          return b !== undefined && b.fenced === false && b.epoch > fenced.epoch;
        },
        15_000,
        "the restarted broker to be unfenced with a new epoch",
      );
      const after = await imageHashes(urls);
      assert.equal(new Set(after).size, 1, "identical images after the restart");

      // SIGKILL a broker that is not the controller: only its session must expire.
      const activeId = await controllerOf(survivor.clientUrl);
      const broker = cluster.manifest.nodes.find((n) => n.id !== activeId && n.id !== victim.id)!;
      const observer = cluster.manifest.nodes.find((n) => n.id === activeId)!;
      console.log(`controller now node ${activeId}; killing broker ${broker.id}`);
      const leaders = await requestJson(`${observer.clientUrl}/v1/topics/orders`);
      assert.ok(leaders.body.partitions.some((p: { leader: number }) => p.leader === broker.id));
      const brokerKilledAt = performance.now();
      Deno.kill(broker.pid!, "SIGKILL");
      let plainBrokerFailoverMs = 0;
      await eventually(
        async () => {
          const t = await requestJson(`${observer.clientUrl}/v1/topics/orders`);
          plainBrokerFailoverMs = performance.now() - brokerKilledAt;
          return t.status === 200 &&
            t.body.partitions.every((p: { leader: number }) => p.leader !== broker.id);
        },
        15_000,
        "partitions of the killed broker to get new leaders",
      );
      console.log(
        `broker failover, controller alive (SIGKILL -> new leaders): ${
          plainBrokerFailoverMs.toFixed(0)
        } ms`,
      );

      // Its disk is wiped while it is down: it must not come back as the same voter.
      await Deno.remove(broker.dataDir, { recursive: true });
      const wiped = await new Deno.Command(broker.command[0], {
        args: broker.command.slice(1),
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(wiped.stderr);
      assert.equal(wiped.code, 1, stderr);
      assert.match(
        stderr,
        new RegExp(`node ${broker.id} came back with data directory id .* wiped or replaced`),
      );
      assert.match(stderr, /Restore its original data dir/);
    } catch (e) {
      console.error(
        `launcher output (last 120 lines):\n${cluster.output.lines.slice(-120).join("\n")}`,
      );
      for (const r of restarted) {
        console.error(`restarted node:\n${r.err.lines.slice(-60).join("\n")}`);
      }
      throw e;
    } finally {
      for (const r of restarted) {
        if (processAlive(r.proc.pid)) r.proc.kill("SIGKILL");
        await r.proc.status;
        await Promise.all([r.out.done, r.err.done]);
      }
      await cluster.cleanup();
    }
  },
});
