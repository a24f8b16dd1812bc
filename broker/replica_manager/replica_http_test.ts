import assert from "node:assert/strict";
import { StromError } from "@strom/client";
import { createInternalApp } from "../api/internal_app.ts";
import { createLogger } from "../log.ts";
import type { MetadataImage } from "../metadata/image.ts";
import { SECRET_HEADER } from "../security/cluster_secret.ts";
import type { ReplicaFetchRequest, ReplicaFetchResponse } from "./fetch_wire.ts";
import { mountReplicaRoutes, ReplicaFetchHttpClient } from "./replica_http.ts";
import type { ReplicaManager } from "./replica_manager.ts";

const SECRET = "test-secret-0123456789";
const LEADER = 2;
const quiet = createLogger({ sink: () => {} });

const REQUEST: ReplicaFetchRequest = {
  replicaId: 1,
  maxWaitMs: 0,
  partitions: [
    {
      topic: "t",
      partition: 0,
      currentLeaderEpoch: 3,
      fetchOffset: 10,
      lastFetchedEpoch: 3,
      highWatermark: 8,
    },
    {
      topic: "t",
      partition: 1,
      currentLeaderEpoch: 3,
      fetchOffset: 0,
      lastFetchedEpoch: -1,
      highWatermark: 0,
    },
  ],
};

/** A leader's internal listener on 127.0.0.1 whose replica manager is `handle`. */
function serveLeader(
  handle: (request: ReplicaFetchRequest, signal?: AbortSignal) => Promise<ReplicaFetchResponse>,
) {
  const manager = { handleReplicaFetch: handle } as unknown as ReplicaManager;
  const app = createInternalApp({
    secret: SECRET,
    nodeId: LEADER,
    logger: quiet,
    routes: (a) => mountReplicaRoutes(a, () => manager),
  });
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
}

function imageWith(url: string): () => MetadataImage {
  const image = { brokers: new Map([[LEADER, { internalUrl: url }]]) } as unknown as MetadataImage;
  return () => image;
}

function urlOf(server: Deno.HttpServer<Deno.NetAddr>): string {
  return `http://127.0.0.1:${server.addr.port}`;
}

Deno.test("ReplicaFetchHttpClient: the leader's answer arrives decoded, its batches views of one buffer", async () => {
  // Large enough that the leader streams it in parts (over BYTES_RESPONSE_COPY_BYTES_MAX).
  const big = new Uint8Array(300 * 1024).map((_, i) => i % 251);
  const small = new Uint8Array([7, 7, 7]);
  let seen: ReplicaFetchRequest | undefined;
  const server = serveLeader((request) => {
    seen = request;
    return Promise.resolve({
      partitions: [
        {
          topic: "t",
          partition: 0,
          kind: "read",
          highWatermark: 12,
          logStartOffset: 0,
          batches: big,
        },
        {
          topic: "t",
          partition: 1,
          kind: "read",
          highWatermark: 12,
          logStartOffset: 0,
          batches: small,
        },
      ],
    });
  });
  const client = new ReplicaFetchHttpClient({ headers: { [SECRET_HEADER]: SECRET } });
  try {
    const transport = client.transport(imageWith(urlOf(server)));
    const answer = await transport(LEADER, REQUEST, new AbortController().signal);
    assert.deepEqual(seen, REQUEST);
    assert.equal(answer.partitions.length, 2);
    assert.deepEqual(answer.partitions[0].batches, big);
    assert.deepEqual(answer.partitions[1].batches, small);
    assert.equal(answer.partitions[0].highWatermark, 12);
    assert.equal(
      answer.partitions[0].batches.buffer,
      answer.partitions[1].batches.buffer,
      "both batches are views of the one body buffer",
    );
    // A second request reuses the pool and works the same.
    const again = await transport(LEADER, REQUEST, new AbortController().signal);
    assert.deepEqual(again.partitions[1].batches, small);
  } finally {
    client.close();
    await server.shutdown();
  }
});

