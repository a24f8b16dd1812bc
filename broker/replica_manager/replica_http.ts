/**
 * The follower fetch RPC: the leader's route on the internal listener, and
 * the follower's transport ({@link ReplicaFetchHttpClient}, HTTP/1.1).
 *
 * @module
 */

import type { Hono } from "hono";
import { StromError } from "@strom/client";
import { bytesResponse } from "../api/bytes_response.ts";
import { readJsonBody } from "../api/json_body.ts";
import type { MetadataImage } from "../metadata/image.ts";
import {
  REPLICA_FETCH_RESPONSE_BYTES_MAX,
  REPLICA_FETCH_ROUNDS_MAX,
  REPLICA_FETCH_TIMEOUT_MARGIN_MS,
} from "./config.ts";
import {
  decodeReplicaFetchResponse,
  encodeReplicaFetchResponseParts,
  parseReplicaFetchRequest,
  REPLICA_FETCH_CONTENT_TYPE,
  REPLICA_FETCH_PATH,
} from "./fetch_wire.ts";
import type { ReplicaFetchRequest, ReplicaFetchResponse } from "./fetch_wire.ts";
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

/**
 * Largest follower fetch answer accepted on the wire: the leader's batch
 * budget, plus one batch past it and the per-partition headers, with room to
 * spare.
 */
export const REPLICA_FETCH_ANSWER_BYTES_MAX = 4 * REPLICA_FETCH_RESPONSE_BYTES_MAX;

/** What {@link ReplicaFetchHttpClient} needs from the node. */
export interface ReplicaFetchHttpOptions {
  /** Sent with every request (the cluster secret). */
  readonly headers: Readonly<Record<string, string>>;
  /** Awaited before each request; throws to fail it (test network faults). */
  readonly beforeSend?: (origin: string) => Promise<void>;
}

/**
 * The follower's side of the fetch RPC: HTTP/1.1 `fetch` with a client of
 * its own, one connection per round in flight (at most
 * {@link REPLICA_FETCH_ROUNDS_MAX} per leader; the pool keeps that many
 * idle), and the answer read whole into one buffer that the decoded batches
 * are views of.
 *
 * Why not the node's HTTP/2 client, which every other internal RPC uses:
 * `node:http2` in Deno hands a received body over as 16 KiB chunks read from
 * socket buffers (about two buffers per byte) that we then joined into a
 * third, and that ArrayBuffer churn is what starts most of the brokers'
 * major garbage collections under load (README "Performance"). `fetch`
 * collects a body of known length into one buffer in Rust. Measured at
 * 55,000 rec/s (README command, interleaved, 4 runs each): mark-compacts per
 * run 74-87 against 138-147, p99 18.3-21.6 ms against 19.5-27.6 ms, p99.9
 * 29-40 against 35-51 ms; max produce 158-167 against 148-154 MB/s. And why
 * not HTTP/2 `fetch`: Deno's HTTP/2 client turns Nagle on, and every POST of
 * about 1 KB or more (a round of a thousand partitions is ~130 KB) then
 * stalls ~44 ms.
 */
export class ReplicaFetchHttpClient {
  #client: Deno.HttpClient | undefined;
  #closed = false;

  constructor(private readonly options: ReplicaFetchHttpOptions) {}

  /** A transport to the leaders' internal URLs in the current metadata image. */
  transport(image: () => MetadataImage): ReplicaFetchTransport {
    return async (leaderId, request, signal) => {
      const url = image().brokers.get(leaderId)?.internalUrl;
      if (url === undefined) {
        throw new StromError("NETWORK_EXCEPTION", `broker ${leaderId} is not registered`);
      }
      await this.options.beforeSend?.(url);
      return await this.#post(
        url,
        request,
        signal,
        request.maxWaitMs + REPLICA_FETCH_TIMEOUT_MARGIN_MS,
      );
    };
  }

  /** Closes the pooled connections; requests after this fail. */
  close(): void {
    this.#closed = true;
    this.#client?.close();
    this.#client = undefined;
  }

  async #post(
    url: string,
    request: ReplicaFetchRequest,
    signal: AbortSignal,
    timeoutMs: number,
  ): Promise<ReplicaFetchResponse> {
    if (this.#closed) {
      throw new StromError("NETWORK_EXCEPTION", "the replica fetch client is closed");
    }
    this.#client ??= Deno.createHttpClient({
      http1: true,
      http2: false,
      poolMaxIdlePerHost: REPLICA_FETCH_ROUNDS_MAX,
    });
    // One controller for the caller's cancel and the deadline; a listener rather than
    // AbortSignal.any, so nothing outlives the request.
    const abort = new AbortController();
    const onCancel = () => abort.abort(signal.reason);
    if (signal.aborted) onCancel();
    else signal.addEventListener("abort", onCancel, { once: true });
    const timer = setTimeout(
      () =>
        abort.abort(
          new StromError("REQUEST_TIMED_OUT", `replica fetch to ${url} took over ${timeoutMs} ms`),
        ),
      timeoutMs,
    );
    try {
      const res = await fetch(new URL(REPLICA_FETCH_PATH, url), {
        method: "POST",
        client: this.#client,
        headers: { ...this.options.headers, "content-type": "application/json" },
        body: JSON.stringify(request),
        signal: abort.signal,
      });
      const length = Number(res.headers.get("content-length") ?? NaN);
      if (!(length <= REPLICA_FETCH_ANSWER_BYTES_MAX)) {
        await res.body?.cancel();
        throw new StromError(
          "NETWORK_EXCEPTION",
          `replica fetch answer from ${url} has no content-length or one over ${REPLICA_FETCH_ANSWER_BYTES_MAX} bytes (${
            res.headers.get("content-length")
          })`,
        );
      }
      const body = await res.bytes();
      if (res.status !== 200) {
        let error: unknown = null;
        try {
          error = JSON.parse(new TextDecoder().decode(body));
        } catch {
          // Reported as an unknown server error below.
        }
        throw StromError.fromBody(error, res.status);
      }
      return decodeReplicaFetchResponse(body);
    } catch (e) {
      if (e instanceof StromError) throw e;
      if (abort.signal.aborted && abort.signal.reason instanceof StromError) {
        throw abort.signal.reason;
      }
      throw new StromError("NETWORK_EXCEPTION", `replica fetch to ${url} failed: ${e}`);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", onCancel);
    }
  }
}
