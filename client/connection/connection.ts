/**
 * The shared transport of one {@link Strom} client: one HTTP/2 connection per
 * broker (through {@link H2Client}, with a bounded number of requests in
 * flight), the metadata cache, and requests that any broker can answer sent
 * with failover across the bootstrap brokers and every broker seen since.
 *
 * @module
 */

import { CLIENT_DEFAULTS } from "../defaults.ts";
import { StromError } from "../errors.ts";
import { H2Client } from "../http/h2_client.ts";
import type { H2Request, H2Response, H2TlsOptions } from "../http/h2_client.ts";
import { MetadataCache } from "./metadata_cache.ts";
import { withRetries } from "./retry.ts";

/** Options of a {@link Strom} client and its {@link Connection}. */
export interface StromOptions {
  /** Bootstrap brokers' client URLs: one URL, a comma-separated list, or an array. */
  readonly brokers: string | readonly string[];
  /** Deadline of one request (default 30 s). */
  readonly requestTimeoutMs?: number;
  /** HTTP/2 streams in flight per broker (default 100). */
  readonly inFlightRequestsPerBrokerMax?: number;
  /** Requests queued per broker behind those (default 10,000). */
  readonly queuedRequestsPerBrokerMax?: number;
  /** Age after which topic metadata is refreshed (default 5 min). */
  readonly metadataMaxAgeMs?: number;
  /** Attempts of a metadata or admin request (default 6, at least one per bootstrap broker). */
  readonly attemptsMax?: number;
  /** First retry backoff (default 100 ms). */
  readonly retryBackoffMs?: number;
  /** Largest retry backoff (default 1 s). */
  readonly retryBackoffMsMax?: number;
  /** TLS settings for `https://` brokers. */
  readonly tls?: H2TlsOptions;
  /** Random numbers in [0, 1) for jitter and partition choice; injectable for tests. */
  readonly random?: () => number;
}

/** Per-call options: every call accepts a deadline and an abort signal. */
export interface CallOptions {
  /** Aborts the call; it rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /** Deadline of the whole call, retries included (default: the client's requestTimeoutMs). */
  readonly timeoutMs?: number;
}

/** A JSON request any broker may answer. */
export interface AnyBrokerRequest {
  readonly method?: string;
  readonly path: string;
  readonly body?: unknown;
}

/**
 * Connections, metadata and failover shared by the producers, consumers and
 * admin clients of one {@link Strom}.
 *
 * @example
 * ```ts ignore
 * import { Connection } from "@strom/client";
 * const conn = new Connection({ brokers: "http://127.0.0.1:9092" });
 * console.log(await conn.anyBroker({ path: "/v1/topics" }));
 * await conn.close();
 * ```
 */
export class Connection {
  /** The HTTP/2 client (one session per broker). */
  readonly http: H2Client;
  /** Partition leaders and broker URLs. */
  readonly metadata: MetadataCache;
  /** Bootstrap URLs without trailing slashes. */
  readonly bootstrap: readonly string[];
  readonly requestTimeoutMs: number;
  readonly attemptsMax: number;
  readonly retryBackoffMs: number;
  readonly retryBackoffMsMax: number;
  readonly random: () => number;
  /** The broker that answered last; asked first next time. */
  #preferred: string | undefined;

  constructor(options: StromOptions) {
    const d = CLIENT_DEFAULTS.connection;
    this.bootstrap = parseBrokers(options.brokers);
    this.requestTimeoutMs = options.requestTimeoutMs ?? d.requestTimeoutMs;
    this.attemptsMax = Math.max(options.attemptsMax ?? d.attemptsMax, this.bootstrap.length);
    this.retryBackoffMs = options.retryBackoffMs ?? d.retryBackoffMs;
    this.retryBackoffMsMax = options.retryBackoffMsMax ?? d.retryBackoffMsMax;
    this.random = options.random ?? Math.random;
    this.http = new H2Client({
      streamsPerOriginMax: options.inFlightRequestsPerBrokerMax ?? d.inFlightRequestsPerBrokerMax,
      queuedPerOriginMax: options.queuedRequestsPerBrokerMax ?? d.queuedRequestsPerBrokerMax,
      timeoutMs: this.requestTimeoutMs,
      ...(options.tls ? { tls: options.tls } : {}),
    });
    this.metadata = new MetadataCache(
      (path, signal) => this.anyBroker({ path }, signal ? { signal } : {}),
      { maxAgeMs: options.metadataMaxAgeMs ?? d.metadataMaxAgeMs },
    );
  }

