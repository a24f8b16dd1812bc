import assert from "node:assert/strict";
import { Hono } from "hono";
import { StromError } from "@strom/client";
import {
  FaultyH2Client,
  mountNetFaultRoutes,
  NET_FAULTS_PATH,
  NetFaults,
  parseBlockedPeers,
} from "./net_faults.ts";

Deno.test("NetFaults blocks the listed ids and origins until healed", () => {
  const faults = new NetFaults();
  assert.equal(faults.blocksId(2), false);
  faults.set([{ id: 2, internalUrl: "http://127.0.0.1:19093/" }]);
  assert.equal(faults.blocksId(2), true);
  assert.equal(faults.blocksId(3), false);
  assert.equal(faults.blocksOrigin("http://127.0.0.1:19093"), true);
  assert.equal(faults.blocksOrigin("http://127.0.0.1:9093"), false);
  faults.set([]);
  assert.equal(faults.blocksId(2), false);
  assert.equal(faults.blocksOrigin("http://127.0.0.1:19093"), false);
});

Deno.test("parseBlockedPeers() refuses a body without an id and a URL", () => {
  assert.throws(() => parseBlockedPeers({ peers: [{ id: "x" }] }), StromError);
  assert.throws(() => parseBlockedPeers(null), StromError);
  assert.deepEqual(parseBlockedPeers({ peers: [{ id: 1, internalUrl: "http://a:1" }] }), [
    { id: 1, internalUrl: "http://a:1" },
  ]);
});

Deno.test("a FaultyH2Client fails requests to a blocked peer with NETWORK_EXCEPTION", async () => {
  const faults = new NetFaults();
  faults.set([{ id: 2, internalUrl: "http://127.0.0.1:1" }]);
  const http = new FaultyH2Client(faults);
  try {
    await assert.rejects(
      () => http.request("http://127.0.0.1:1", { method: "GET", path: "/" }),
      (e: unknown) => e instanceof StromError && e.code === "NETWORK_EXCEPTION",
    );
  } finally {
    await http.close();
  }
});

Deno.test("the net-faults route sets and reports the blocked peers", async () => {
  const faults = new NetFaults();
  const app = new Hono();
  mountNetFaultRoutes(app, faults);
  const res = await app.request(NET_FAULTS_PATH, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ peers: [{ id: 3, internalUrl: "http://127.0.0.1:19094" }] }),
  });
  assert.deepEqual(await res.json(), { blocked: [3] });
  assert.equal(faults.blocksId(3), true);
});
