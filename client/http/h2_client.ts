/**
 * A small HTTP/2 client over `node:http2`, reusing one connection per
 * origin. Strom uses it for everything that speaks HTTP/2: the client
 * library, the CLI, and the broker's own calls to other brokers.
 *
 * Why not `fetch`: in Deno 2.9, `fetch` with an HTTP/2-only client turns
 * Nagle's algorithm on, and every POST of about 1 KB or more stalls ~44 ms.
 *
 * Limits: at most {@link H2ClientOptions.streamsPerOriginMax} requests in
 * flight per origin (further requests wait in a bounded queue, and fail with
 * NETWORK_EXCEPTION when it is full), a response body limit, and a deadline
 * on every request.
 *
 * @example
 * ```ts ignore
 * import { H2Client } from "@strom/client";
 * const client = new H2Client();
 * const res = await client.request("http://127.0.0.1:9092", { path: "/healthz" });
 * console.log(res.status, new TextDecoder().decode(res.body));
 * await client.close();
 * ```
 *
 * @module
 */

import http2 from "node:http2";
import { StromError } from "../errors.ts";

const TEXT = new TextEncoder();

/** Options of {@link H2Client}. */
export interface H2ClientOptions {
  /** Requests in flight per origin. Default 100. */
  readonly streamsPerOriginMax?: number;
  /** Requests waiting for a stream per origin. Default 10,000. */
  readonly queuedPerOriginMax?: number;
  /** Largest response body accepted. Default 64 MiB. */
  readonly responseBytesMax?: number;
  /** Deadline of a request that sets none. Default 30 s. */
  readonly timeoutMs?: number;
  /** Headers sent with every request (for example the cluster secret). */
  readonly headers?: Readonly<Record<string, string>>;
  /** TLS settings for `https:` origins (ALPN h2); ignored for `http:` (h2c). */
  readonly tls?: H2TlsOptions;
}

/** TLS settings for `https:` brokers, as `node:tls` takes them (PEM strings). */
export interface H2TlsOptions {
  /** Trusted CA certificates (PEM); default: the system's. */
  readonly ca?: string | readonly string[];
  /** Client certificate (PEM) for mutual TLS. */
  readonly cert?: string;
  /** Client private key (PEM) for mutual TLS. */
  readonly key?: string;
  /** Server name to verify when it differs from the URL's host. */
  readonly servername?: string;
  /** Default true; false accepts any certificate (tests only). */
  readonly rejectUnauthorized?: boolean;
}

/** One request. */
export interface H2Request {
  readonly method?: string;
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array | string;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** A complete response. */
export interface H2Response {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

/**
 * Receive windows and frame size we announce. HTTP/2's defaults (64 KiB
 * windows, 16 KiB frames) make a 1 MiB answer ~64 frames and a dozen
 * WINDOW_UPDATE round trips; these halve the CPU per received MiB on both
 * ends and double the throughput of one connection (measured on loopback:
 * 1.5-1.8 → 1.0-1.2 ms CPU per received MiB in H2Client, 0.9-1.2 → 0.5-0.6 ms
 * in `Deno.serve` sending it).
 * They also bound what a peer may send us before we read it: one stream's
 * window, and the connection's window over all streams.
 */
const STREAM_WINDOW_BYTES = 8 * 1024 * 1024;
/** The connection's receive window, over all of its streams. */
const CONNECTION_WINDOW_BYTES = 32 * 1024 * 1024;
/** Largest DATA frame we accept (HTTP/2's maximum is 2^24 - 1). */
const FRAME_BYTES_MAX = 1024 * 1024;

interface Origin {
  session: http2.ClientHttp2Session | undefined;
  active: number;
  readonly waiting: (() => void)[];
}

/** An HTTP/2 client with one reused connection per origin. */
export class H2Client {
  readonly #origins = new Map<string, Origin>();
  readonly #streamsMax: number;
  readonly #queuedMax: number;
  readonly #bodyMax: number;
  readonly #timeoutMs: number;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #tls: H2TlsOptions | undefined;
  #closed = false;

  constructor(options: H2ClientOptions = {}) {
    this.#streamsMax = options.streamsPerOriginMax ?? 100;
    this.#queuedMax = options.queuedPerOriginMax ?? 10_000;
    this.#bodyMax = options.responseBytesMax ?? 64 * 1024 * 1024;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#headers = options.headers ?? {};
    this.#tls = options.tls;
  }

