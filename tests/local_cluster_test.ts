/**
 * The walking skeleton end to end: `deno task start`'s launcher starts three
 * real node processes, each serves HTTP/2, the internal listener refuses
 * requests without the cluster secret, a SIGKILLed node is reported, and
 * SIGTERM to the launcher leaves no process behind.
 */

import assert from "node:assert/strict";
import * as http2 from "node:http2";
import { launchCluster } from "./_harness/launcher.ts";
import { eventually, LineCollector, portFree, processAlive } from "./_harness/process.ts";

/** GET over HTTP/2 with prior knowledge, via node:http2; returns status, body and the protocol. */
async function h2Get(
  url: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; protocol: string | undefined }> {
  const session = http2.connect(url);
  try {
    const { promise, resolve, reject } = Promise.withResolvers<
      { status: number; body: string; protocol: string | undefined }
    >();
    session.on("error", reject);
    const req = session.request({ ":path": path, ":method": "GET", ...headers });
    let status = 0;
    let body = "";
    req.setEncoding("utf8");
    req.on("response", (h) => (status = Number(h[":status"])));
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", () => resolve({ status, body, protocol: session.alpnProtocol }));
    req.on("error", reject);
    req.end();
    return await promise;
  } finally {
    await new Promise<void>((resolve) => session.close(() => resolve()));
  }
}

Deno.test({
  name: "the launcher starts three HTTP/2 nodes, reports a killed node and leaves nothing behind",
  async fn() {
    const cluster = await launchCluster({ nodes: 3 });
    let launcherStatus: Deno.CommandStatus | undefined;
    try {
      const { manifest } = cluster;
      assert.equal(manifest.nodes.length, 3);
      assert.deepEqual(manifest.nodes.map((n) => n.id), [1, 2, 3]);
      const secret = (await Deno.readTextFile(manifest.secretFile)).trim();
      assert.equal((await Deno.stat(manifest.secretFile)).mode! & 0o777, 0o600);

      for (const node of manifest.nodes) {
        assert.equal(node.clientUrl, `http://127.0.0.1:${cluster.basePort + node.id - 1}`);
        assert.ok(node.pid !== null && processAlive(node.pid), `node ${node.id} runs`);
        assert.ok(node.command.includes(node.configFile), "the restart command names the config");
        assert.ok(
          node.command.includes("--v8-flags=--max-old-space-size=1024,--max-semi-space-size=4"),
          `the default heap caps are in the restart command too: ${node.commandLine}`,
        );
        const config = JSON.parse(await Deno.readTextFile(node.configFile));
        assert.equal(config.nodeId, node.id);

        const health = await h2Get(node.clientUrl, "/healthz");
        assert.equal(health.status, 200);
        assert.equal(health.protocol, "h2c", "the client listener speaks HTTP/2 (prior knowledge)");
        assert.deepEqual(JSON.parse(health.body), { status: "ok", nodeId: node.id });

        const http1 = await fetch(`${node.clientUrl}/v1/cluster`);
        const info = await http1.json();
        assert.equal(info.clusterId, manifest.clusterId);
        assert.equal(info.nodeId, node.id);
        assert.deepEqual(info.nodes.map((n: { id: number }) => n.id), [1, 2, 3]);

        const denied = await h2Get(node.internalUrl, "/internal/ping");
        assert.equal(denied.status, 401);
        assert.equal(JSON.parse(denied.body).error.code, "UNAUTHENTICATED");
        const wrong = await h2Get(node.internalUrl, "/internal/ping", {
          "x-strom-secret": "0".repeat(64),
        });
        assert.equal(wrong.status, 401);
        const allowed = await h2Get(node.internalUrl, "/internal/ping", {
          "x-strom-secret": secret,
        });
        assert.equal(allowed.status, 200);
      }

      // The cap took effect: V8's limit is the 1 GiB old space plus the young
      // generation, not the several GiB it picks for this machine's RAM.
      for (const node of manifest.nodes) {
        const started = await cluster.output.waitFor(
          new RegExp(`node-${node.id} \\| .*node started .*jsHeapLimitMb=(\\d+)`),
          5_000,
        );
        const limitMb = Number(/jsHeapLimitMb=(\d+)/.exec(started)![1]);
        // V8's limit is the old space plus three semi-spaces: 1024 + 3 × 4 (1120 with V8's own
        // 32 MiB semi-spaces for a 1 GiB heap, 4192 with no cap at all on this machine).
        assert.ok(limitMb >= 1024 && limitMb <= 1036, `node ${node.id}: ${started}`);
      }

      const cli = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-all",
          "client/cli/main.ts",
          "cluster",
          "describe",
          "--bootstrap-server",
          manifest.nodes[2].clientUrl,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(cli.code, 0, new TextDecoder().decode(cli.stderr));
      assert.match(new TextDecoder().decode(cli.stdout), new RegExp(manifest.clusterId));

      const victim = manifest.nodes[1];
      Deno.kill(victim.pid!, "SIGKILL");
      const report = await cluster.output.waitFor(/node 2 \(pid \d+\) died/, 10_000);
      assert.match(report, /killed by signal SIGKILL/);
      await cluster.output.waitFor(/--config .*node-2\.json/, 5_000);

      cluster.process.kill("SIGTERM");
      launcherStatus = await cluster.process.status;
      assert.equal(launcherStatus.code, 0, "the launcher exits 0 after SIGTERM");
      for (const node of manifest.nodes) {
        await eventually(() => !processAlive(node.pid!), 5_000, `node ${node.id} to exit`);
      }
      assert.ok(cluster.output.lines.some((l) => /all nodes stopped/.test(l)));
      for (const node of manifest.nodes) {
        assert.ok(portFree(cluster.basePort + node.id - 1), "the client port is released");
      }
    } finally {
      await cluster.cleanup();
    }
  },
});

