/**
 * Latencies recorded in an HDR histogram (microsecond resolution, 3
 * significant digits), summarised in milliseconds.
 *
 * @module
 */

import { build } from "hdr-histogram-js";
import type { Histogram } from "hdr-histogram-js";

/** p50 … max in milliseconds. */
export interface LatencySummaryMs {
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly count: number;
}

/** Largest latency tracked: one hour, in µs. */
const LATENCY_US_MAX = 3_600_000_000;

/** Collects latencies. */
export class LatencyRecorder {
  readonly #histogram: Histogram = build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: LATENCY_US_MAX,
    numberOfSignificantValueDigits: 3,
    autoResize: false,
  });

  /** Records one latency in milliseconds (fractions kept to the microsecond). */
  recordMs(ms: number): void {
    const us = Math.min(LATENCY_US_MAX, Math.max(1, Math.round(ms * 1000)));
    this.#histogram.recordValue(us);
  }

  get count(): number {
    return this.#histogram.totalCount;
  }

  /** The percentiles in ms (3 decimals). */
  summary(): LatencySummaryMs {
    const h = this.#histogram;
    const at = (p: number) => round3(h.getValueAtPercentile(p) / 1000);
    return {
      p50: at(50),
      p95: at(95),
      p99: at(99),
      p999: at(99.9),
      // The histogram's max is exact while percentiles are bucket tops; keep max ≥ p99.9.
      max: Math.max(round3(h.maxValue / 1000), at(99.9)),
      count: h.totalCount,
    };
  }

  /** Frees the histogram's memory. */
  destroy(): void {
    this.#histogram.destroy();
  }
}

/** Rounds to 3 decimals. */
export function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
