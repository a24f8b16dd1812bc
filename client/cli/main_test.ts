import assert from "node:assert/strict";
import { runCli } from "./main.ts";

function io(answer: (url: string) => Response | Promise<Response>) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      out: (l: string) => out.push(l),
      err: (l: string) => err.push(l),
      fetch:
        ((input: string | URL | Request) => Promise.resolve(answer(String(input)))) as typeof fetch,
    },
  };
}

const CLUSTER = {
  clusterId: "AAAAAAAAAAAAAAAAAAAAAA",
  nodeId: 1,
  nodes: [{ id: 1, url: "http://127.0.0.1:9092" }, { id: 2, url: "http://127.0.0.1:9093" }],
};

Deno.test("strom cluster describe prints the nodes as a table", async () => {
  const t = io((url) => {
    assert.equal(url, "http://h:1/v1/cluster");
    return Response.json(CLUSTER);
  });
  const code = await runCli(["cluster", "describe", "--bootstrap-server", "http://h:1/"], t.io);
  assert.equal(code, 0);
  assert.match(t.out[0], /Cluster id: AAAAAAAAAAAAAAAAAAAAAA/);
  assert.equal(t.out[1], "NODE  URL\n1     http://127.0.0.1:9092\n2     http://127.0.0.1:9093");
});

Deno.test("strom cluster describe --json prints the cluster as JSON", async () => {
  const t = io(() => Response.json(CLUSTER));
  assert.equal(await runCli(["cluster", "describe", "--json"], t.io), 0);
  assert.deepEqual(JSON.parse(t.out[0]), CLUSTER);
});

Deno.test("strom says clearly when no broker is reachable", async () => {
  const t = io(() => Promise.reject(new TypeError("connection refused")));
  assert.equal(await runCli(["cluster", "describe"], t.io), 1);
  assert.match(t.err[0], /no broker reachable at http:\/\/127\.0\.0\.1:9092 .*deno task start/);
});

Deno.test("strom reports a broker error by its code", async () => {
  const t = io(() =>
    Response.json({ error: { code: "NOT_READY", message: "starting" } }, { status: 503 })
  );
  assert.equal(await runCli(["cluster", "describe"], t.io), 1);
  assert.equal(t.err[0], "strom: NOT_READY: starting");
});

Deno.test("strom rejects unknown commands and flags with usage and exit code 2", async () => {
  const t = io(() => Response.json({}));
  assert.equal(await runCli(["topics", "frobnicate"], t.io), 2);
  assert.match(t.err[0], /unknown command "topics frobnicate"/);
  assert.equal(await runCli(["cluster", "describe", "--nope"], t.io), 2);
  assert.equal(await runCli([], t.io), 2);
  assert.equal(await runCli(["--help"], t.io), 0);
  assert.match(t.out[0], /usage: strom/);
});
