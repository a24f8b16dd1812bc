/**
 * Network partitions for chaos tests, without packet filtering: a node
 * started with `STROM_TEST_FAULTS=1` lets a test (holding the cluster
 * secret) tell it which peers it can no longer reach. Both inter-node
 * transports consult it before sending: the Raft transport fails the batch as
 * if the POST had failed, and the node's HTTP/2 client (controller RPCs,
 * quorum announcements) and the follower fetch client fail the request with
 * NETWORK_EXCEPTION after a short delay, as a dropped connection would.
 *
 * A partition is made symmetric by telling both sides; client traffic (client
 * listener URLs) is never blocked, so "a leader cut from the controller but
 * not from clients" is expressible. Without the environment variable nothing
 * of this is mounted and the node behaves exactly as in production.
 *
 * @module
 */

import type { Hono } from "hono";
import { H2Client, StromError } from "@strom/client";
import type { H2ClientOptions, H2Request, H2Response } from "@strom/client";
import { readJsonBody } from "../api/json_body.ts";

/** The environment variable that enables the hook; any other value than "1" leaves it off. */
export const TEST_FAULTS_ENV = "STROM_TEST_FAULTS";
/** Internal route (cluster secret required) that sets the blocked peers. */
export const NET_FAULTS_PATH = "/internal/test/net-faults";
/** Most peers one node may be told to block. */
export const BLOCKED_PEERS_MAX = 64;
/** How long a blocked request waits before failing, so retry loops do not spin. */
export const BLOCKED_REQUEST_DELAY_MS = 50;

/** A peer to cut off: its node id (Raft) and internal URL (everything else). */
export interface BlockedPeer {
  readonly id: number;
  readonly internalUrl: string;
}

/** Whether the hook is enabled for this process. */
export function testFaultsEnabled(): boolean {
  return Deno.env.get(TEST_FAULTS_ENV) === "1";
}

/** The peers this node currently cannot reach. Empty means a healthy network. */
export class NetFaults {
  #ids = new Set<number>();
  #origins = new Set<string>();

  /** Replaces the blocked set (an empty list heals). */
  set(peers: readonly BlockedPeer[]): void {
    if (peers.length > BLOCKED_PEERS_MAX) {
      throw new StromError("INVALID_REQUEST", `at most ${BLOCKED_PEERS_MAX} blocked peers`);
    }
    this.#ids = new Set(peers.map((p) => p.id));
    this.#origins = new Set(peers.map((p) => new URL(p.internalUrl).origin));
  }

  /** Ids currently blocked, sorted. */
  get blockedIds(): number[] {
    return [...this.#ids].sort((a, b) => a - b);
  }

  /** Whether Raft messages to `peer` must be dropped. */
  blocksId(peer: number): boolean {
    return this.#ids.has(peer);
  }

  /** Whether a request to `origin` must fail. */
  blocksOrigin(origin: string): boolean {
    if (this.#origins.size === 0) return false;
    try {
      return this.#origins.has(new URL(origin).origin);
    } catch {
      return false;
    }
  }
}

/** An {@link H2Client} whose requests to blocked peers fail like a lost connection. */
export class FaultyH2Client extends H2Client {
  constructor(readonly faults: NetFaults, options: H2ClientOptions = {}) {
    super(options);
  }

  override async request(origin: string, req: H2Request): Promise<H2Response> {
    await failIfBlocked(this.faults, origin);
    return await super.request(origin, req);
  }
}

/** Fails (after {@link BLOCKED_REQUEST_DELAY_MS}) when `faults` cut this node off from `origin`. */
export async function failIfBlocked(faults: NetFaults, origin: string): Promise<void> {
  if (!faults.blocksOrigin(origin)) return;
  await new Promise((resolve) => setTimeout(resolve, BLOCKED_REQUEST_DELAY_MS));
  throw new StromError("NETWORK_EXCEPTION", `${origin} is cut off by a test network fault`);
}

/** Parses the route's body: `{"peers": [{"id": 2, "internalUrl": "http://..."}]}`. */
export function parseBlockedPeers(body: unknown): BlockedPeer[] {
  const peers = (body as { peers?: unknown } | null)?.peers;
  if (!Array.isArray(peers)) {
    throw new StromError("INVALID_REQUEST", "body must be {peers: [{id, internalUrl}]}");
  }
  return peers.map((p, i) => {
    const { id, internalUrl } = (p ?? {}) as Record<string, unknown>;
    if (
      !Number.isSafeInteger(id) || typeof internalUrl !== "string" || !URL.canParse(internalUrl)
    ) {
      throw new StromError("INVALID_REQUEST", `peers[${i}] needs an integer id and a URL`);
    }
    return { id: id as number, internalUrl };
  });
}

/** Mounts `PUT /internal/test/net-faults` on the internal app (behind the secret check). */
export function mountNetFaultRoutes(app: Hono, faults: NetFaults): void {
  app.put(NET_FAULTS_PATH, async (c) => {
    faults.set(parseBlockedPeers(await readJsonBody(c.req.raw)));
    return c.json({ blocked: faults.blockedIds });
  });
  app.get(NET_FAULTS_PATH, (c) => c.json({ blocked: faults.blockedIds }));
}