  /** One request to the broker at `url`, with the client's default deadline. */
  request(url: string, req: H2Request): Promise<H2Response> {
    return this.http.request(url, { timeoutMs: this.requestTimeoutMs, ...req });
  }

  /**
   * A JSON request that any broker can answer. Network failures move on to
   * the next broker; retriable answers (NOT_READY, NOT_CONTROLLER, ...) are
   * retried with backoff; the whole call ends by its deadline.
   */
  anyBroker<T>(req: AnyBrokerRequest, options: CallOptions = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs;
    const deadlineMs = Date.now() + timeoutMs;
    const brokers = this.#candidates();
    let index = 0;
    return withRetries(async () => {
      const url = brokers[index % brokers.length];
      const remainingMs = Math.max(1, deadlineMs - Date.now());
      try {
        const answer = await this.http.json<T>(url, {
          method: req.method ?? (req.body === undefined ? "GET" : "POST"),
          path: req.path,
          ...(req.body === undefined ? {} : { body: req.body }),
          timeoutMs: Math.min(this.requestTimeoutMs, remainingMs),
          ...(options.signal ? { signal: options.signal } : {}),
        });
        this.#preferred = url;
        return answer;
      } catch (e) {
        // A broker that is stopping answers SHUTTING_DOWN until it exits: ask the next one.
        if (
          e instanceof StromError && (e.code === "NETWORK_EXCEPTION" || e.code === "SHUTTING_DOWN")
        ) {
          index++;
          if (this.#preferred === url) this.#preferred = undefined;
        }
        throw e;
      }
    }, {
      attemptsMax: Math.max(this.attemptsMax, brokers.length),
      backoffMs: this.retryBackoffMs,
      backoffMsMax: this.retryBackoffMsMax,
      random: this.random,
      deadlineMs,
      ...(options.signal ? { signal: options.signal } : {}),
    }).catch((e) => {
      if (e instanceof StromError && e.code === "NETWORK_EXCEPTION") {
        throw new StromError(
          "NETWORK_EXCEPTION",
          `no broker reachable (tried ${brokers.join(", ")}): ${e.message}`,
          { cause: e },
        );
      }
      throw e;
    });
  }

  /** Closes every connection. */
  close(): Promise<void> {
    return this.http.close();
  }

  #candidates(): string[] {
    const all = [
      ...(this.#preferred ? [this.#preferred] : []),
      ...this.bootstrap,
      ...this.metadata.knownBrokerUrls(),
    ];
    return [...new Set(all)];
  }
}

/**
 * Normalises bootstrap brokers: a URL, a comma-separated list or an array;
 * `host:port` without a scheme means `http://host:port`.
 *
 * @example
 * ```ts
 * import { parseBrokers } from "@strom/client";
 * console.log(parseBrokers("127.0.0.1:9092,http://127.0.0.1:9093/"));
 * // ["http://127.0.0.1:9092", "http://127.0.0.1:9093"]
 * ```
 */
export function parseBrokers(brokers: string | readonly string[]): string[] {
  const list = (typeof brokers === "string" ? brokers.split(",") : [...brokers])
    .map((b) => b.trim()).filter((b) => b.length > 0)
    .map((b) => (/^https?:\/\//.test(b) ? b : `http://${b}`).replace(/\/+$/, ""));
  if (list.length === 0) {
    throw new StromError("INVALID_CONFIG", "brokers must list at least one broker URL");
  }
  for (const b of list) {
    try {
      new URL(b);
    } catch {
      throw new StromError("INVALID_CONFIG", `'${b}' is not a broker URL like http://host:9092`);
    }
  }
  return list;
}
