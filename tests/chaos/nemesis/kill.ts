/**
 * SIGKILL of a partition leader or of the active controller, restarted after
 * a random delay with the manifest's command.
 *
 * @module
 */

import { type ChaosContext, controllerId, partitionsOf, pick, sleep } from "../cluster_view.ts";
import type { FaultEvent, FaultSlot } from "./fault.ts";

/** Shortest and longest time a killed node stays down. */
export const KILL_DOWN_MS_MIN = 100;
export const KILL_DOWN_MS_MAX = 1_500;

/** Kills a leader (even draws) or the controller (odd draws), then restarts it. */
export async function injectKill(ctx: ChaosContext, slot: FaultSlot): Promise<FaultEvent> {
  const { prng } = slot;
  const partitions = await partitionsOf(ctx);
  const wantController = prng.nextInt(2) === 1;
  let victim = wantController ? await controllerId(ctx) : undefined;
  let variant = "controller";
  if (victim === undefined || !ctx.nodes.alive(victim)) {
    variant = "partition-leader";
    const led = partitions.filter((p) => p.leader >= 0 && ctx.nodes.alive(p.leader));
    victim = led.length > 0
      ? pick(led, prng.nextUint32()).leader
      : pick(ctx.nodes.ids.filter((id) => ctx.nodes.alive(id)), prng.nextUint32());
  }
  const ledPartitions = partitions.filter((p) => p.leader === victim).map((p) => p.partition);
  const downMs = KILL_DOWN_MS_MIN + prng.nextInt(KILL_DOWN_MS_MAX - KILL_DOWN_MS_MIN);
  const atMs = Date.now();
  await ctx.nodes.kill(victim);
  await sleep(downMs);
  ctx.nodes.restart(victim);
  return {
    kind: "kill",
    index: slot.index,
    atMs: atMs - slot.runStartMs,
    variant,
    nodes: [victim],
    heldMs: Date.now() - atMs,
    ledPartitions,
    killedAtMs: atMs,
  };
}
