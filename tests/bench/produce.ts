/**
 * `bench produce`: records/s, MB/s and send-to-ack latency of N producers,
 * like kafka-producer-perf-test.
 *
 * @module
 */

import { LatencyRecorder } from "./latency.ts";
import { runLoad } from "./load.ts";
import type { BenchOptions } from "./options.ts";
import { Progress } from "./progress.ts";
import type { ScenarioResult } from "./result.ts";
import { rates } from "./result.ts";

/** Produces `records` records and measures them. */
export async function benchProduce(
  urls: readonly string[],
  o: BenchOptions,
): Promise<ScenarioResult> {
  const latency = new LatencyRecorder();
  const progress = new Progress({ label: "produce", total: o.records, enabled: o.progress });
  let done = 0;
  try {
    const perProducer = Math.ceil(o.records / o.producers);
    const load = await runLoad({
      urls,
      options: o,
      recordsPerProducer: perProducer,
      ratePerSec: o.throughputRecordsPerSec,
      warmupMs: o.warmupSecs * 1000,
      onAck: (ack) => {
        if (ack.warmup) return;
        if (ack.error === undefined) latency.recordMs(ack.ackedMs - ack.sentMs);
        progress.update(++done);
      },
    });
    progress.finish();
    return {
      records: load.acked,
      elapsedMs: load.elapsedMs,
      ...rates(load.acked, o.recordSizeBytes, load.elapsedMs),
      latencyMs: latency.summary(),
      failed: load.failed,
      ...(load.firstError ? { firstError: load.firstError } : {}),
    };
  } finally {
    latency.destroy();
  }
}
