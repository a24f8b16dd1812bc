/**
 * The follower fetch RPC over HTTP/2: the leader's route on the internal
 * listener, and the follower's transport over the node's shared
 * {@link H2Client} (one reused HTTP/2 session per peer).
 *
 * @module
 */

import type { Hono } from "hono";
import { StromError } from "@strom/client";
import type { H2Client } from "@strom/client";
import { bytesResponse } from "../api/bytes_response.ts";
import { readJsonBody } from "../api/json_body.ts";
import type { MetadataImage } from "../metadata/image.ts";
import { REPLICA_FETCH_TIMEOUT_MARGIN_MS } from "./config.ts";
import {
  decodeReplicaFetchResponse,
  encodeReplicaFetchResponseParts,
  parseReplicaFetchRequest,
  REPLICA_FETCH_CONTENT_TYPE,
  REPLICA_FETCH_PATH,
} from "./fetch_wire.ts";
import type { ReplicaFetchTransport } from "./replica_fetcher.ts";
import type { ReplicaManager } from "./replica_manager.ts";

/** Largest follower fetch request body (one entry per partition, ~150 bytes each). */
export const REPLICA_FETCH_REQUEST_BYTES_MAX = 4 * 1024 * 1024;

/** Mounts `POST /internal/replica/fetch` (the internal app checks the cluster secret first). */
export function mountReplicaRoutes(app: Hono, replicas: () => ReplicaManager | undefined): void {
  app.post(REPLICA_FETCH_PATH, async (c) => {
    const manager = replicas();
    if (manager === undefined) {
      throw new StromError("NOT_READY", "this node runs no replica manager (yet)");
    }
    const request = parseReplicaFetchRequest(
      await readJsonBody(c.req.raw, REPLICA_FETCH_REQUEST_BYTES_MAX),
    );
    const response = await manager.handleReplicaFetch(request, c.req.raw.signal);
    return bytesResponse(encodeReplicaFetchResponseParts(response), {
      headers: { "content-type": REPLICA_FETCH_CONTENT_TYPE },
    });
  });
}

/** Follower fetches to the leader's internal URL from the current metadata image. */
export function httpReplicaFetchTransport(
  http: H2Client,
  image: () => MetadataImage,
): ReplicaFetchTransport {
  return async (leaderId, request, signal) => {
    const url = image().brokers.get(leaderId)?.internalUrl;
    if (url === undefined) {
      throw new StromError("NETWORK_EXCEPTION", `broker ${leaderId} is not registered`);
    }
    const res = await http.request(url, {
      method: "POST",
      path: REPLICA_FETCH_PATH,
      headers: { "content-type": "application/json" },
      body: JSON.stringify(request),
      timeoutMs: request.maxWaitMs + REPLICA_FETCH_TIMEOUT_MARGIN_MS,
      signal,
    });
    if (res.status !== 200) {
      let body: unknown = null;
      try {
        body = JSON.parse(new TextDecoder().decode(res.body));
      } catch {
        // Reported as an unknown server error below.
      }
      throw StromError.fromBody(body, res.status);
    }
    return decodeReplicaFetchResponse(res.body);
  };
}
