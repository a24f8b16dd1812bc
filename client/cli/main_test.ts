import assert from "node:assert/strict";
import { FakeCluster } from "../_testing/fake_cluster.ts";
import { decodeRecordBatch, encodeRecordBatch } from "../record_batch/record_batch.ts";
import { partitionForKey } from "../producer/partitioner.ts";
import { runCli } from "./main.ts";

const enc = new TextEncoder();

function capture(stdin?: string) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      out: (l: string) => out.push(l),
      err: (l: string) => err.push(l),
      fetch,
      ...(stdin === undefined ? {} : { stdin: ReadableStream.from([enc.encode(stdin)]) }),
    },
  };
}

async function withFake(fn: (cluster: FakeCluster, bs: string[]) => Promise<void>) {
  const cluster = FakeCluster.start();
  try {
    await fn(cluster, ["--bootstrap-server", cluster.urls[0]]);
  } finally {
    await cluster.close();
  }
}

Deno.test("strom cluster describe prints brokers and the quorum as tables", async () => {
  await withFake(async (cluster, bs) => {
    const t = capture();
    assert.equal(await runCli(["cluster", "describe", ...bs], t.io), 0);
    assert.match(t.out[0], /Cluster id: FAKEFAKEFAKEFAKEFAKEFA \(answered by node 1/);
    assert.equal(
      t.out[1],
      `BROKER  URL${" ".repeat(cluster.urls[0].length - 3)}  STATE\n1       ${
        cluster.urls[0]
      }  active`,
    );
    assert.match(t.out[2], /Quorum: leader 1, epoch 1/);
    const j = capture();
    assert.equal(await runCli(["cluster", "describe", "--json", ...bs], j.io), 0);
    assert.equal(JSON.parse(j.out[0]).clusterId, "FAKEFAKEFAKEFAKEFAKEFA");
  });
});

Deno.test("strom topics create, list, describe, alter and delete", async () => {
  await withFake(async (cluster, bs) => {
    const c = capture();
    assert.equal(
      await runCli(
        [
          "topics",
          "create",
          "--topic",
          "orders",
          "--partitions",
          "3",
          "--config",
          "retention.ms=1000",
          ...bs,
        ],
        c.io,
      ),
      0,
    );
    assert.deepEqual(c.out, ["Created topic orders."]);
    const l = capture();
    assert.equal(await runCli(["topics", "list", ...bs], l.io), 0);
    assert.deepEqual(l.out, ["orders"]);
    const d = capture();
    assert.equal(await runCli(["topics", "describe", "--topic", "orders", ...bs], d.io), 0);
    assert.match(d.out[0], /Topic: orders\tTopicId: id-orders\tPartitionCount: 3/);
    assert.ok(d.out[0].includes("PARTITION  LEADER  EPOCH  REPLICAS  ISR\n0          1"));
    const a = capture();
    assert.equal(
      await runCli(["topics", "alter", "--topic", "orders", "--partitions", "5", ...bs], a.io),
      0,
    );
    assert.equal(cluster.topics.get("orders")!.length, 5);
    const x = capture();
    assert.equal(await runCli(["topics", "delete", "--topic", "orders", "--json", ...bs], x.io), 0);
    assert.deepEqual(JSON.parse(x.out[0]), { deleted: "orders" });
  });
});

Deno.test("strom topics reports an unknown topic with its code and exit code 1", async () => {
  await withFake(async (_cluster, bs) => {
    const t = capture();
    assert.equal(await runCli(["topics", "describe", "--topic", "nope", ...bs], t.io), 1);
    assert.match(t.err[0], /^strom: UNKNOWN_TOPIC_OR_PARTITION: topic 'nope' does not exist/);
    const p = capture("a\n");
    assert.equal(await runCli(["produce", "--topic", "nope", ...bs], p.io), 1);
    assert.match(p.err[0], /UNKNOWN_TOPIC_OR_PARTITION/);
    const c = capture();
    assert.equal(await runCli(["consume", "--topic", "nope", ...bs], c.io), 1);
  });
});

Deno.test("strom produce sends stdin lines, splitting keys at the separator", async () => {
  await withFake(async (cluster, bs) => {
    cluster.createTopic("t", 4);
    const t = capture("k1:v1\nk2:v2\r\nk3:v:3\n");
    assert.equal(
      await runCli([
        "produce",
        "--topic",
        "t",
        "--key-separator",
        ":",
        "--compression",
        "zstd",
        ...bs,
      ], t.io),
      0,
    );
    assert.deepEqual(t.err, ["Sent 3 record(s) to t."]);
    const seen = new Map<string, [number, string]>();
    for (let p = 0; p < 4; p++) {
      for (const b of cluster.batches("t", p)) {
        for (const r of (await decodeRecordBatch(b)).records) {
          seen.set(new TextDecoder().decode(r.key!), [p, new TextDecoder().decode(r.value!)]);
        }
      }
    }
    for (const [key, value] of [["k1", "v1"], ["k2", "v2"], ["k3", "v:3"]]) {
      assert.deepEqual(seen.get(key), [partitionForKey(enc.encode(key), 4), value]);
    }
    const props = capture("a=b\n");
    const args = ["produce", "--topic", "t", "--partition", "2", "--json", "--acks", "1"];
    const withProps = [
      ...args,
      "--property",
      "parse.key=true",
      "--property",
      "key.separator==",
      ...bs,
    ];
    assert.equal(await runCli(withProps, props.io), 0);
    assert.equal(JSON.parse(props.out[0]).partition, 2);
  });
});

Deno.test("strom consume prints records with keys, partitions and offsets, then stops", async () => {
  await withFake(async (cluster, bs) => {
    cluster.createTopic("t", 2);
    const records = ["a", "b", "c"].map((v, i) => ({
      key: enc.encode(`k${i}`),
      value: enc.encode(v),
    }));
    cluster.append("t", 1, await encodeRecordBatch({ records }));
    const t = capture();
    const args = ["consume", "--topic", "t", "--from-beginning", "--max-messages", "2"];
    assert.equal(
      await runCli([
        ...args,
        "--property",
        "print.key=true",
        "--property",
        "print.offset=true",
        ...bs,
      ], t.io),
      0,
    );
    assert.deepEqual(t.out, ["Offset:0\tk0\ta", "Offset:1\tk1\tb"]);
    assert.deepEqual(t.err, ["Processed a total of 2 messages"]);
    const f = capture();
    const fmt = [
      "consume",
      "--topic",
      "t",
      "--partition",
      "1",
      "--offset",
      "2",
      "--timeout-ms",
      "300",
    ];
    assert.equal(
      await runCli([...fmt, "--format", "{partition}/{offset} {key}={value}", ...bs], f.io),
      0,
    );
    assert.deepEqual(f.out, ["1/2 k2=c"]);
    const j = capture();
    assert.equal(await runCli([...args, "--json", ...bs], j.io), 0);
    assert.deepEqual(JSON.parse(j.out[1]).value, "b");
  });
});

Deno.test("strom says clearly when no broker is reachable", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  listener.close();
  const t = capture();
  assert.equal(await runCli(["topics", "list", "--bootstrap-server", url], t.io), 1);
  assert.match(t.err[0], /no broker reachable at http:\/\/127\.0\.0\.1:\d+ .*deno task start/);
});

