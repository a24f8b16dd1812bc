/**
 * The client-facing HTTP API of a node (served on the client listener, over
 * h2c, TLS h2 or HTTP/1.1). Routes only translate: they parse and validate,
 * call into the node, and map results and errors to responses.
 *
 * @module
 */

import { Hono } from "hono";
import type { Logger } from "../log.ts";
import { notFoundResponse, responseForThrown } from "./error_response.ts";
import { readJsonBody } from "./json_body.ts";
import { mountDataRoutes } from "./data_routes.ts";
import type { DataRouteDeps } from "./data_routes.ts";
import { mountQuorumRoutes } from "./quorum_routes.ts";
import { mountGroupRoutes } from "./group_routes.ts";
import type { GroupRouteDeps } from "./group_routes.ts";
import type { QuorumApi } from "./quorum_routes.ts";

/** Topic administration, as the routes need it (implemented by AdminService). */
export interface AdminApi {
  describeCluster(): Promise<unknown>;
  /** This node's metadata offset and the hash of its image there. */
  metadataDiagnostics(): Promise<{ offset: number; hash: string }>;
  listTopics(): unknown[];
  describeTopic(name: string): unknown;
  createTopic(body: unknown): Promise<unknown>;
  deleteTopic(name: string): Promise<void>;
  createPartitions(name: string, body: unknown): Promise<unknown>;
  alterConfigs(name: string, body: unknown): Promise<unknown>;
}

/** What the client API needs from the node. */
export interface ClientApiNode {
  readonly nodeId: number;
  /** Whether the node serves traffic; `reasons` says what it waits for when not. */
  readiness(): { ready: boolean; reasons: readonly string[] };
  readonly admin: AdminApi;
  /** The data path (produce, fetch, offsets, producer ids); its routes are absent without it. */
  readonly data?: DataRouteDeps;
  /** Quorum membership (`/v1/quorum`: describe, add and remove voters); absent without it. */
  readonly quorum?: QuorumApi;
  /** Consumer groups (`/v1/groups`); absent on a node without the broker role. */
  readonly groups?: GroupRouteDeps;
}

/** Builds the client API. Test it with `app.request()`; serve it with `Deno.serve`. */
export function createClientApp(node: ClientApiNode, logger: Logger): Hono {
  const app = new Hono();
  const admin = node.admin;

  app.get("/healthz", (c) => c.json({ status: "ok", nodeId: node.nodeId }));

  app.get("/readyz", (c) => {
    const { ready, reasons } = node.readiness();
    return c.json({ ready, nodeId: node.nodeId, reasons }, ready ? 200 : 503);
  });

  app.get("/v1/cluster", async (c) => c.json(await admin.describeCluster()));

  app.get("/v1/diagnostics/metadata", async (c) => c.json(await admin.metadataDiagnostics()));
  app.get("/v1/topics", (c) => c.json({ topics: admin.listTopics() }));
  app.post(
    "/v1/topics",
    async (c) => c.json(await admin.createTopic(await readJsonBody(c.req.raw)), 201),
  );
  app.get("/v1/topics/:topic", (c) => c.json(admin.describeTopic(c.req.param("topic"))));
  app.delete("/v1/topics/:topic", async (c) => {
    await admin.deleteTopic(c.req.param("topic"));
    return c.json({ deleted: c.req.param("topic") });
  });
  app.post(
    "/v1/topics/:topic/partitions",
    async (c) =>
      c.json(await admin.createPartitions(c.req.param("topic"), await readJsonBody(c.req.raw))),
  );
  app.post(
    "/v1/topics/:topic/configs",
    async (c) =>
      c.json(await admin.alterConfigs(c.req.param("topic"), await readJsonBody(c.req.raw))),
  );

  if (node.data) mountDataRoutes(app, node.data);
  if (node.quorum) mountQuorumRoutes(app, node.quorum);
  if (node.groups) mountGroupRoutes(app, node.groups);

  app.notFound((c) => notFoundResponse(c.req.method, c.req.path));
  app.onError((err, c) => responseForThrown(err, logger, `${c.req.method} ${c.req.path}`));
  return app;
}
