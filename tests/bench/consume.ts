/**
 * `bench consume`: records/s and MB/s of one consumer reading every
 * partition from the earliest offset, like kafka-consumer-perf-test. The
 * topic is filled first (untimed) when it holds fewer records than asked.
 *
 * Consumer groups are not in the client yet (no `subscribe`), so the
 * consumer assigns the partitions itself; `--group` is not offered.
 *
 * @module
 */

import { Strom } from "../../client/mod.ts";
import { LatencyRecorder } from "./latency.ts";
import { runLoad } from "./load.ts";
import type { BenchOptions } from "./options.ts";
import { Progress } from "./progress.ts";
import type { ScenarioResult } from "./result.ts";
import { rates } from "./result.ts";

/** Records handed to the reader per call, as Kafka's max.poll.records but larger. */
const BATCH_RECORDS_MAX = 10_000;
/** The most a consume run waits without any record arriving. */
const IDLE_WAIT_MS_MAX = 30_000;

/** Consumes `records` records from the earliest offset; latency = how long each poll waited. */
export async function benchConsume(
  urls: readonly string[],
  o: BenchOptions,
): Promise<ScenarioResult> {
  const strom = new Strom({ brokers: [...urls] });
  const latency = new LatencyRecorder();
  try {
    const admin = strom.admin();
    const earliest = await admin.listOffsets(o.topic, "earliest");
    const latest = await admin.listOffsets(o.topic, "latest");
    const held = latest.reduce((s, p, i) => s + (p.offset ?? 0) - (earliest[i].offset ?? 0), 0);
    let filledMs: number | undefined;
    if (held < o.records) {
      const fill = await runLoad({
        urls,
        options: { ...o, acks: "1", idempotence: false, throughputRecordsPerSec: 0 },
        recordsPerProducer: Math.ceil((o.records - held) / o.producers),
        ratePerSec: 0,
        onAck: () => {},
      });
      if (fill.failed > 0) throw new Error(`filling ${o.topic} failed: ${fill.firstError}`);
      filledMs = fill.elapsedMs;
    }
    const consumer = strom.consumer({ autoOffsetReset: "earliest" });
    consumer.assign(
      earliest.map((p) => ({ topic: o.topic, partition: p.partition, offset: "earliest" })),
    );
    const progress = new Progress({ label: "consume", total: o.records, enabled: o.progress });
    let count = 0;
    let bytes = 0;
    const startedMs = performance.now();
    while (count < o.records) {
      const askedMs = performance.now();
      const batch = await consumer.nextBatch({
        recordsMax: BATCH_RECORDS_MAX,
        signal: AbortSignal.timeout(IDLE_WAIT_MS_MAX),
      });
      if (!batch) throw new Error(`no records for ${IDLE_WAIT_MS_MAX} ms after ${count}`);
      latency.recordMs(performance.now() - askedMs);
      count += batch.records.length;
      for (const r of batch.records) bytes += (r.value?.length ?? 0) + (r.key?.length ?? 0);
      progress.update(count);
    }
    const elapsedMs = performance.now() - startedMs;
    progress.finish();
    await consumer.close();
    return {
      records: count,
      elapsedMs,
      ...rates(count, bytes / count, elapsedMs),
      latencyMs: latency.summary(),
      failed: 0,
      extra: {
        filledRecords: Math.max(0, o.records - held),
        ...(filledMs ? { filledMs: Math.round(filledMs) } : {}),
      },
    };
  } finally {
    latency.destroy();
    await strom.close();
  }
}
