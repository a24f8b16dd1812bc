/**
 * `bench e2e`: end-to-end latency, from the producer's send() to the
 * consumer's hand. Producer and consumer run in this process, so the send
 * time travels in the first 8 bytes of each value (a float64 of
 * `performance.now()`), finer than the record's millisecond timestamp.
 *
 * @module
 */

import { Strom } from "../../client/mod.ts";
import { LatencyRecorder } from "./latency.ts";
import { randomValue, runLoad } from "./load.ts";
import type { BenchOptions } from "./options.ts";
import { Progress } from "./progress.ts";
import type { ScenarioResult } from "./result.ts";
import { rates } from "./result.ts";

/** The rate e2e uses when `--throughput` is not given: latency, not saturation. */
const E2E_RATE_DEFAULT_PER_SEC = 2_000;
/** The most the consumer waits without any record arriving. */
const IDLE_WAIT_MS_MAX = 30_000;

/** Produces at a rate while consuming, and measures send → consume. */
export async function benchE2e(urls: readonly string[], o: BenchOptions): Promise<ScenarioResult> {
  const strom = new Strom({ brokers: [...urls] });
  const e2e = new LatencyRecorder();
  const ack = new LatencyRecorder();
  try {
    const latest = await strom.admin().listOffsets(o.topic, "latest");
    const consumer = strom.consumer({ fetchWaitMsMax: 500 });
    consumer.assign(
      latest.map((p) => ({ topic: o.topic, partition: p.partition, offset: p.offset ?? 0 })),
    );
    const progress = new Progress({ label: "e2e", total: o.records, enabled: o.progress });
    const template = randomValue(o.recordSizeBytes);
    const rate = o.throughputRecordsPerSec || E2E_RATE_DEFAULT_PER_SEC;
    const startedMs = performance.now();
    const load = runLoad({
      urls,
      options: o,
      recordsPerProducer: Math.ceil(o.records / o.producers),
      ratePerSec: rate,
      value: () => {
        const v = template.slice();
        new DataView(v.buffer).setFloat64(0, performance.now());
        return v;
      },
      onAck: (a) => {
        if (a.error === undefined) ack.recordMs(a.ackedMs - a.sentMs);
      },
    });
    let count = 0;
    const expected = Math.ceil(o.records / o.producers) * o.producers;
    try {
      while (count < expected) {
        const batch = await consumer.nextBatch({ signal: AbortSignal.timeout(IDLE_WAIT_MS_MAX) });
        if (!batch) throw new Error(`no records for ${IDLE_WAIT_MS_MAX} ms after ${count}`);
        const now = performance.now();
        for (const r of batch.records) {
          if (r.value) {
            e2e.recordMs(now - new DataView(r.value.buffer, r.value.byteOffset).getFloat64(0));
          }
        }
        count += batch.records.length;
        progress.update(count);
      }
    } catch (e) {
      // Stop waiting for the consumer; the load ends by itself (bounded record count).
      await load.catch(() => {});
      throw e;
    }
    const sent = await load;
    if (sent.failed > 0) throw new Error(`${sent.failed} sends failed: ${sent.firstError}`);
    const elapsedMs = performance.now() - startedMs;
    progress.finish();
    await consumer.close();
    return {
      records: count,
      elapsedMs,
      ...rates(count, o.recordSizeBytes, elapsedMs),
      latencyMs: e2e.summary(),
      failed: 0,
      extra: { targetRecordsPerSec: rate, ackLatencyMs: ack.summary() },
    };
  } finally {
    e2e.destroy();
    ack.destroy();
    await strom.close();
  }
}