Deno.test("ReplicaFetchHttpClient: a refused request is the leader's StromError; no secret is UNAUTHENTICATED", async () => {
  const server = serveLeader(() => {
    throw new StromError("NOT_LEADER_OR_FOLLOWER", "moved");
  });
  const right = new ReplicaFetchHttpClient({ headers: { [SECRET_HEADER]: SECRET } });
  const wrong = new ReplicaFetchHttpClient({
    headers: { [SECRET_HEADER]: "not-the-secret-at-all" },
  });
  try {
    const signal = new AbortController().signal;
    await assert.rejects(
      right.transport(imageWith(urlOf(server)))(LEADER, REQUEST, signal),
      (e: StromError) => e.code === "NOT_LEADER_OR_FOLLOWER" && e.message.includes("moved"),
    );
    await assert.rejects(
      wrong.transport(imageWith(urlOf(server)))(LEADER, REQUEST, signal),
      (e: StromError) => e.code === "UNAUTHENTICATED",
    );
    await assert.rejects(
      right.transport(imageWith(urlOf(server)))(9, REQUEST, signal),
      (e: StromError) => e.code === "NETWORK_EXCEPTION" && e.message.includes("broker 9"),
    );
  } finally {
    right.close();
    wrong.close();
    await server.shutdown();
  }
});

Deno.test("ReplicaFetchHttpClient: a cancel ends the request at once and the leader sees it", async () => {
  const leaderSawAbort = Promise.withResolvers<void>();
  const server = serveLeader((_request, signal) =>
    new Promise((_resolve, reject) => {
      signal?.addEventListener("abort", () => {
        leaderSawAbort.resolve();
        reject(new Error("aborted"));
      });
    })
  );
  const client = new ReplicaFetchHttpClient({ headers: { [SECRET_HEADER]: SECRET } });
  try {
    const cancel = new AbortController();
    const pending = client.transport(imageWith(urlOf(server)))(
      LEADER,
      { ...REQUEST, maxWaitMs: 10_000 },
      cancel.signal,
    );
    await new Promise((r) => setTimeout(r, 50));
    const at = Date.now();
    cancel.abort(new Error("merged"));
    await assert.rejects(pending);
    assert.ok(Date.now() - at < 1_000, "the cancelled request ended at once");
    await leaderSawAbort.promise;
  } finally {
    client.close();
    await server.shutdown();
  }
});

Deno.test("ReplicaFetchHttpClient: an answer without a content-length is refused, not read", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () =>
      new Response(
        new ReadableStream({
          start(c) {
            c.enqueue(new Uint8Array(8));
            c.close();
          },
        }),
      ),
  );
  const client = new ReplicaFetchHttpClient({ headers: {} });
  try {
    await assert.rejects(
      client.transport(imageWith(urlOf(server)))(LEADER, REQUEST, new AbortController().signal),
      (e: StromError) => e.code === "NETWORK_EXCEPTION" && e.message.includes("content-length"),
    );
  } finally {
    client.close();
    await server.shutdown();
  }
});

Deno.test("ReplicaFetchHttpClient: beforeSend can fail a request before it is sent; closed, it sends nothing", async () => {
  let handled = 0;
  const server = serveLeader(() => {
    handled++;
    return Promise.resolve({ partitions: [] });
  });
  const blocked = new ReplicaFetchHttpClient({
    headers: { [SECRET_HEADER]: SECRET },
    beforeSend: (origin) =>
      Promise.reject(new StromError("NETWORK_EXCEPTION", `${origin} cut off`)),
  });
  const closed = new ReplicaFetchHttpClient({ headers: { [SECRET_HEADER]: SECRET } });
  closed.close();
  try {
    const signal = new AbortController().signal;
    await assert.rejects(
      blocked.transport(imageWith(urlOf(server)))(LEADER, REQUEST, signal),
      (e: StromError) => e.code === "NETWORK_EXCEPTION" && e.message.includes("cut off"),
    );
    await assert.rejects(
      closed.transport(imageWith(urlOf(server)))(LEADER, REQUEST, signal),
      (e: StromError) => e.code === "NETWORK_EXCEPTION" && e.message.includes("closed"),
    );
    assert.equal(handled, 0);
  } finally {
    blocked.close();
    await server.shutdown();
  }
});