Deno.test({
  name: "the launcher refuses a taken port with a clear message and starts nothing",
  async fn() {
    const first = await launchCluster({ nodes: 1 });
    try {
      const dataDir = await Deno.makeTempDir({ prefix: "strom-test-" });
      try {
        const second = new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "--allow-all",
            "broker/launcher_main.ts",
            "--nodes",
            "1",
            "--base-port",
            String(first.basePort),
            "--data-dir",
            dataDir,
          ],
          stdout: "piped",
          stderr: "piped",
        });
        const out = await second.output();
        const stderr = new TextDecoder().decode(out.stderr);
        assert.equal(out.code, 1);
        assert.match(stderr, new RegExp(`already in use: 127\\.0\\.0\\.1:${first.basePort} `));
        assert.doesNotMatch(stderr, /^\s+at /m, "no stack trace");
      } finally {
        await Deno.remove(dataDir, { recursive: true });
      }
    } finally {
      await first.cleanup();
    }
  },
});

Deno.test({
  name: "a node refuses a data dir that belongs to another node",
  async fn() {
    const cluster = await launchCluster({ nodes: 2 });
    try {
      // Point node 2's config at node 1's data dir, then start it by hand.
      const node2 = cluster.manifest.nodes[1];
      const config = JSON.parse(await Deno.readTextFile(node2.configFile));
      config.dataDir = "node-1";
      config.listeners.client.port += 100;
      config.listeners.internal.port += 100;
      const configFile = `${cluster.dataDir}/wrong.json`;
      await Deno.writeTextFile(configFile, JSON.stringify(config));
      const proc = new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", "broker/node_main.ts", "--config", configFile],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const errors = new LineCollector(proc.stderr);
      const stdout = new LineCollector(proc.stdout);
      const status = await proc.status;
      await Promise.all([errors.done, stdout.done]);
      assert.equal(status.code, 1);
      assert.match(
        errors.lines.join("\n"),
        /belongs to node 1, but this node is configured as node 2/,
      );
    } finally {
      await cluster.cleanup();
    }
  },
});

Deno.test({
  name: "nodes exit by themselves when their launcher is SIGKILLed",
  async fn() {
    const cluster = await launchCluster({ nodes: 2 });
    try {
      cluster.process.kill("SIGKILL");
      await cluster.process.status;
      for (const node of cluster.manifest.nodes) {
        await eventually(
          () => !processAlive(node.pid!),
          // A graceful stop takes ~2 s alone; CI runs many clusters at once.
          30_000,
          `orphaned node ${node.id} to exit`,
        );
      }
    } finally {
      await cluster.cleanup();
    }
  },
});
