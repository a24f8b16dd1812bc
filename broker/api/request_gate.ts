/**
 * The door of a node's listeners while it stops: once closed, new requests
 * are answered 503 SHUTTING_DOWN (retriable, so clients and peers move on),
 * and the node can wait for the requests already admitted to finish.
 *
 * Why not only `Deno.serve`'s `shutdown()`: a graceful shutdown sends an
 * HTTP/2 GOAWAY on every open connection, and in Deno 2.9.6 a `node:http2`
 * client session that receives a GOAWAY after its earlier streams were freed
 * and their memory reused can abort or segfault inside nghttp2
 * (`find_stream_on_goaway_func: Assertion 'stream->closed_next == NULL'`,
 * denoland/deno#36788). Every Strom node talks to its peers through
 * `node:http2` (Raft, replica fetch, controller calls, forwarding), so a
 * node restarted cleanly used to crash a peer in about two runs of three —
 * the "false fencing" of issue 5 was a real crash of the fenced broker. A
 * node that stops as a process therefore closes this gate, drains, and lets
 * the process exit close its sockets: peers see the connection end (EOF),
 * which does not take that path.
 *
 * Invariant: `inFlight` counts requests admitted and not yet answered; it
 * never goes below zero, and after `close()` it only falls.
 *
 * @module
 */

import { StromError } from "@strom/client";
import { errorResponse } from "./error_response.ts";

/** A `Deno.serve` handler. */
export type ServeHandler = (
  request: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
) => Response | Promise<Response>;

/** Admits requests until closed, and counts those in flight. */
export class RequestGate {
  #open = true;
  #inFlight = 0;
  /** Resolvers waiting for `inFlight` to reach zero. */
  readonly #idleWaiters = new Set<() => void>();

  constructor(private readonly nodeId: number) {}

  /** Requests admitted and not yet answered. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Whether new requests are still admitted. */
  get open(): boolean {
    return this.#open;
  }

  /** `handler`, admitting requests only while the gate is open. */
  wrap(handler: ServeHandler): ServeHandler {
    return async (request, info) => {
      if (!this.#open) return errorResponse(this.#shuttingDown());
      this.#inFlight++;
      try {
        return await handler(request, info);
      } finally {
        this.#inFlight--;
        if (this.#inFlight === 0) { for (const wake of [...this.#idleWaiters]) wake(); }
      }
    };
  }

  /** Stops admitting requests; those in flight carry on. */
  close(): void {
    this.#open = false;
  }

  /** Resolves true once no request is in flight, or false after `timeoutMs`. */
  drained(timeoutMs: number): Promise<boolean> {
    if (this.#inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (idle: boolean) => {
        clearTimeout(timer);
        this.#idleWaiters.delete(onIdle);
        resolve(idle);
      };
      const onIdle = () => finish(true);
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.#idleWaiters.add(onIdle);
    });
  }

  #shuttingDown(): StromError {
    return new StromError(
      "SHUTTING_DOWN",
      `node ${this.nodeId} is shutting down; retry on another broker`,
    );
  }
}
