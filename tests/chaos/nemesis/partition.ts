/**
 * Network partitions between nodes through the nodes' test fault hook
 * (`STROM_TEST_FAULTS=1`, `PUT /internal/test/net-faults` with the cluster
 * secret): this machine has neither iptables nor nft, and the nodes listen on
 * 127.0.0.1, so packet filtering or namespaces cannot separate them. Each
 * side is told to drop the other, so a cut is symmetric; client listeners
 * are never cut.
 *
 * Variants: `isolate` (one node from all others), `minority` (the smallest
 * minority from the rest; for 3 nodes the same as isolate), and
 * `leader-controller` (a partition leader from the active controller only,
 * while clients still reach it).
 *
 * @module
 */

import { SECRET_HEADER } from "../../../broker/security/cluster_secret.ts";
import { NET_FAULTS_PATH } from "../../../broker/fault_injection/mod.ts";
import {
  type ChaosContext,
  controllerId,
  partitionsOf,
  pick,
  QUERY_TIMEOUT_MS,
  sleep,
} from "../cluster_view.ts";
import type { FaultEvent, FaultSlot } from "./fault.ts";

/** What the report says made the partitions. */
export const PARTITION_MECHANISM =
  "transport fault hook (STROM_TEST_FAULTS=1, PUT /internal/test/net-faults): no iptables/nft here and nodes share 127.0.0.1";

/** Shortest and longest cut; longer than the session timeout so fencing happens. */
export const PARTITION_HOLD_MS_MIN = 1_800;
export const PARTITION_HOLD_MS_MAX = 3_000;
/** Tries to deliver one node's blocked set. */
const SET_ATTEMPTS_MAX = 20;

/** Tells node `id` which peers it cannot reach; retries (bounded) while it does not answer. */
export async function setBlocked(ctx: ChaosContext, id: number, peers: number[]): Promise<boolean> {
  const body = JSON.stringify({
    peers: peers.map((p) => ({ id: p, internalUrl: ctx.nodes.node(p).internalUrl })),
  });
  for (let attempt = 0; attempt < SET_ATTEMPTS_MAX; attempt++) {
    if (!ctx.nodes.alive(id)) return false;
    try {
      const res = await fetch(`${ctx.nodes.node(id).internalUrl}${NET_FAULTS_PATH}`, {
        method: "PUT",
        headers: { "content-type": "application/json", [SECRET_HEADER]: ctx.secret },
        body,
        signal: AbortSignal.timeout(QUERY_TIMEOUT_MS),
      });
      await res.body?.cancel();
      if (res.ok) return true;
    } catch { /* not up yet: retry */ }
    await sleep(100);
  }
  return false;
}

/** Cuts every pair (a, b) with a in `side` and b outside it. */
async function cut(ctx: ChaosContext, side: readonly number[]): Promise<void> {
  const other = ctx.nodes.ids.filter((id) => !side.includes(id));
  await Promise.all([
    ...side.map((id) => setBlocked(ctx, id, other)),
    ...other.map((id) => setBlocked(ctx, id, [...side])),
  ]);
}

/** Heals every cut on every live node. */
export async function healNetwork(ctx: ChaosContext): Promise<void> {
  await Promise.all(ctx.nodes.ids.map((id) => setBlocked(ctx, id, [])));
}

/** Makes one partition, holds it, heals it. */
export async function injectPartition(ctx: ChaosContext, slot: FaultSlot): Promise<FaultEvent> {
  const { prng } = slot;
  const ids = ctx.nodes.ids.filter((id) => ctx.nodes.alive(id));
  const variants = ["isolate", "minority", "leader-controller"] as const;
  let variant: (typeof variants)[number] = pick(variants, prng.nextUint32());
  const draw = prng.nextUint32();
  const holdMs = PARTITION_HOLD_MS_MIN +
    prng.nextInt(PARTITION_HOLD_MS_MAX - PARTITION_HOLD_MS_MIN);
  let hit: number[] = [];
  const atMs = Date.now();
  if (variant === "leader-controller") {
    const controller = await controllerId(ctx);
    const leaders = (await partitionsOf(ctx)).map((p) => p.leader)
      .filter((l) => l >= 0 && l !== controller && ids.includes(l));
    if (controller === undefined || leaders.length === 0) {
      variant = "isolate";
    } else {
      const leader = pick(leaders, draw);
      hit = [leader, controller];
      await Promise.all([
        setBlocked(ctx, leader, [controller]),
        setBlocked(ctx, controller, [leader]),
      ]);
    }
  }
  if (variant === "isolate") {
    hit = [pick(ids, draw)];
    await cut(ctx, hit);
  } else if (variant === "minority") {
    const size = Math.max(1, Math.floor((ctx.nodes.ids.length - 1) / 2));
    const shuffled = [...ids];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = prng.nextInt(i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
    }
    hit = shuffled.slice(0, size);
    await cut(ctx, hit);
  }
  try {
    await sleep(holdMs);
  } finally {
    await healNetwork(ctx);
  }
  return {
    kind: "partition",
    index: slot.index,
    atMs: atMs - slot.runStartMs,
    variant,
    nodes: hit,
    heldMs: Date.now() - atMs,
  };
}
