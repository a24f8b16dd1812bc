/**
 * The load generator: N producers (each on its own connection, like separate
 * kafka-producer-perf-test processes) sending fixed-size records, at most
 * `inFlightRecordsMax` unanswered per producer, optionally paced to a target
 * rate. Every answer reports its send-to-ack latency.
 *
 * @module
 */

import type { Producer, ProducerOptions } from "../../client/mod.ts";
import { Strom } from "../../client/mod.ts";
import type { BenchOptions } from "./options.ts";

/** One acknowledged (or failed) record. */
export interface Ack {
  /** performance.now() when send() was called. */
  readonly sentMs: number;
  /** performance.now() when it was answered. */
  readonly ackedMs: number;
  readonly error: unknown;
  /** Sent during the warm-up: not part of the measurement. */
  readonly warmup: boolean;
}

/** What a load run needs. */
export interface LoadSpec {
  readonly urls: readonly string[];
  readonly options: BenchOptions;
  /** Measured records per producer; Infinity runs until `signal` aborts. */
  readonly recordsPerProducer: number;
  /**
   * Load at the same rate for this long first (connections open, JIT warm,
   * batches at their steady size); those records are extra and their acks
   * come with `warmup: true`. Default 0.
   */
  readonly warmupMs?: number;
  /** Records/s over all producers; 0 = as fast as possible. */
  readonly ratePerSec: number;
  /** Builds each value; the default reuses one random buffer. */
  readonly value?: () => Uint8Array;
  readonly onAck: (ack: Ack) => void;
  readonly signal?: AbortSignal;
}

/** The totals of a load run, warm-up excluded. */
export interface LoadResult {
  readonly sent: number;
  readonly acked: number;
  readonly failed: number;
  readonly firstError: string | undefined;
  /** From the end of the warm-up to the last answer. */
  readonly elapsedMs: number;
}

/** The client options a bench's flags stand for. */
export function producerOptions(o: BenchOptions): ProducerOptions {
  return {
    acks: o.acks,
    compression: o.compression,
    batchBytes: o.batchBytes,
    lingerMs: o.lingerMs,
    idempotent: o.idempotence,
    // The client's own default (5 with idempotence, 1 without: order), capped by --max-in-flight.
    inFlightBatchesPerPartitionMax: Math.min(o.idempotence ? 5 : 1, o.inFlightRecordsMax),
    sendsWaitingMax: Math.max(10_000, o.inFlightRecordsMax),
    // Keep every record of the window admitted: the window, not the buffer, bounds it.
    bufferBytesMax: Math.max(32 * 1024 * 1024, 2 * o.inFlightRecordsMax * (o.recordSizeBytes + 64)),
  };
}

/** Random bytes (not compressible), so compression figures are worst case unless stated. */
export function randomValue(bytes: number): Uint8Array {
  const value = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 65_536) crypto.getRandomValues(value.subarray(i, i + 65_536));
  return value;
}

/** Runs the producers to completion (or abort) and closes them. */
export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const o = spec.options;
  const shared = randomValue(o.recordSizeBytes);
  const value = spec.value ?? (() => shared);
  const clients = Array.from({ length: o.producers }, () => new Strom({ brokers: [...spec.urls] }));
  const startedMs = performance.now();
  const measuredFromMs = startedMs + (spec.warmupMs ?? 0);
  const totals = { sent: 0, acked: 0, failed: 0, firstError: undefined as string | undefined };
  try {
    await Promise.all(
      clients.map((strom) =>
        produceLoop(
          strom.producer(producerOptions(o)),
          spec,
          value,
          { startedMs, measuredFromMs },
          totals,
        )
      ),
    );
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
  }
  return { ...totals, elapsedMs: performance.now() - measuredFromMs };
}

async function produceLoop(
  producer: Producer,
  spec: LoadSpec,
  value: () => Uint8Array,
  clock: { startedMs: number; measuredFromMs: number },
  totals: { sent: number; acked: number; failed: number; firstError: string | undefined },
): Promise<void> {
  const o = spec.options;
  const perProducerRate = spec.ratePerSec / o.producers;
  let inFlight = 0;
  let slotFreed: (() => void) | undefined;
  let measured = 0;
  for (let i = 0; measured < spec.recordsPerProducer && !spec.signal?.aborted; i++) {
    if (perProducerRate > 0) {
      const dueMs = clock.startedMs + (i / perProducerRate) * 1000;
      const aheadMs = dueMs - performance.now();
      if (aheadMs >= 1) await new Promise((r) => setTimeout(r, aheadMs));
    }
    while (inFlight >= o.inFlightRecordsMax) {
      await new Promise<void>((r) => slotFreed = r);
    }
    inFlight++;
    const sentMs = performance.now();
    const warmup = sentMs < clock.measuredFromMs;
    if (!warmup) {
      measured++;
      totals.sent++;
    }
    const settle = (error: unknown) => {
      inFlight--;
      if (!warmup) countAnswer(totals, error);
      spec.onAck({ sentMs, ackedMs: performance.now(), error, warmup });
      const wake = slotFreed;
      slotFreed = undefined;
      wake?.();
    };
    producer.send({ topic: o.topic, value: value() }).then(
      () => settle(undefined),
      (e) => settle(e ?? new Error("send failed")),
    );
  }
  while (inFlight > 0) await new Promise<void>((r) => slotFreed = r);
  await producer.close();
}

/** Counts one measured record's answer. */
function countAnswer(
  totals: { acked: number; failed: number; firstError: string | undefined },
  error: unknown,
): void {
  if (error === undefined) {
    totals.acked++;
    return;
  }
  totals.failed++;
  totals.firstError ??= String((error as Error)?.message ?? error);
}
