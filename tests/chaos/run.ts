/**
 * One chaos run, start to finish: launch a cluster (fault hook on), create
 * the workload's topic, run the workload while the nemesis injects faults
 * from the seeded schedule, heal, let consumers catch up during the recovery
 * window, read every partition back, check, report. Everything started is
 * stopped in `finally`, also when the run is aborted (Ctrl-C).
 *
 * @module
 */

import { Strom } from "@strom/client";
import { createPrng } from "@strom/raft";
import { readSecretFile } from "../../broker/security/cluster_secret.ts";
import { launchCluster } from "../_harness/launcher.ts";
import { type AdminCheckResult, type AdminOp, checkAdminOps } from "./admin_checker.ts";
import { adminOperations, readAdminFinalViews } from "./admin_ops.ts";
import { checkHistory } from "./checker.ts";
import { type ChaosContext, sleep, waitHealthy } from "./cluster_view.ts";
import { failoverSamples } from "./failover.ts";
import type { History } from "./history.ts";
import { LeaderTermSampler } from "./leader_terms.ts";
import { injectCorrupt, recheckDetections } from "./nemesis/corrupt.ts";
import type { FaultEvent, FaultSlot } from "./nemesis/fault.ts";
import { injectKill } from "./nemesis/kill.ts";
import { healNetwork, injectPartition, PARTITION_MECHANISM } from "./nemesis/partition.ts";
import { injectPause } from "./nemesis/pause.ts";
import { injectWipe } from "./nemesis/wipe.ts";
import { ChaosNodes } from "./nodes.ts";
import type { ChaosOptions, FaultKind } from "./options.ts";
import { checkReplicasIdentical } from "./replica_check.ts";
import { buildReport, type ChaosReport, type ExtraCheck } from "./report.ts";
import { FaultSchedule } from "./schedule.ts";
import { CLIENT_OPTIONS, finalRead, Workload } from "./workload.ts";

/** The workload's topic. */
export const CHAOS_TOPIC = "chaos";
/** How long the nemesis waits for a healthy cluster (all ready, ISRs full) after each fault. */
export const HEAL_WAIT_MS = 20_000;
/** How long the final heal may take before the run checks anyway. */
export const FINAL_HEAL_MS = 60_000;
/** Most time the final read may take. */
export const FINAL_READ_MS = 60_000;

const INJECT: Record<FaultKind, (ctx: ChaosContext, slot: FaultSlot) => Promise<FaultEvent>> = {
  kill: injectKill,
  pause: injectPause,
  partition: injectPartition,
  corrupt: injectCorrupt,
  wipe: injectWipe,
};

/** The report plus what a caller may want to save. */
export interface ChaosResult {
  readonly report: ChaosReport;
  readonly history: History;
  readonly adminOps: readonly AdminOp[];
}

/** Runs the whole chaos test; `signal` aborts the fault phase early (then heals and checks). */
export async function runChaos(
  options: ChaosOptions,
  log: (line: string) => void,
  signal?: AbortSignal,
): Promise<ChaosResult> {
  const env = { STROM_TEST_FAULTS: "1" };
  const runStartMs = Date.now();
  const cluster = await launchCluster({ nodes: options.nodes, env });
  const nodes = new ChaosNodes(cluster, env);
  const adminClient = new Strom({ brokers: nodes.clientUrls, ...CLIENT_OPTIONS });
  const admin = adminClient.admin();
  const secret = await readSecretFile(cluster.manifest.secretFile);
  const ctx: ChaosContext = {
    nodes,
    admin,
    topic: CHAOS_TOPIC,
    secret,
    sessionTimeoutMs: await sessionTimeoutMs(cluster.manifest.nodes[0].configFile),
    log,
  };
  const workload = new Workload(
    nodes.clientUrls,
    CHAOS_TOPIC,
    options.partitions,
    options.producers,
  );
  const sampler = new LeaderTermSampler(nodes, secret);
  const events: FaultEvent[] = [];
  const adminOps: AdminOp[] = [];
  const stopAdmin = new AbortController();
  let progress: ReturnType<typeof setInterval> | undefined;
  let adminLoop: Promise<void> | undefined;
  try {
    log(`chaos: seed ${options.seed}, ${options.nodes} nodes at ${nodes.clientUrls.join(" ")}`);
    await admin.createTopic({
      name: CHAOS_TOPIC,
      partitions: options.partitions,
      replicationFactor: 3,
      configs: { "min.insync.replicas": "2" },
    });
    if (!(await waitHealthy(ctx, HEAL_WAIT_MS))) throw new Error("the topic never became healthy");
    workload.start();
    sampler.start();
    const faultsStartMs = Date.now();
    const counts = (): Record<string, number> => countFaults(events);
    if (options.progressEveryMs > 0) {
      progress = setInterval(() => {
        const t = workload.tally;
        const total = events.length;
        log(
          `chaos: ${((Date.now() - faultsStartMs) / 1000).toFixed(0)}s, ${total} faults ${
            JSON.stringify(counts())
          }, writes acked ${t.acked} failed ${t.failed} unknown ${t.unknown}, polled ${t.polled}, group polled ${t.groupPolled}, commits seen ${t.committedSeen}`,
        );
      }, options.progressEveryMs);
    }
    adminLoop = adminOperations(nodes.clientUrls, stopAdmin.signal, adminOps, runStartMs);
    const schedule = new FaultSchedule(options.seed, options.faults);
    const hardEndMs = faultsStartMs + 2 * options.durationMs;
    while (!signal?.aborted) {
      const now = Date.now();
      const durationOver = now >= faultsStartMs + options.durationMs;
      if ((durationOver && events.length >= options.faultsMin) || now >= hardEndMs) break;
      const planned = schedule.next();
      await sleep(planned.gapMs);
      const slot = { index: planned.index, prng: createPrng(planned.faultSeed), runStartMs };
      const event = await INJECT[planned.kind](ctx, slot);
      events.push(event);
      log(
        `chaos: fault ${event.index} ${event.kind}/${event.variant} on ${
          event.nodes.join(",") || "-"
        } held ${event.heldMs} ms${event.violation ? ` VIOLATION: ${event.violation}` : ""}`,
      );
      if (!(await waitHealthy(ctx, HEAL_WAIT_MS))) {
        log(`chaos: cluster not fully healthy ${HEAL_WAIT_MS} ms after fault ${event.index}`);
      }
    }
    stopAdmin.abort();
    await adminLoop;
    // Heal everything: resume, reconnect, restart what is down.
    for (const id of nodes.ids) {
      nodes.resume(id);
      if (!nodes.alive(id)) nodes.restart(id);
    }
    await healNetwork(ctx);
    const healed = await waitHealthy(ctx, FINAL_HEAL_MS);
    log(`chaos: healed${healed ? "" : " (NOT all ISRs full)"}; stopping producers`);
    await workload.stopProducing();
    await waitForConsumer(workload, options.recoveryMs);
    await workload.stopConsuming();
    clearInterval(progress);
    await sampler.stop();
    return await finish({ options, ctx, workload, events, adminOps, sampler, runStartMs, healed });
  } finally {
    clearInterval(progress);
    stopAdmin.abort();
    await adminLoop;
    await workload.stop().catch(() => {});
    await sampler.stop();
    await adminClient.close();
    await nodes.cleanup();
    await cluster.cleanup();
  }
}

