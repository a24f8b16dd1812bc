import assert from "node:assert/strict";
import { createLogger } from "../log.ts";
import { StromError } from "@strom/client";
import type { AdminApi } from "./client_app.ts";
import { createClientApp } from "./client_app.ts";
import { createInternalApp } from "./internal_app.ts";

const quiet = createLogger({ sink: () => {} });

function clientApp(ready: boolean) {
  const topics = new Map<string, unknown>();
  const admin: AdminApi = {
    describeCluster: () => Promise.resolve({ clusterId: "c" }),
    metadataDiagnostics: () => Promise.resolve({ offset: 0, hash: "" }),
    listTopics: () => [...topics.keys()],
    describeTopic: (name) => {
      if (!topics.has(name)) throw new StromError("UNKNOWN_TOPIC_OR_PARTITION", `no ${name}`);
      return topics.get(name);
    },
    createTopic: (body) => {
      const name = (body as { name: string }).name;
      topics.set(name, body);
      return Promise.resolve(body);
    },
    deleteTopic: (name) => Promise.resolve(void topics.delete(name)),
    createPartitions: (_name, body) => Promise.resolve(body),
    alterConfigs: (_name, body) => Promise.resolve(body),
  };
  return createClientApp({
    nodeId: 1,
    readiness: () => ({ ready, reasons: ready ? [] : ["catching up"] }),
    admin,
  }, quiet);
}

Deno.test("GET /readyz answers 503 with reasons until the node is ready", async () => {
  const notReady = await clientApp(false).request("/readyz");
  assert.equal(notReady.status, 503);
  assert.deepEqual((await notReady.json()).reasons, ["catching up"]);
  assert.equal((await clientApp(true).request("/readyz")).status, 200);
});

Deno.test("an unknown path answers NOT_FOUND with the stable error body", async () => {
  const res = await clientApp(true).request("/v1/nope");
  assert.equal(res.status, 404);
  const body = await res.json();
  assert.equal(body.error.code, "NOT_FOUND");
  assert.match(body.error.message, /GET \/v1\/nope/);
});

Deno.test("the internal API answers 401 without the secret and runs no route", async () => {
  const secret = "s".repeat(64);
  const app = createInternalApp({ secret, nodeId: 1, logger: quiet });
  let ran = false;
  app.post("/internal/effect", (c) => {
    ran = true;
    return c.json({});
  });
  const attempts: Record<string, string>[] = [{}, { "x-strom-secret": "" }, {
    "x-strom-secret": "t".repeat(64),
  }];
  for (const headers of attempts) {
    const res = await app.request("/internal/effect", { method: "POST", headers });
    assert.equal(res.status, 401);
    assert.equal((await res.json()).error.code, "UNAUTHENTICATED");
  }
  assert.equal(ran, false);
  const ok = await app.request("/internal/effect", {
    method: "POST",
    headers: { "x-strom-secret": secret },
  });
  assert.equal(ok.status, 200);
  assert.equal(ran, true);
});

Deno.test("a route that throws answers UNKNOWN_SERVER_ERROR and logs the cause", async () => {
  const lines: string[] = [];
  const app = createInternalApp({
    secret: "s".repeat(64),
    nodeId: 1,
    logger: createLogger({ sink: (l) => lines.push(l) }),
  });
  app.get("/internal/boom", () => {
    throw new Error("bug");
  });
  const res = await app.request("/internal/boom", {
    headers: { "x-strom-secret": "s".repeat(64) },
  });
  assert.equal(res.status, 500);
  assert.equal((await res.json()).error.code, "UNKNOWN_SERVER_ERROR");
  assert.ok(lines.some((l) => l.includes("bug")));
});

Deno.test("admin routes validate bodies and map errors to stable codes", async () => {
  const app = clientApp(true);
  const bad = await app.request("/v1/topics", { method: "POST", body: "{nope" });
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).error.code, "INVALID_REQUEST");
  const empty = await app.request("/v1/topics", { method: "POST" });
  assert.equal((await empty.json()).error.code, "INVALID_REQUEST");
  const huge = await app.request("/v1/topics", {
    method: "POST",
    body: JSON.stringify({ name: "x".repeat(2 * 1024 * 1024) }),
  });
  assert.equal(huge.status, 413);
  const created = await app.request("/v1/topics", {
    method: "POST",
    body: JSON.stringify({ name: "t" }),
  });
  assert.equal(created.status, 201);
  assert.equal((await app.request("/v1/topics/t")).status, 200);
  const missing = await app.request("/v1/topics/nope");
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error.code, "UNKNOWN_TOPIC_OR_PARTITION");
});
