import assert from "node:assert/strict";
import { FakeCluster } from "../_testing/fake_cluster.ts";
import { StromError } from "../errors.ts";
import { Connection, parseBrokers } from "./connection.ts";
import { backoffDelayMs, withRetries } from "./retry.ts";

async function withConnection(
  brokers: (cluster: FakeCluster) => string[],
  fn: (cluster: FakeCluster, conn: Connection) => Promise<void>,
): Promise<void> {
  const cluster = FakeCluster.start(2);
  cluster.createTopic("t", 3);
  const conn = new Connection({
    brokers: brokers(cluster),
    retryBackoffMs: 1,
    retryBackoffMsMax: 5,
  });
  try {
    await fn(cluster, conn);
  } finally {
    await conn.close();
    await cluster.close();
  }
}

Deno.test("concurrent metadata refreshes of one topic share a single request", async () => {
  await withConnection((c) => [c.urls[0]], async (cluster, conn) => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => conn.metadata.topic("t", { refresh: true })),
    );
    assert.ok(answers.every((a) => a.partitions.length === 3));
    assert.equal(conn.metadata.loads, 1);
    assert.equal(cluster.log.filter((l) => l.path === "/v1/topics/t").length, 1);
    await conn.metadata.topic("t");
    assert.equal(conn.metadata.loads, 1, "a fresh entry is served from the cache");
  });
});

Deno.test("a leader hint redirects the next lookup without asking the cluster", async () => {
  await withConnection((c) => [c.urls[0]], async (cluster, conn) => {
    assert.equal((await conn.metadata.leader("t", 0)).url, cluster.urls[0]);
    conn.metadata.noteLeader("t", 0, { id: 2, url: cluster.urls[1] + "/" });
    const leader = await conn.metadata.leader("t", 0);
    assert.deepEqual([leader.id, leader.url], [2, cluster.urls[1]]);
    await assert.rejects(
      conn.metadata.leader("t", 7),
      (e: unknown) => e instanceof StromError && e.code === "UNKNOWN_TOPIC_OR_PARTITION",
    );
  });
});

Deno.test("requests fail over from an unreachable bootstrap broker to the next", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const dead = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  listener.close();
  await withConnection((c) => [dead, c.urls[1]], async (_cluster, conn) => {
    const topics = await conn.anyBroker<{ topics: unknown[] }>({ path: "/v1/topics" });
    assert.equal(topics.topics.length, 1);
  });
  const conn = new Connection({ brokers: dead, retryBackoffMs: 1, retryBackoffMsMax: 2 });
  try {
    await assert.rejects(
      conn.anyBroker({ path: "/v1/topics" }),
      (e: unknown) =>
        e instanceof StromError && e.code === "NETWORK_EXCEPTION" &&
        /no broker reachable/.test(e.message),
    );
  } finally {
    await conn.close();
  }
});

Deno.test("a broker answering SHUTTING_DOWN is left for the next one", async () => {
  await withConnection((c) => [c.urls[0], c.urls[1]], async (cluster, conn) => {
    cluster.faults.push({ path: /^\/v1\/topics$/, code: "SHUTTING_DOWN", times: 1 });
    const topics = await conn.anyBroker<{ topics: unknown[] }>({ path: "/v1/topics" });
    assert.equal(topics.topics.length, 1);
    const asked = cluster.log.filter((l) => l.path === "/v1/topics").map((l) => l.node);
    assert.deepEqual(asked, [1, 2]);
  });
});

Deno.test("every call honours an AbortSignal", async () => {
  await withConnection((c) => [c.urls[0]], async (_cluster, conn) => {
    const controller = new AbortController();
    controller.abort(new Error("stop"));
    await assert.rejects(
      conn.anyBroker({ path: "/v1/topics" }, { signal: controller.signal }),
      /stop/,
    );
  });
});

Deno.test("withRetries() retries retriable errors only, with growing jittered backoff", async () => {
  let calls = 0;
  await assert.rejects(
    withRetries(() => {
      calls++;
      throw new StromError("INVALID_REQUEST", "no");
    }, { attemptsMax: 5, backoffMs: 1, backoffMsMax: 2 }),
    (e: unknown) => (e as StromError).code === "INVALID_REQUEST",
  );
  assert.equal(calls, 1);
  calls = 0;
  await assert.rejects(
    withRetries(() => {
      calls++;
      throw new StromError("NOT_READY", "later");
    }, { attemptsMax: 3, backoffMs: 1, backoffMsMax: 2 }),
  );
  assert.equal(calls, 3);
  const delays = [1, 2, 3, 4, 5, 6].map((n) =>
    backoffDelayMs(n, { backoffMs: 100, backoffMsMax: 1000, random: () => 0.5 })
  );
  assert.deepEqual(delays, [100, 200, 400, 800, 1000, 1000]);
  assert.equal(backoffDelayMs(1, { backoffMs: 100, backoffMsMax: 1000, random: () => 0 }), 80);
});

Deno.test("parseBrokers() accepts lists, bare host:port and trailing slashes", () => {
  assert.deepEqual(parseBrokers(" a:1 , http://b:2/ "), ["http://a:1", "http://b:2"]);
  assert.deepEqual(parseBrokers(["https://c:3"]), ["https://c:3"]);
  assert.throws(
    () => parseBrokers(""),
    (e: unknown) => (e as StromError).code === "INVALID_CONFIG",
  );
});