async function finish(run: {
  options: ChaosOptions;
  ctx: ChaosContext;
  workload: Workload;
  events: FaultEvent[];
  adminOps: AdminOp[];
  sampler: LeaderTermSampler;
  runStartMs: number;
  healed: boolean;
}): Promise<ChaosResult> {
  const { ctx, workload } = run;
  const events = recheckDetections(ctx.nodes, ctx.topic, run.events);
  const call = { signal: AbortSignal.timeout(FINAL_READ_MS) };
  const starts = await ctx.admin.listOffsets(CHAOS_TOPIC, "earliest", call);
  const ends = await ctx.admin.listOffsets(CHAOS_TOPIC, "latest", call);
  const finalReads = await finalRead(
    ctx.nodes.clientUrls,
    CHAOS_TOPIC,
    ends.map((end) => ({
      partition: end.partition,
      logStartOffset: starts.find((s) => s.partition === end.partition)?.offset ?? 0,
      highWatermark: end.offset ?? 0,
    })),
    FINAL_READ_MS,
  );
  const history: History = { ops: workload.ops, finalReads };
  const result = checkHistory(history, { unseenCutoffMs: workload.producedUntilMs });
  const nodeUrls = new Map(ctx.nodes.ids.map((id) => [id, ctx.nodes.node(id).clientUrl]));
  const adminViews = await readAdminFinalViews(nodeUrls);
  const admin: AdminCheckResult = checkAdminOps(run.adminOps, adminViews.views);
  const undetected = events.filter((e) => e.kind === "corrupt" && e.detected === false);
  const extraChecks: ExtraCheck[] = [
    await checkReplicasIdentical(nodeUrls, CHAOS_TOPIC),
    run.sampler.check(),
    {
      name: "fault checks failed",
      violations: events.filter((e) => e.violation).length,
      examples: events.filter((e) => e.violation).map((e) => `fault ${e.index}: ${e.violation}`),
    },
    {
      name: "nodes not answering the final topic list",
      violations: adminViews.unanswered.length,
      examples: adminViews.unanswered.map((id) => `node ${id} did not answer GET /v1/topics`),
    },
    {
      name: "corruptions not detected by the node",
      violations: undetected.length,
      examples: undetected.map((e) =>
        `fault ${e.index}: node ${e.nodes.join(",")} ${e.variant} ${JSON.stringify(e.detail)}`
      ),
    },
    {
      name: "not healed after the run",
      violations: run.healed ? 0 : 1,
      examples: run.healed ? [] : ["some partition's ISR was not full after the final heal"],
    },
  ];
  const report = buildReport(result, {
    seed: run.options.seed,
    durationMs: Date.now() - run.runStartMs,
    faults: countFaults(events),
    faultSchedule: events,
    partitionMechanism: run.options.faults.includes("partition") ? PARTITION_MECHANISM : undefined,
    failoverMs: failoverSamples(events, workload.ops, CHAOS_TOPIC),
    extraChecks,
    admin,
    adminHistory: run.adminOps,
    corruptions: {
      detected: events.filter((e) => e.kind === "corrupt" && e.detected === true).length,
      undetected: undetected.length,
    },
  });
  return { report, history, adminOps: run.adminOps };
}

function countFaults(events: readonly FaultEvent[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const e of events) counts[e.kind] = (counts[e.kind] ?? 0) + 1;
  return counts;
}

/** Waits until the consumer polled every acknowledged value, at most `recoveryMs`. */
async function waitForConsumer(workload: Workload, recoveryMs: number): Promise<void> {
  const deadline = Date.now() + recoveryMs;
  while (Date.now() < deadline) {
    if (workload.ackedUnpolled === 0) return;
    await sleep(200);
  }
}

async function sessionTimeoutMs(configFile: string): Promise<number> {
  try {
    const config = JSON.parse(await Deno.readTextFile(configFile));
    return Number(config?.timeouts?.sessionTimeoutMs) || 1_500;
  } catch {
    return 1_500;
  }
}