Deno.test("strom rejects unknown commands and bad flags with usage and exit code 2", async () => {
  const cases: [string[], RegExp][] = [
    [["topics", "frobnicate"], /unknown topics command 'frobnicate'/],
    [["frobnicate"], /unknown command "frobnicate"/],
    [[], /no command given/],
    [["cluster", "describe", "--nope"], /Unknown option '--nope'/],
    [["topics", "create"], /--topic is required/],
    [
      ["topics", "create", "--topic", "x", "--partitions", "zero"],
      /--partitions must be an integer/,
    ],
    [["produce", "--topic", "t", "--compression", "brotli"], /--compression must be one of/],
    [["consume", "--topic", "t", "--offset", "5"], /--offset needs --partition/],
  ];
  for (const [args, message] of cases) {
    const t = capture();
    assert.equal(await runCli(args, t.io), 2, args.join(" "));
    assert.match(t.err[0], message);
    assert.match(t.err[0], /usage: strom/);
  }
  for (
    const args of [["--help"], ["topics", "--help"], ["produce", "-h"], ["consume", "--help"], [
      "cluster",
      "describe",
      "--help",
    ]]
  ) {
    const t = capture();
    assert.equal(await runCli(args, t.io), 0, args.join(" "));
    assert.match(t.out[0], /usage: strom/);
  }
});
