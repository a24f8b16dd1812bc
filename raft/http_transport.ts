/**
 * The sending side of the HTTP/2 Raft transport.
 *
 * Each peer has two lanes, each with its own bounded queue and its own HTTP/2
 * connection: one for small messages (appends, heartbeats, votes, responses)
 * and one for snapshot chunks. A large snapshot transfer therefore never
 * delays a heartbeat, not even at the TCP level. Each lane keeps one POST in
 * flight; whatever queues meanwhile goes out as the next batch, so batching
 * grows with load by itself.
 *
 * Sending never blocks and never throws for network reasons: Raft tolerates
 * loss, so a full queue drops its oldest non-essential message, a failed
 * request drops its batch, and both are reported through `onDropped` and
 * `onUnreachable` (which a driver forwards to the core, as etcd's
 * `ReportUnreachable` / `ReportSnapshot`). A failed connection is re-opened on
 * the next send after an exponential backoff.
 *
 * Uses the `node:http2` client: `fetch` with `Deno.createHttpClient` turns
 * Nagle on and stalls about 44 ms per POST of 1 KB or more in Deno 2.9.
 *
 * @module
 */

import http2 from "node:http2";
import type { Message } from "./message.ts";
import { encodeMessages } from "./message_codec.ts";
import type { NodeId } from "./types.ts";
import { RAFT_CONTENT_TYPE, RAFT_HTTP_PATH, SECRET_HEADER } from "./http_transport_handler.ts";
import { MessageQueue } from "./http_transport_queue.ts";

/** Limits of the transport; every queue and batch has one. */
export interface HttpTransportLimits {
  /** Small messages queued per peer before the oldest are dropped. */
  readonly messagesQueuedMax: number;
  /** Bytes of small messages queued per peer before the oldest are dropped. */
  readonly messagesQueuedBytesMax: number;
  /** Snapshot chunks queued per peer before the oldest are dropped. */
  readonly snapshotChunksQueuedMax: number;
  /** Bytes of snapshot chunks queued per peer before the oldest are dropped. */
  readonly snapshotChunksQueuedBytesMax: number;
  /** Most messages in one POST. */
  readonly batchMessagesMax: number;
  /** Most bytes in one POST (a single larger message still goes, alone). */
  readonly batchBytesMax: number;
  /** How long a POST of small messages may take before it counts as failed. */
  readonly requestTimeoutMs: number;
  /** How long a POST of snapshot chunks may take before it counts as failed. */
  readonly snapshotRequestTimeoutMs: number;
  /** First wait before reconnecting after a failure; doubles up to the maximum. */
  readonly reconnectBackoffMsMin: number;
  readonly reconnectBackoffMsMax: number;
}

/** The default {@link HttpTransportLimits}. */
export const HTTP_TRANSPORT_LIMITS_DEFAULT: HttpTransportLimits = {
  messagesQueuedMax: 4096,
  messagesQueuedBytesMax: 16 * 1024 * 1024,
  snapshotChunksQueuedMax: 4,
  snapshotChunksQueuedBytesMax: 64 * 1024 * 1024,
  batchMessagesMax: 1024,
  batchBytesMax: 1024 * 1024,
  requestTimeoutMs: 5_000,
  snapshotRequestTimeoutMs: 30_000,
  reconnectBackoffMsMin: 20,
  reconnectBackoffMsMax: 1_000,
};

/**
 * Messages the transport gave up on.
 *
 * - `queue_full`: dropped to make room in a full queue;
 * - `request_failed`: the POST carrying them failed (connection, timeout, non-204);
 * - `unknown_peer`: addressed to a node the transport has no URL for;
 * - `closed`: still queued when the transport closed.
 */
export interface DropEvent {
  readonly peer: NodeId;
  readonly count: number;
  readonly reason: "queue_full" | "request_failed" | "unknown_peer" | "closed";
  /** Whether snapshot chunks were among them (the leader must restart the transfer). */
  readonly snapshot: boolean;
  /** For `request_failed`: why. */
  readonly error?: Error;
}

