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

/** What the client API needs from the node. */
export interface ClientApiNode {
  readonly clusterId: string;
  readonly nodeId: number;
  /** Every configured node of the cluster, by id. */
  readonly nodes: readonly { id: number; clientUrl: string; internalUrl: string }[];
  /** Whether the node serves traffic; `reasons` says what it waits for when not. */
  readiness(): { ready: boolean; reasons: readonly string[] };
}

/** Builds the client API. Test it with `app.request()`; serve it with `Deno.serve`. */
export function createClientApp(node: ClientApiNode, logger: Logger): Hono {
  const app = new Hono();

  app.get("/healthz", (c) => c.json({ status: "ok", nodeId: node.nodeId }));

  app.get("/readyz", (c) => {
    const { ready, reasons } = node.readiness();
    return c.json({ ready, nodeId: node.nodeId, reasons }, ready ? 200 : 503);
  });

  app.get("/v1/cluster", (c) =>
    c.json({
      clusterId: node.clusterId,
      nodeId: node.nodeId,
      nodes: node.nodes.map((n) => ({ id: n.id, url: n.clientUrl })),
    }));

  app.notFound((c) => notFoundResponse(c.req.method, c.req.path));
  app.onError((err, c) => responseForThrown(err, logger, `${c.req.method} ${c.req.path}`));
  return app;
}
