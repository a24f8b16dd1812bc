/**
 * `bench failover`: under a steady acks=all load, SIGKILL the leader of
 * partition 0, time until the first write sent after the kill is
 * acknowledged, restart the node from the manifest, wait until the ISR is
 * whole again, and repeat. Needs a cluster the bench can kill and restart
 * (one it started, or `--manifest`).
 *
 * A kill lands on a healthy cluster: with `--preload-partitions`, every
 * preloaded partition must have its whole ISR back too (no under-replicated
 * partition, what an operator checks before taking a broker down). Without
 * that, a kill came while the restarted node was still catching up 3,333
 * partitions and the controller still committing their ISR expansions
 * (2-3 s after each restart), and measured that recovery, not a failover.
 * How long that takes after each restart is reported as `preload.settleMs`.
 *
 * Each kill is also reported by kind: a leader that was also the active
 * controller (every node is a combined broker and controller) is replaced
 * only after a Raft election and a full broker session timeout counted from
 * the new controller's start, so such kills took 0.5–1.5 s longer in our
 * runs. Which kind a kill is depends on where the controller happens to be,
 * so the two kinds get medians of their own: runs compare like with like.
 *
 * @module
 */

import type { Admin } from "../../client/mod.ts";
import { Strom } from "../../client/mod.ts";
import type { BenchCluster } from "./bench_cluster.ts";
import type { BrokerSampler } from "./broker_sampler.ts";
import { LatencyRecorder, round3 } from "./latency.ts";
import type { Ack } from "./load.ts";
import { runLoad } from "./load.ts";
import type { BenchOptions } from "./options.ts";
import { Progress } from "./progress.ts";
import type { ScenarioResult } from "./result.ts";
import { rates } from "./result.ts";
import { ensureTopic } from "./topic.ts";
// Nearest-rank: the median is a measured kill, the lower middle one for an even count.
import { percentile } from "../chaos/report.ts";

/** The load during failover when `--throughput` is not given. */
const FAILOVER_RATE_DEFAULT_PER_SEC = 2_000;
/** Longest wait for a write to be acknowledged after a kill. */
const RECOVERY_WAIT_MS_MAX = 60_000;
/** Longest wait for the restarted node to rejoin the ISR (of every preloaded partition too). */
const ISR_WAIT_MS_MAX = 90_000;
/** How often the preload topic (up to 10,000+ partitions) is described while waiting. */
const PRELOAD_POLL_MS = 250;
/** Steady acknowledged load before each kill. */
const STEADY_MS = 1_000;
const POLL_MS = 50;

