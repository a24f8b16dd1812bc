/**
 * SIGSTOP of a partition leader for longer than the broker session timeout,
 * then SIGCONT: the frozen node is fenced meanwhile and must not acknowledge
 * anything it appended after losing its leadership.
 *
 * @module
 */

import { type ChaosContext, partitionsOf, pick, sleep } from "../cluster_view.ts";
import type { FaultEvent, FaultSlot } from "./fault.ts";

/** How much longer than the session timeout a pause lasts, at least and at most. */
export const PAUSE_EXTRA_MS_MIN = 300;
export const PAUSE_EXTRA_MS_MAX = 1_500;

/** Pauses the leader of a random partition (or a random node). */
export async function injectPause(ctx: ChaosContext, slot: FaultSlot): Promise<FaultEvent> {
  const { prng } = slot;
  const led = (await partitionsOf(ctx)).filter((p) => p.leader >= 0 && ctx.nodes.alive(p.leader));
  const victim = led.length > 0
    ? pick(led, prng.nextUint32()).leader
    : pick(ctx.nodes.ids.filter((id) => ctx.nodes.alive(id)), prng.nextUint32());
  const holdMs = ctx.sessionTimeoutMs + PAUSE_EXTRA_MS_MIN +
    prng.nextInt(PAUSE_EXTRA_MS_MAX - PAUSE_EXTRA_MS_MIN);
  const atMs = Date.now();
  ctx.nodes.pause(victim);
  try {
    await sleep(holdMs);
  } finally {
    ctx.nodes.resume(victim);
  }
  return {
    kind: "pause",
    index: slot.index,
    atMs: atMs - slot.runStartMs,
    variant: "leader",
    nodes: [victim],
    heldMs: Date.now() - atMs,
  };
}
