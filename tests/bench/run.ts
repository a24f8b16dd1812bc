/**
 * One bench run from options to report: start (or attach to) the cluster,
 * create the topic, sample the brokers while the scenario runs, stop what
 * was started.
 *
 * @module
 */

import process from "node:process";
import { Strom } from "../../client/mod.ts";
import { BenchCluster } from "./bench_cluster.ts";
import { BrokerSampler } from "./broker_sampler.ts";
import { benchConsume } from "./consume.ts";
import { benchE2e } from "./e2e.ts";
import { benchFailover } from "./failover.ts";
import { LatencyRecorder } from "./latency.ts";
import type { BenchOptions } from "./options.ts";
import { benchProduce } from "./produce.ts";
import type { BenchResult, ScenarioResult } from "./result.ts";
import { ensureTopic } from "./topic.ts";
import type { TopicReady } from "./topic.ts";

/** Runs one benchmark; a cluster is started and stopped unless `--brokers`/`--manifest` name one. */
export async function runBench(o: BenchOptions): Promise<BenchResult> {
  const cluster = o.brokers || o.manifestPath
    ? await BenchCluster.attach(o.brokers, o.manifestPath)
    : await BenchCluster.launch(o.nodes);
  try {
    const strom = new Strom({ brokers: [...cluster.urls] });
    let topicReady;
    try {
      // Every replica open and every leader leading before anything is timed: a partition whose
      // followers are still opening holds acks=all writes until they fetch.
      topicReady = await ensureTopic(strom.admin(), {
        name: o.topic,
        partitions: o.partitions,
        replicationFactor: o.replicationFactor,
        configs: { "min.insync.replicas": String(o.minInsyncReplicas), ...o.topicConfigs },
      }, cluster.urls);
    } finally {
      await strom.close();
    }
    const sampler = new BrokerSampler(cluster.pids);
    sampler.start();
    let scenario: ScenarioResult;
    const cpuBefore = process.cpuUsage();
    const wallBeforeMs = performance.now();
    try {
      scenario = await runScenario(cluster, sampler, o, topicReady);
    } catch (e) {
      sampler.stop();
      throw e;
    }
    const usage = sampler.stop();
    const cpu = process.cpuUsage(cpuBefore);
    // The bench's own process shares the machine with the brokers: its CPU is part of the cost.
    const benchCpuPercent = Math.round(
      (cpu.user + cpu.system) / 1000 / Math.max(1, performance.now() - wallBeforeMs) * 1000,
    ) / 10;
    return { command: o.command, config: configOf(o), ...scenario, ...usage, benchCpuPercent };
  } finally {
    await cluster.stop();
  }
}

function runScenario(
  cluster: BenchCluster,
  sampler: BrokerSampler,
  o: BenchOptions,
  topicReady: TopicReady,
): Promise<ScenarioResult> {
  switch (o.command) {
    case "produce":
      return benchProduce(cluster.urls, o);
    case "consume":
      return benchConsume(cluster.urls, o);
    case "e2e":
      return benchE2e(cluster.urls, o);
    case "failover":
      return benchFailover(cluster, sampler, o);
    case "create":
      return Promise.resolve(createResult(topicReady));
  }
}

/** `bench create` reports the topic creation it already did. */
function createResult(t: TopicReady): ScenarioResult {
  const latency = new LatencyRecorder();
  latency.recordMs(t.leadersMs);
  const summary = latency.summary();
  latency.destroy();
  return {
    records: t.partitions,
    elapsedMs: t.leadersMs,
    recordsPerSec: Math.round(t.partitions / Math.max(1e-6, t.leadersMs / 1000)),
    mbPerSec: 0,
    latencyMs: summary,
    failed: t.created ? 0 : 1,
    ...(t.created ? {} : { firstError: "the topic existed already" }),
    extra: {
      createMs: Math.round(t.createMs),
      allLeadersMs: Math.round(t.leadersMs),
      // Every replica open on its broker and every leader leading: the topic is usable.
      allReplicasReadyMs: Math.round(t.replicasReadyMs ?? NaN),
    },
  };
}

function configOf(o: BenchOptions): Record<string, unknown> {
  return {
    topic: o.topic,
    records: o.records,
    recordSizeBytes: o.recordSizeBytes,
    partitions: o.partitions,
    replicationFactor: o.replicationFactor,
    minInsyncReplicas: o.minInsyncReplicas,
    acks: o.acks,
    compression: o.compression,
    batchBytes: o.batchBytes,
    lingerMs: o.lingerMs,
    producers: o.producers,
    inFlightRecordsMax: o.inFlightRecordsMax,
    warmupSecs: o.warmupSecs,
    throughputRecordsPerSec: o.throughputRecordsPerSec,
    idempotence: o.idempotence,
    topicConfigs: o.topicConfigs,
  };
}