/** Kills `o.kills` leaders in turn and reports time to the next acknowledged write. */
export async function benchFailover(
  cluster: BenchCluster,
  sampler: BrokerSampler,
  o: BenchOptions,
): Promise<ScenarioResult> {
  if (!cluster.controllable) {
    throw new Error(
      "failover needs a cluster it can restart: let the bench start one, or pass --manifest",
    );
  }
  const strom = new Strom({ brokers: [...cluster.urls] });
  const latency = new LatencyRecorder();
  const abort = new AbortController();
  const extra: Record<string, unknown> = {};
  let lastAck: Ack | undefined;
  let ackWaiter: ((a: Ack) => void) | undefined;
  let load: ReturnType<typeof runLoad> | undefined;
  let preloadTopic: string | undefined;
  try {
    const admin = strom.admin();
    if (o.preloadPartitions > 0) {
      // Kills start once every preload replica is open: failover with 10,000 partitions
      // present, not during their creation.
      preloadTopic = `${o.topic}-preload`;
      const big = await ensureTopic(admin, {
        name: preloadTopic,
        partitions: o.preloadPartitions,
        replicationFactor: o.replicationFactor,
        configs: { "min.insync.replicas": String(o.minInsyncReplicas) },
      }, cluster.urls);
      extra.preload = {
        partitions: big.partitions,
        createMs: Math.round(big.createMs),
        allLeadersMs: Math.round(big.leadersMs),
        allReplicasReadyMs: Math.round(big.replicasReadyMs ?? NaN),
      };
    }
    const rate = o.throughputRecordsPerSec || FAILOVER_RATE_DEFAULT_PER_SEC;
    load = runLoad({
      urls: cluster.urls,
      options: { ...o, inFlightRecordsMax: Math.min(o.inFlightRecordsMax, 1_000) },
      recordsPerProducer: Infinity,
      ratePerSec: rate,
      signal: abort.signal,
      onAck: (a) => {
        if (a.error !== undefined) return;
        latency.recordMs(a.ackedMs - a.sentMs);
        lastAck = a;
        ackWaiter?.(a);
      },
    });
    const progress = new Progress({ label: "failover", total: o.kills, enabled: o.progress });
    /** Each kill: time to the next acknowledged write, and whether it hit the controller too. */
    const kills: { ms: number; controllerToo: boolean }[] = [];
    /** Per restart: until the preload topic had no under-replicated partition again. */
    const settleMs: number[] = [];
    let restartedMs: number | undefined;
    for (let k = 0; k < o.kills; k++) {
      const preload = preloadTopic;
      if (preload !== undefined) {
        await waitUntil(
          () => wholeIsrs(admin, preload, o),
          ISR_WAIT_MS_MAX,
          "whole ISRs on the preload topic",
          PRELOAD_POLL_MS,
        );
        if (restartedMs !== undefined) settleMs.push(Math.round(performance.now() - restartedMs));
      }
      const leader = await waitForWholeIsr(admin, o);
      await waitUntil(
        () => lastAck !== undefined && performance.now() - lastAck.ackedMs < 100,
        30_000,
        "steady acks",
      );
      await new Promise((r) => setTimeout(r, STEADY_MS));
      const controller = (await admin.describeCluster()).controller?.id;
      const killedMs = performance.now();
      cluster.kill(leader);
      const recovered = await new Promise<Ack | undefined>((resolve) => {
        const timer = setTimeout(() => resolve(undefined), RECOVERY_WAIT_MS_MAX);
        ackWaiter = (a) => {
          if (a.sentMs <= killedMs) return;
          clearTimeout(timer);
          ackWaiter = undefined;
          resolve(a);
        };
      });
      if (!recovered) {
        throw new Error(
          `no write acknowledged ${RECOVERY_WAIT_MS_MAX} ms after killing node ${leader}`,
        );
      }
      kills.push({
        ms: round3(recovered.ackedMs - killedMs),
        controllerToo: leader === controller,
      });
      sampler.setPid(leader, cluster.restart(leader));
      restartedMs = performance.now();
      progress.update(k + 1);
    }
    progress.finish();
    abort.abort();
    const totals = await load;
    load = undefined;
    const failoverMs = kills.map((k) => k.ms);
    const leaderOnlyMs = kills.filter((k) => !k.controllerToo).map((k) => k.ms);
    const controllerTooMs = kills.filter((k) => k.controllerToo).map((k) => k.ms);
    return {
      records: totals.acked,
      elapsedMs: totals.elapsedMs,
      ...rates(totals.acked, o.recordSizeBytes, totals.elapsedMs),
      latencyMs: latency.summary(),
      failed: totals.failed,
      ...(totals.firstError ? { firstError: totals.firstError } : {}),
      extra: {
        ...extra,
        ...(extra.preload ? { preload: { ...extra.preload, settleMs } } : {}),
        failoverMs,
        failoverMsMedian: percentile(failoverMs, 50),
        failoverMsMax: Math.max(...failoverMs),
        leaderOnlyFailoverMs: leaderOnlyMs,
        leaderOnlyFailoverMsMedian: percentile(leaderOnlyMs, 50),
        controllerToo: { failoverMs: controllerTooMs, medianMs: percentile(controllerTooMs, 50) },
      },
    };
  } finally {
    abort.abort();
    await load?.catch(() => {});
    latency.destroy();
    await strom.close();
  }
}

/** Whether every partition of `topic` has a leader and a whole ISR. */
async function wholeIsrs(admin: Admin, topic: string, o: BenchOptions): Promise<boolean> {
  const { partitions } = await admin.describeTopic(topic);
  return partitions.every((p) => p.leader >= 0 && p.isr.length >= o.replicationFactor);
}

/** Waits until partition 0 has a leader and a full ISR; returns the leader. */
async function waitForWholeIsr(admin: Admin, o: BenchOptions): Promise<number> {
  let leader = -1;
  await waitUntil(
    async () => {
      const p = (await admin.describeTopic(o.topic)).partitions.find((x) => x.partition === 0);
      leader = p?.leader ?? -1;
      return leader >= 0 && (p?.isr.length ?? 0) >= o.replicationFactor;
    },
    ISR_WAIT_MS_MAX,
    "a whole ISR on partition 0",
  );
  return leader;
}

async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  pollMs = POLL_MS,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await Promise.resolve().then(check).catch(() => false))) {
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
