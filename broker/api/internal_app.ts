/**
 * The internal HTTP API between nodes (Raft, replica fetch, controller RPCs).
 *
 * Every request must carry the cluster secret; one without it is answered
 * 401 UNAUTHENTICATED before any route runs, so it can change nothing.
 * Subsystems mount their routes under `/internal/...` as they are built.
 *
 * @module
 */

import { Hono } from "hono";
import { StromError } from "@strom/client";
import type { Logger } from "../log.ts";
import { SECRET_HEADER, secretsEqual } from "../security/cluster_secret.ts";
import { errorResponse, notFoundResponse, responseForThrown } from "./error_response.ts";

/** Builds the internal API guarded by `secret`. */
export function createInternalApp(
  options: { secret: string; nodeId: number; logger: Logger; routes?: (app: Hono) => void },
): Hono {
  const app = new Hono();

  app.use("*", async (c, next) => {
    const given = c.req.header(SECRET_HEADER);
    if (given === undefined || !secretsEqual(given, options.secret)) {
      return errorResponse(
        new StromError(
          "UNAUTHENTICATED",
          `internal listener requests must carry the cluster secret in the ${SECRET_HEADER} header; clients use the client listener`,
        ),
      );
    }
    return await next();
  });

  app.get("/internal/ping", (c) => c.json({ nodeId: options.nodeId }));
  options.routes?.(app);

  app.notFound((c) => notFoundResponse(c.req.method, c.req.path));
  app.onError((err, c) => responseForThrown(err, options.logger, `${c.req.method} ${c.req.path}`));
  return app;
}
