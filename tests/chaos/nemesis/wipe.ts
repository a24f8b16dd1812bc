/**
 * A voter's data dir wiped while it is stopped. Started again as it was, it
 * must be refused (it would otherwise vote with a blank memory); the run
 * then re-adds it with the documented procedure — remove the old voter by
 * its directory id, restart the node (it joins as an observer), add it back
 * as a voter — so the rest of the run has its full quorum again.
 *
 * @module
 */

import { requestJson } from "../../_harness/http.ts";
import { type ChaosContext, controllerId, pick, ready, sleep } from "../cluster_view.ts";
import type { FaultEvent, FaultSlot } from "./fault.ts";

/** The most each restore step waits. */
export const WIPE_STEP_TIMEOUT_MS = 30_000;

interface Member {
  readonly id: number;
  readonly directoryId: string | null;
  readonly lag: number | null;
}

async function quorumFrom(ctx: ChaosContext, exclude: number) {
  for (const id of ctx.nodes.ids) {
    if (id === exclude || !ctx.nodes.alive(id)) continue;
    const q = await requestJson(`${ctx.nodes.node(id).clientUrl}/v1/quorum`, { timeoutMs: 2_000 });
    if (q.status === 200) {
      return {
        url: ctx.nodes.node(id).clientUrl,
        ...(q.body as { voters: Member[]; observers: Member[] }),
      };
    }
  }
  return undefined;
}

/** Retries `step` (bounded) until it returns true. */
async function until(step: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + WIPE_STEP_TIMEOUT_MS;
  while (!(await step())) {
    if (Date.now() > deadline) throw new Error(`wipe: timed out waiting for ${what}`);
    await sleep(250);
  }
}

/** Wipes a non-controller voter, checks the refusal, and re-adds it. */
export async function injectWipe(ctx: ChaosContext, slot: FaultSlot): Promise<FaultEvent> {
  const atMs = Date.now();
  const controller = await controllerId(ctx);
  const candidates = ctx.nodes.ids.filter((id) => id !== controller && ctx.nodes.alive(id));
  const victim = pick(candidates, slot.prng.nextUint32());
  const before = await quorumFrom(ctx, victim);
  const oldDir = before?.voters.find((v) => v.id === victim)?.directoryId;
  if (!before || !oldDir) throw new Error(`wipe: no quorum view with voter ${victim}`);
  await ctx.nodes.kill(victim);
  await Deno.remove(ctx.nodes.node(victim).dataDir, { recursive: true });
  const refused = await ctx.nodes.runToExit(victim);
  const wasRefused = !refused.timedOut && refused.code !== 0 &&
    /wiped or replaced/.test(refused.output);
  const violation = wasRefused
    ? undefined
    : `wiped voter ${victim} was not refused (exit ${
      refused.timedOut ? "none: still running after the timeout" : refused.code
    }): ${refused.output.split("\n").slice(-5).join(" | ")}`;
  // The operator's procedure, as the refusal message spells it out.
  await until(async () => {
    const q = await quorumFrom(ctx, victim);
    if (q && !q.voters.some((v) => v.id === victim)) return true;
    const url = q?.url ?? before.url;
    const res = await requestJson(
      `${url}/v1/quorum/voters/${victim}?directoryId=${encodeURIComponent(oldDir)}`,
      { method: "DELETE", timeoutMs: 5_000 },
    );
    return res.status >= 200 && res.status < 300;
  }, `voter ${victim} removed`);
  ctx.nodes.restart(victim);
  await until(async () => {
    const o = (await quorumFrom(ctx, victim))?.observers.find((m) => m.id === victim);
    return o !== undefined && o.lag === 0;
  }, `node ${victim} caught up as an observer`);
  await until(async () => {
    const q = await quorumFrom(ctx, victim);
    if (q?.voters.some((v) => v.id === victim)) return true;
    if (!q) return false;
    const res = await requestJson(`${q.url}/v1/quorum/voters`, {
      body: { id: victim },
      timeoutMs: 5_000,
    });
    return res.status >= 200 && res.status < 300;
  }, `node ${victim} added back as a voter`);
  await until(() => ready(ctx, victim), `node ${victim} ready`);
  return {
    kind: "wipe",
    index: slot.index,
    atMs: atMs - slot.runStartMs,
    variant: "refused-then-re-added",
    nodes: [victim],
    heldMs: Date.now() - atMs,
    detail: { oldDirectoryId: oldDir, refusedExitCode: refused.code },
    ...(violation ? { violation } : {}),
  };
}