/** Options of {@link HttpTransport}. */
export interface HttpTransportOptions {
  /** This node; messages it sends carry it as `from`. */
  readonly selfId: NodeId;
  /** Base URL of each peer's internal listener, e.g. `{2: "http://10.0.0.2:9192"}`. */
  readonly peers: Readonly<Record<NodeId, string>>;
  /** The shared cluster secret, sent in the `x-strom-secret` header. */
  readonly secret: string;
  /** Path of the Raft endpoint on the peers (default {@link RAFT_HTTP_PATH}). */
  readonly path?: string;
  readonly limits?: Partial<HttpTransportLimits>;
  /** Told when a POST to `peer` fails; a driver reports the peer unreachable to the core. */
  readonly onUnreachable?: (peer: NodeId) => void;
  /** Told whenever messages are dropped. */
  readonly onDropped?: (event: DropEvent) => void;
  /**
   * Test hook: while it returns true for a peer, every batch to that peer
   * fails as an unreachable POST would (chaos tests make network partitions
   * with it). Leave unset in production.
   */
  readonly peerBlocked?: (peer: NodeId) => boolean;
}

/** Counters of one peer, for metrics and tests. */
export interface PeerStats {
  readonly queuedMessages: number;
  readonly queuedSnapshotChunks: number;
  readonly sentBatches: number;
  readonly sentMessages: number;
  readonly droppedMessages: number;
  readonly failedRequests: number;
}

/** An HTTP response other than 204 from a peer. */
export class RaftTransportError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = "RaftTransportError";
  }
}

interface LaneConfig {
  readonly peer: NodeId;
  readonly snapshot: boolean;
  readonly queue: MessageQueue;
  readonly timeoutMs: number;
}

/** One queue and one HTTP/2 connection to a peer. */
class Lane {
  readonly #transport: HttpTransport;
  readonly #config: LaneConfig;
  #url: string;
  #session: http2.ClientHttp2Session | undefined;
  #inFlight: Promise<void> | undefined;
  #backoffMs = 0;
  #backoffTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  sentBatches = 0;
  sentMessages = 0;
  droppedMessages = 0;
  failedRequests = 0;

  constructor(transport: HttpTransport, config: LaneConfig, url: string) {
    this.#transport = transport;
    this.#config = config;
    this.#url = url;
  }

  get queued(): number {
    return this.#config.queue.length;
  }

  set url(url: string) {
    if (url === this.#url) return;
    this.#url = url;
    this.#session?.destroy();
    this.#session = undefined;
  }

  enqueue(message: Message): void {
    const dropped = this.#config.queue.push(message);
    if (dropped.length > 0) this.#dropped(dropped.length, "queue_full");
  }

  /** Starts a POST of the next batch unless one is in flight or a backoff is pending. */
  pump(): void {
    if (this.#closed || this.#inFlight || this.#backoffTimer !== undefined) return;
    if (this.#config.queue.length === 0) return;
    const limits = this.#transport.limits;
    const batch = this.#config.queue.take(limits.batchMessagesMax, limits.batchBytesMax);
    const blocked = this.#transport.peerBlocked(this.#config.peer);
    const sending = blocked
      ? Promise.reject(new Error(`node ${this.#config.peer} is cut off by a test network fault`))
      : this.#post(encodeMessages(batch.messages));
    this.#inFlight = sending.then(
      () => {
        this.sentBatches++;
        this.sentMessages += batch.messages.length;
        this.#backoffMs = 0;
      },
      (error: Error) => {
        this.failedRequests++;
        this.#session?.destroy();
        this.#session = undefined;
        if (this.#closed) {
          this.#dropped(batch.messages.length, "closed");
          return;
        }
        this.#dropped(batch.messages.length, "request_failed", error);
        this.#transport.reportUnreachable(this.#config.peer);
        this.#backoffMs = Math.min(
          limits.reconnectBackoffMsMax,
          Math.max(limits.reconnectBackoffMsMin, this.#backoffMs * 2),
        );
        this.#backoffTimer = setTimeout(() => {
          this.#backoffTimer = undefined;
          this.pump();
        }, this.#backoffMs);
      },
    ).finally(() => {
      this.#inFlight = undefined;
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#backoffTimer);
    this.#backoffTimer = undefined;
    const session = this.#session;
    this.#session = undefined;
    if (session && !session.destroyed) {
      const closed = new Promise<void>((resolve) => session.once("close", () => resolve()));
      session.destroy();
      await closed;
    }
    await this.#inFlight;
    const left = this.#config.queue.clear().length;
    if (left > 0) this.#dropped(left, "closed");
  }

  #dropped(count: number, reason: DropEvent["reason"], error?: Error): void {
    this.droppedMessages += count;
    this.#transport.reportDropped({
      peer: this.#config.peer,
      count,
      reason,
      snapshot: this.#config.snapshot,
      ...(error ? { error } : {}),
    });
  }

