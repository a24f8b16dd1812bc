import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { launchCluster } from "../_harness/launcher.ts";
import { parseBenchArgs, UsageError } from "./options.ts";
import type { BenchResult } from "./result.ts";
import { runBench } from "./run.ts";

function assertShape(r: BenchResult, command: string): void {
  assertEquals(r.command, command);
  assert(r.recordsPerSec > 0, `recordsPerSec ${r.recordsPerSec}`);
  assert(r.elapsedMs > 0);
  for (const k of ["p50", "p95", "p99", "p999", "max"] as const) {
    assert(r.latencyMs[k] > 0, `latencyMs.${k} = ${r.latencyMs[k]}`);
  }
  assert(r.latencyMs.p50 <= r.latencyMs.p99 && r.latencyMs.p99 <= r.latencyMs.max);
  assert(r.brokerRssMbMax !== null && r.brokerRssMbMax > 0, `brokerRssMbMax ${r.brokerRssMbMax}`);
  assert(r.benchCpuPercent > 0, `benchCpuPercent ${r.benchCpuPercent}`);
  assertEquals(r.failed, 0, r.firstError ?? "");
  // The report is what --json prints: it must survive JSON.
  assertEquals(JSON.parse(JSON.stringify(r)).latencyMs.p99, r.latencyMs.p99);
}

Deno.test("bench flags parse into options with the reference defaults", () => {
  const o = parseBenchArgs(["produce", "--records", "1_000", "--topic-config", "flush.messages=1"]);
  assertEquals(o.records, 1000);
  assertEquals(o.recordSizeBytes, 1024);
  assertEquals(o.acks, "all");
  assertEquals(o.idempotence, true);
  assertEquals(o.minInsyncReplicas, 2);
  assertEquals(o.topicConfigs, { "flush.messages": "1" });
  assertEquals(parseBenchArgs(["produce", "--acks", "1"]).idempotence, false);
  assertEquals(parseBenchArgs(["failover"]).partitions, 1);
  assertEquals(o.warmupSecs, 0);
  assertEquals(parseBenchArgs(["produce", "--warmup-secs", "5"]).warmupSecs, 5);
  for (const bad of [[], ["fly"], ["produce", "--records", "0"], ["produce", "--acks", "2"]]) {
    let threw = false;
    try {
      parseBenchArgs(bad);
    } catch (e) {
      threw = e instanceof UsageError;
    }
    assert(threw, `no UsageError for ${bad.join(" ")}`);
  }
});

Deno.test("every bench subcommand reports positive numbers in the JSON shape against one cluster", async () => {
  const cluster = await launchCluster();
  const manifest = `${cluster.dataDir}/cluster.json`;
  const run = (args: string[]) =>
    runBench(parseBenchArgs([...args, "--manifest", manifest, "--no-progress", "--json"]));
  try {
    const produced = await run([
      "produce",
      "--topic",
      "t",
      "--records",
      "300",
      "--partitions",
      "2",
    ]);
    assertShape(produced, "produce");
    assertEquals(produced.records, 300);
    assert(produced.mbPerSec > 0);

    const consumed = await run(["consume", "--topic", "t", "--records", "300"]);
    assertShape(consumed, "consume");
    assertEquals(consumed.records, 300);
    assertEquals(consumed.extra?.filledRecords, 0);

    const e2e = await run(["e2e", "--records", "200", "--throughput", "1000"]);
    assertShape(e2e, "e2e");
    assertEquals(e2e.records, 200);

    const oneAtATime = await run([
      "produce",
      "--records",
      "50",
      "--linger-ms",
      "0",
      "--max-in-flight",
      "1",
    ]);
    assertShape(oneAtATime, "produce");

    // A warm-up sends at the same rate first; only the records after it are measured.
    const warmed = await run([
      "produce",
      "--topic",
      "w",
      "--records",
      "200",
      "--throughput",
      "1000",
      "--warmup-secs",
      "1",
    ]);
    assertShape(warmed, "produce");
    assertEquals(warmed.records, 200);
    assertEquals(warmed.latencyMs.count, 200);
    // About 1,000 warm-up records went to the topic as well.
    const warmedTopic = await run(["consume", "--topic", "w", "--records", "900"]);
    assertEquals(warmedTopic.extra?.filledRecords, 0);

    const created = await run(["create", "--partitions", "30"]);
    assertEquals(created.records, 30);
    assert((created.extra?.allLeadersMs as number) >= 0);
    assert(
      (created.extra?.allReplicasReadyMs as number) >= (created.extra?.allLeadersMs as number),
      "every replica open, after the metadata named every leader",
    );

    const failover = await run([
      "failover",
      "--kills",
      "2",
      "--throughput",
      "500",
      "--preload-partitions",
      "12",
    ]);
    assertShape(failover, "failover");
    const times = failover.extra?.failoverMs as number[];
    assertEquals(times.length, 2);
    assert(times.every((t) => t > 0));
    // Each kill is counted in exactly one of the two kinds, by whether it hit the controller.
    const leaderOnly = failover.extra?.leaderOnlyFailoverMs as number[];
    const controllerToo = (failover.extra?.controllerToo as { failoverMs: number[] }).failoverMs;
    const ascending = (a: number, b: number) => a - b;
    assertEquals([...leaderOnly, ...controllerToo].sort(ascending), [...times].sort(ascending));
    // The second kill waited until the 12 preloaded partitions had their whole ISR again.
    const preload = failover.extra?.preload as { partitions: number; settleMs: number[] };
    assertEquals(preload.partitions, 12);
    assertEquals(preload.settleMs.length, 1);
    assert(preload.settleMs[0] >= 0);
  } finally {
    await cluster.cleanup();
  }
});