  /** Sends one request to `origin` (like `http://127.0.0.1:9092`) and reads the whole answer. */
  async request(origin: string, req: H2Request): Promise<H2Response> {
    if (this.#closed) throw new StromError("NETWORK_EXCEPTION", "the HTTP/2 client is closed");
    const o = this.#origin(origin);
    if (o.active >= this.#streamsMax) {
      if (o.waiting.length >= this.#queuedMax) {
        throw new StromError(
          "NETWORK_EXCEPTION",
          `${o.waiting.length} requests already wait for ${origin}; slow down or raise queuedPerOriginMax`,
        );
      }
      await new Promise<void>((resolve) => o.waiting.push(resolve));
    }
    o.active++;
    try {
      return await this.#send(origin, o, req);
    } finally {
      o.active--;
      o.waiting.shift()?.();
    }
  }

  /** Sends a JSON body and parses a JSON answer; a non-2xx answer throws its StromError. */
  async json<T>(origin: string, req: Omit<H2Request, "body"> & { body?: unknown }): Promise<T> {
    const { body, ...rest } = req;
    const res = await this.request(origin, {
      ...rest,
      headers: { "content-type": "application/json", ...req.headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    let parsed: unknown = null;
    try {
      parsed = res.body.length === 0 ? null : JSON.parse(new TextDecoder().decode(res.body));
    } catch {
      // Not JSON: reported below as a broker error if the status is bad.
    }
    if (res.status < 200 || res.status >= 300) throw StromError.fromBody(parsed, res.status);
    return parsed as T;
  }

  /** Closes every connection. */
  async close(): Promise<void> {
    this.#closed = true;
    const origins = [...this.#origins.values()];
    this.#origins.clear();
    const sessions: http2.ClientHttp2Session[] = [];
    for (const o of origins) {
      if (!o.session) continue;
      // Nothing of ours in flight: a graceful close would only wait for streams we cancelled.
      if (o.active === 0) o.session.destroy();
      else sessions.push(o.session);
    }
    await Promise.all(sessions.map((s) =>
      new Promise<void>((resolve) => {
        if (s.closed || s.destroyed) return resolve();
        // A peer that never answers GOAWAY must not hold close() forever.
        const timer = setTimeout(() => {
          s.destroy();
          resolve();
        }, 1000);
        s.close(() => {
          clearTimeout(timer);
          resolve();
        });
      })
    ));
  }

  #origin(origin: string): Origin {
    let o = this.#origins.get(origin);
    if (!o) {
      o = { session: undefined, active: 0, waiting: [] };
      this.#origins.set(origin, o);
    }
    return o;
  }

  #session(origin: string, o: Origin): http2.ClientHttp2Session {
    if (o.session && !o.session.closed && !o.session.destroyed) return o.session;
    const settings = { initialWindowSize: STREAM_WINDOW_BYTES, maxFrameSize: FRAME_BYTES_MAX };
    const session = origin.startsWith("https:") && this.#tls
      ? http2.connect(origin, {
        ...this.#tls,
        ca: this.#tls.ca as string | string[] | undefined,
        settings,
      })
      : http2.connect(origin, { settings });
    session.once("connect", () => session.setLocalWindowSize(CONNECTION_WINDOW_BYTES));
    session.on("error", () => {
      // Each stream reports its own failure; a broken session is replaced on the next request.
      if (o.session === session) o.session = undefined;
    });
    session.on("close", () => {
      if (o.session === session) o.session = undefined;
    });
    session.on("goaway", () => {
      if (o.session === session) o.session = undefined;
    });
    o.session = session;
    return session;
  }

  #send(origin: string, o: Origin, req: H2Request): Promise<H2Response> {
    const { promise, resolve, reject } = Promise.withResolvers<H2Response>();
    let session: http2.ClientHttp2Session;
    try {
      session = this.#session(origin, o);
    } catch (e) {
      return Promise.reject(networkError(origin, e));
    }
    const timeoutMs = req.timeoutMs ?? this.#timeoutMs;
    const body = typeof req.body === "string" ? TEXT.encode(req.body) : req.body;
    const stream = session.request({
      ":method": req.method ?? (body === undefined ? "GET" : "POST"),
      ":path": req.path,
      // Lets the server read the body in one piece and refuse an oversized one before reading it.
      ...(body === undefined ? {} : { "content-length": String(body.length) }),
      ...this.#headers,
      ...req.headers,
    });
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal?.removeEventListener("abort", onAbort);
      fn();
    };
    const timer = setTimeout(() => {
      finish(() =>
        reject(
          new StromError(
            "REQUEST_TIMED_OUT",
            `${origin}${req.path} did not answer within ${timeoutMs} ms`,
          ),
        )
      );
      stream.close(http2.constants.NGHTTP2_CANCEL);
    }, timeoutMs);
    const onAbort = () => {
      finish(() => reject(req.signal?.reason ?? new DOMException("aborted", "AbortError")));
      stream.close(http2.constants.NGHTTP2_CANCEL);
    };
    req.signal?.addEventListener("abort", onAbort, { once: true });
    let status = 0;
    let headers: Record<string, string> = {};
    const chunks: Uint8Array[] = [];
    let bytes = 0;
    stream.on("response", (h) => {
      status = Number(h[":status"]);
      headers = Object.fromEntries(
        Object.entries(h).filter(([k]) => !k.startsWith(":")).map(([k, v]) => [k, String(v)]),
      );
    });
    stream.on("data", (chunk: Uint8Array) => {
      bytes += chunk.length;
      if (bytes > this.#bodyMax) {
        finish(() =>
          reject(
            new StromError(
              "NETWORK_EXCEPTION",
              `${origin}${req.path} answered more than ${this.#bodyMax} bytes`,
            ),
          )
        );
        stream.close(http2.constants.NGHTTP2_CANCEL);
        return;
      }
      chunks.push(chunk);
    });
    stream.on("end", () =>
      finish(() => {
        // A stream that ends without response headers died with its connection.
        if (status === 0) {
          reject(
            new StromError(
              "NETWORK_EXCEPTION",
              `${origin}${req.path}: connection lost before an answer`,
            ),
          );
        } else resolve({ status, headers, body: concat(chunks, bytes) });
      }));
    stream.on("error", (e) => finish(() => reject(networkError(origin, e))));
    stream.on(
      "close",
      () =>
        finish(() =>
          reject(new StromError("NETWORK_EXCEPTION", `${origin}${req.path}: stream closed early`))
        ),
    );
    if (body !== undefined) stream.end(body);
    else stream.end();
    return promise;
  }
}

function concat(chunks: Uint8Array[], bytes: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(bytes);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function networkError(origin: string, e: unknown): StromError {
  return new StromError(
    "NETWORK_EXCEPTION",
    `cannot reach ${origin}: ${(e as Error)?.message ?? String(e)}`,
    { cause: e },
  );
}