  #connect(): http2.ClientHttp2Session {
    if (this.#session && !this.#session.closed && !this.#session.destroyed) return this.#session;
    const session = http2.connect(this.#url);
    const forget = () => {
      if (this.#session === session) this.#session = undefined;
    };
    // Errors also fail the stream in flight, which reports them; here only forget the session.
    session.on("error", forget);
    session.on("close", forget);
    session.on("goaway", forget);
    this.#session = session;
    return session;
  }

  #post(body: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      let settled = false;
      let status = 0;
      const finish = (error?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(() => {
        finish(
          new Error(`no answer from node ${this.#config.peer} in ${this.#config.timeoutMs} ms`),
        );
        stream.close(http2.constants.NGHTTP2_CANCEL);
      }, this.#config.timeoutMs);
      const stream = this.#connect().request({
        ":method": "POST",
        ":path": this.#transport.path,
        [SECRET_HEADER]: this.#transport.secret,
        "content-type": RAFT_CONTENT_TYPE,
        "content-length": String(body.length),
      });
      stream.on("response", (headers) => {
        status = Number(headers[":status"]);
      });
      stream.on("data", () => {}); // the body is only an error description: drain it
      stream.on("end", () => {
        if (status === 204) finish();
        else {finish(
            new RaftTransportError(status, `node ${this.#config.peer} answered HTTP ${status}`),
          );}
      });
      stream.on("error", (error: Error) => finish(error));
      stream.on(
        "close",
        () => finish(new Error(`stream to node ${this.#config.peer} closed early`)),
      );
      stream.end(body);
    });
  }
}

/**
 * Sends Raft messages to peers over HTTP/2, batched per peer, with bounded
 * queues and a separate lane for snapshot chunks.
 *
 * @example
 * ```ts
 * import { HttpTransport } from "./http_transport.ts";
 * import { createRaftHandler, startRaftServer } from "./http_transport_handler.ts";
 * import type { Message } from "./message.ts";
 *
 * const received: Message[] = [];
 * const server = startRaftServer(createRaftHandler({
 *   secret: "s3cret",
 *   onMessages: (messages) => void received.push(...messages),
 * }));
 * const transport = new HttpTransport({ selfId: 1, peers: { 2: server.url }, secret: "s3cret" });
 * transport.send([{ type: "heartbeat", from: 1, to: 2, term: 1, commit: 0, readSeq: 0 }]);
 * while (received.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
 * await transport.close();
 * await server.shutdown();
 * ```
 */
export class HttpTransport {
  readonly limits: HttpTransportLimits;
  readonly path: string;
  readonly secret: string;
  readonly #selfId: NodeId;
  readonly #onUnreachable: ((peer: NodeId) => void) | undefined;
  readonly #onDropped: ((event: DropEvent) => void) | undefined;
  readonly #peerBlocked: ((peer: NodeId) => boolean) | undefined;
  readonly #peers = new Map<NodeId, { messages: Lane; snapshots: Lane }>();
  #closed = false;

