/**
 * The receiving side of the HTTP/2 Raft transport: a `Request → Response`
 * handler that the broker mounts on its internal listener under
 * {@link RAFT_HTTP_PATH}, and a small server for tests and tools.
 *
 * A request is one POST whose body is a batch of messages in the binary form
 * of `message_codec.ts`. It must carry the cluster secret in the
 * {@link SECRET_HEADER} header; without it the answer is 401 and nothing is
 * decoded or delivered.
 *
 * @module
 */

import type { Message } from "./message.ts";
import { decodeMessages } from "./message_codec.ts";
import type { NodeId } from "./types.ts";

/** The path the broker serves the handler under on its internal listener. */
export const RAFT_HTTP_PATH = "/internal/raft";
/** The header that carries the shared cluster secret. */
export const SECRET_HEADER = "x-strom-secret";
/** The content type of a message batch. */
export const RAFT_CONTENT_TYPE = "application/vnd.strom.raft";
/** Default largest request body accepted (64 MiB: a snapshot chunk plus slack). */
export const REQUEST_BYTES_MAX_DEFAULT = 64 * 1024 * 1024;

/** Options of {@link createRaftHandler}. */
export interface RaftHandlerOptions {
  /** The shared cluster secret every request must carry. */
  readonly secret: string;
  /**
   * Receives each decoded batch. The response waits for it, so a handler that
   * only enqueues the messages for the node's driver keeps requests short.
   */
  readonly onMessages: (messages: Message[]) => void | Promise<void>;
  /** If set, a batch holding a message addressed to another node is refused. */
  readonly selfId?: NodeId;
  /** Largest request body accepted (default {@link REQUEST_BYTES_MAX_DEFAULT}). */
  readonly requestBytesMax?: number;
}

function errorResponse(status: number, code: string, message: string): Response {
  return Response.json({ error: { code, message } }, { status });
}

/**
 * Compares a presented secret with the expected one in time independent of
 * where they differ, so the secret cannot be guessed byte by byte. A missing
 * secret (`null`) never matches.
 *
 * @example
 * ```ts
 * import { secretMatches } from "@strom/raft/http_transport_handler";
 * console.log(secretMatches("s3cret", "s3cret"), secretMatches(null, "s3cret")); // true false
 * ```
 */
export function secretMatches(given: string | null, secret: string): boolean {
  if (given === null) return false;
  const a = new TextEncoder().encode(given);
  const b = new TextEncoder().encode(secret);
  let difference = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) difference |= (a[i] ?? 0) ^ b[i];
  return difference === 0;
}

/** Reads a request body, refusing to buffer more than `bytesMax`; `undefined` if it is larger. */
async function readBody(request: Request, bytesMax: number): Promise<Uint8Array | undefined> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > bytesMax) {
    await request.body?.cancel();
    return undefined;
  }
  if (!request.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = request.body.getReader();
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > bytesMax) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.length;
  }
  return body;
}

/**
 * Makes the request handler of the Raft transport's receiving side. Answers
 * 204 once `onMessages` has taken the batch; 401 `UNAUTHENTICATED` without
 * the right secret; 405 for anything but POST; 413 `MESSAGE_TOO_LARGE` past
 * `requestBytesMax`; 400 `CORRUPT_MESSAGE` for a body that does not decode,
 * and 400 `INVALID_REQUEST` for messages addressed to another node.
 *
 * @example
 * ```ts
 * import { createRaftHandler, SECRET_HEADER } from "./http_transport_handler.ts";
 * import { encodeMessages } from "./message_codec.ts";
 *
 * const handler = createRaftHandler({ secret: "s3cret", onMessages: (m) => console.log(m.length) });
 * const response = await handler(new Request("http://node/internal/raft", {
 *   method: "POST",
 *   headers: { [SECRET_HEADER]: "s3cret" },
 *   body: encodeMessages([{ type: "timeoutNow", from: 1, to: 2, term: 3 }]),
 * }));
 * console.log(response.status); // 204
 * ```
 */
export function createRaftHandler(
  options: RaftHandlerOptions,
): (request: Request) => Promise<Response> {
  const bytesMax = options.requestBytesMax ?? REQUEST_BYTES_MAX_DEFAULT;
  return async (request: Request): Promise<Response> => {
    if (!secretMatches(request.headers.get(SECRET_HEADER), options.secret)) {
      await request.body?.cancel();
      return errorResponse(401, "UNAUTHENTICATED", `missing or wrong ${SECRET_HEADER} header`);
    }
    if (request.method !== "POST") {
      await request.body?.cancel();
      return errorResponse(405, "METHOD_NOT_ALLOWED", "the raft endpoint accepts only POST");
    }
    const body = await readBody(request, bytesMax);
    if (body === undefined) {
      return errorResponse(
        413,
        "MESSAGE_TOO_LARGE",
        `a raft request may carry at most ${bytesMax} bytes`,
      );
    }
    let messages: Message[];
    try {
      messages = decodeMessages(body);
    } catch (error) {
      return errorResponse(
        400,
        "CORRUPT_MESSAGE",
        `raft message batch does not decode: ${(error as Error).message}`,
      );
    }
    const selfId = options.selfId;
    const stray = selfId === undefined
      ? undefined
      : messages.find((message) => message.to !== selfId);
    if (stray !== undefined) {
      return errorResponse(
        400,
        "INVALID_REQUEST",
        `message for node ${stray.to} sent to node ${selfId}`,
      );
    }
    await options.onMessages(messages);
    return new Response(null, { status: 204 });
  };
}

/** A running {@link startRaftServer}. */
export interface RaftServer {
  /** The base URL to give peers, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly port: number;
  /** Stops accepting, finishes requests in flight, and frees the port. */
  shutdown(): Promise<void>;
}

/**
 * Serves `handler` on `hostname:port` (default 127.0.0.1, port 0 = any free
 * port) with `Deno.serve`, which speaks HTTP/2 with prior knowledge as well as
 * HTTP/1.1. For tests and tools; the broker mounts the handler on its own
 * internal listener instead.
 *
 * @example
 * ```ts
 * import { createRaftHandler, startRaftServer } from "./http_transport_handler.ts";
 * const server = startRaftServer(createRaftHandler({ secret: "s", onMessages: () => {} }));
 * console.log(server.url.startsWith("http://127.0.0.1:")); // true
 * await server.shutdown();
 * ```
 */
export function startRaftServer(
  handler: (request: Request) => Promise<Response>,
  options: { readonly hostname?: string; readonly port?: number } = {},
): RaftServer {
  const hostname = options.hostname ?? "127.0.0.1";
  const server = Deno.serve({ hostname, port: options.port ?? 0, onListen: () => {} }, handler);
  const port = server.addr.port;
  return { url: `http://${hostname}:${port}`, port, shutdown: () => server.shutdown() };
}
