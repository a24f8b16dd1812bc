/**
 * The `strom` CLI as a user runs it: `client/cli/main.ts` as a subprocess
 * against a real local cluster, each command's happy path and its main
 * errors (unknown topic, bad flag, cluster down) with their exit codes.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { launchCluster } from "./_harness/launcher.ts";

const CLI_MAIN = fileURLToPath(new URL("../client/cli/main.ts", import.meta.url));
/** Most time one CLI run may take. */
const RUN_MS_MAX = 30_000;

interface Run {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

async function strom(args: string[], stdin = ""): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", CLI_MAIN, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), RUN_MS_MAX);
  try {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
    const { code, stdout, stderr } = await child.output();
    const dec = new TextDecoder();
    return { code, out: dec.decode(stdout), err: dec.decode(stderr) };
  } finally {
    clearTimeout(timer);
  }
}

Deno.test({
  name: "the strom CLI works against a real cluster and fails clearly",
  async fn(t) {
    const cluster = await launchCluster({ nodes: 3 });
    const bs = ["--bootstrap-server", cluster.manifest.nodes[1].clientUrl];
    try {
      await t.step("topics create, list, describe and alter", async () => {
        const created = await strom([
          "topics",
          "create",
          "--topic",
          "cli",
          "--partitions",
          "2",
          "--replication-factor",
          "3",
          "--config",
          "retention.ms=600000",
          ...bs,
        ]);
        assert.equal(created.code, 0, created.err);
        assert.match(created.out, /Created topic cli\./);
        const listed = await strom(["topics", "list", ...bs]);
        assert.deepEqual([listed.code, listed.out.trim().split("\n")], [0, ["cli"]]);
        const altered = await strom([
          "topics",
          "alter",
          "--topic",
          "cli",
          "--partitions",
          "3",
          ...bs,
        ]);
        assert.equal(altered.code, 0, altered.err);
        const described = await strom(["topics", "describe", "--topic", "cli", "--json", ...bs]);
        const body = JSON.parse(described.out);
        assert.equal(body.partitions.length, 3);
        assert.equal(body.configs["retention.ms"], "600000");
      });

      await t.step("produce from stdin and consume from the beginning", async () => {
        const produced = await strom(
          ["produce", "--topic", "cli", "--key-separator", ":", "--compression", "zstd", ...bs],
          "a:one\nb:two\nc:three\n",
        );
        assert.equal(produced.code, 0, produced.err);
        assert.match(produced.err, /Sent 3 record\(s\) to cli\./);
        const consumed = await strom([
          "consume",
          "--topic",
          "cli",
          "--from-beginning",
          "--max-messages",
          "3",
          "--property",
          "print.key=true",
          ...bs,
        ]);
        assert.equal(consumed.code, 0, consumed.err);
        assert.deepEqual(consumed.out.trim().split("\n").sort(), ["a\tone", "b\ttwo", "c\tthree"]);
        assert.match(consumed.err, /Processed a total of 3 messages/);
      });

      await t.step("cluster describe shows every broker and the quorum", async () => {
        const described = await strom(["cluster", "describe", ...bs]);
        assert.equal(described.code, 0, described.err);
        assert.match(described.out, /BROKER\s+URL\s+STATE/);
        assert.equal(described.out.match(/ active$/gm)?.length, 3);
        assert.match(described.out, /Quorum: leader \d/);
      });

      await t.step("an unknown topic and a bad flag fail with exit codes 1 and 2", async () => {
        const unknown = await strom(["topics", "describe", "--topic", "nope", ...bs]);
        assert.equal(unknown.code, 1);
        assert.match(unknown.err, /UNKNOWN_TOPIC_OR_PARTITION/);
        const consumeUnknown = await strom([
          "consume",
          "--topic",
          "nope",
          "--timeout-ms",
          "100",
          ...bs,
        ]);
        assert.equal(consumeUnknown.code, 1);
        const bad = await strom(["topics", "list", "--partitons", "3", ...bs]);
        assert.equal(bad.code, 2);
        assert.match(bad.err, /Unknown option '--partitons'/);
      });
    } finally {
      await cluster.cleanup();
    }
    await t.step("a cluster that is down is reported as such", async () => {
      const down = await strom(["topics", "list", ...bs]);
      assert.equal(down.code, 1);
      assert.match(down.err, /no broker reachable at .*Is the cluster running/);
    });
  },
});