  constructor(options: HttpTransportOptions) {
    this.limits = { ...HTTP_TRANSPORT_LIMITS_DEFAULT, ...options.limits };
    this.path = options.path ?? RAFT_HTTP_PATH;
    this.secret = options.secret;
    this.#selfId = options.selfId;
    this.#onUnreachable = options.onUnreachable;
    this.#onDropped = options.onDropped;
    this.#peerBlocked = options.peerBlocked;
    for (const [id, url] of Object.entries(options.peers)) this.setPeer(Number(id), url);
  }

  /** Adds a peer or changes its URL (connections to the old URL are closed). */
  setPeer(peer: NodeId, url: string): void {
    if (peer === this.#selfId) return;
    const existing = this.#peers.get(peer);
    if (existing) {
      existing.messages.url = url;
      existing.snapshots.url = url;
      return;
    }
    const limits = this.limits;
    const lane = (snapshot: boolean) =>
      new Lane(this, {
        peer,
        snapshot,
        queue: new MessageQueue(
          snapshot
            ? {
              messagesMax: limits.snapshotChunksQueuedMax,
              bytesMax: limits.snapshotChunksQueuedBytesMax,
            }
            : { messagesMax: limits.messagesQueuedMax, bytesMax: limits.messagesQueuedBytesMax },
        ),
        timeoutMs: snapshot ? limits.snapshotRequestTimeoutMs : limits.requestTimeoutMs,
      }, url);
    this.#peers.set(peer, { messages: lane(false), snapshots: lane(true) });
  }

  /** Forgets a peer, dropping what is queued for it. */
  async removePeer(peer: NodeId): Promise<void> {
    const lanes = this.#peers.get(peer);
    if (!lanes) return;
    this.#peers.delete(peer);
    await Promise.all([lanes.messages.close(), lanes.snapshots.close()]);
  }

  /** Queues `messages` for their receivers and starts sending; never blocks. */
  send(messages: readonly Message[]): void {
    const touched = new Set<Lane>();
    for (const message of messages) {
      const lanes = this.#closed ? undefined : this.#peers.get(message.to);
      if (!lanes) {
        this.reportDropped({
          peer: message.to,
          count: 1,
          reason: this.#closed ? "closed" : "unknown_peer",
          snapshot: message.type === "snapshot",
        });
        continue;
      }
      const lane = message.type === "snapshot" ? lanes.snapshots : lanes.messages;
      lane.enqueue(message);
      touched.add(lane);
    }
    for (const lane of touched) lane.pump();
  }

  /** Counters for `peer`, or `undefined` if it is not a peer. */
  stats(peer: NodeId): PeerStats | undefined {
    const lanes = this.#peers.get(peer);
    if (!lanes) return undefined;
    const { messages, snapshots } = lanes;
    return {
      queuedMessages: messages.queued,
      queuedSnapshotChunks: snapshots.queued,
      sentBatches: messages.sentBatches + snapshots.sentBatches,
      sentMessages: messages.sentMessages + snapshots.sentMessages,
      droppedMessages: messages.droppedMessages + snapshots.droppedMessages,
      failedRequests: messages.failedRequests + snapshots.failedRequests,
    };
  }

  /** Closes every connection; queued messages are dropped (reported as `closed`). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const lanes = [...this.#peers.values()].flatMap((peer) => [peer.messages, peer.snapshots]);
    await Promise.all(lanes.map((lane) => lane.close()));
  }

  /** @internal Called by lanes. */
  reportDropped(event: DropEvent): void {
    this.#onDropped?.(event);
  }

  /** @internal Called by lanes: whether the test hook cuts `peer` off. */
  peerBlocked(peer: NodeId): boolean {
    return this.#peerBlocked?.(peer) ?? false;
  }

  /** @internal Called by lanes. */
  reportUnreachable(peer: NodeId): void {
    this.#onUnreachable?.(peer);
  }
}
