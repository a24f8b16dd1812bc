/**
 * Samples the brokers' resident memory (`/proc/<pid>/status` VmRSS) and CPU
 * time (`/proc/<pid>/stat` utime + stime) while a benchmark runs, so the
 * report can show peak RSS and CPU use. Linux only; elsewhere it reports
 * nothing.
 *
 * @module
 */

/** How often the brokers are sampled. */
const SAMPLE_INTERVAL_MS = 250;
/** Kernel clock ticks per second for /proc stat times (USER_HZ, 100 on Linux). */
const CLOCK_TICKS_PER_SEC = 100;

/** What the sampler saw. */
export interface BrokerUsage {
  /** Largest RSS of any one broker, MiB; null when no broker could be read. */
  readonly brokerRssMbMax: number | null;
  /** CPU used per broker over the run, percent of one core, by node id. */
  readonly brokerCpuPercent: Readonly<Record<string, number>>;
  /** All brokers together, percent of one core. */
  readonly brokerCpuPercentTotal: number | null;
}

interface Tracked {
  pid: number;
  /** CPU ticks of earlier pids of this node (a restarted node gets a new pid). */
  ticksBefore: number;
  ticksFirst: number | undefined;
  ticksLast: number;
}

/** Samples broker processes until stopped. */
export class BrokerSampler {
  readonly #nodes = new Map<number, Tracked>();
  #rssKbMax = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #startedMs = 0;

  constructor(pids: ReadonlyMap<number, number>) {
    for (const [id, pid] of pids) {
      this.#nodes.set(id, { pid, ticksBefore: 0, ticksFirst: undefined, ticksLast: 0 });
    }
  }

  /** Starts sampling. */
  start(): void {
    this.#startedMs = performance.now();
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), SAMPLE_INTERVAL_MS);
  }

  /** Node `id` now runs as `pid` (after a restart). */
  setPid(id: number, pid: number): void {
    const t = this.#nodes.get(id);
    if (!t) {
      this.#nodes.set(id, { pid, ticksBefore: 0, ticksFirst: 0, ticksLast: 0 });
      return;
    }
    t.ticksBefore += t.ticksLast - (t.ticksFirst ?? t.ticksLast);
    t.pid = pid;
    t.ticksFirst = 0;
    t.ticksLast = 0;
  }

  /** Stops sampling and reports. */
  stop(): BrokerUsage {
    this.#sample();
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    const seconds = Math.max(1e-3, (performance.now() - this.#startedMs) / 1000);
    const perNode: Record<string, number> = {};
    let total = 0;
    let any = false;
    for (const [id, t] of this.#nodes) {
      if (t.ticksFirst === undefined) continue;
      any = true;
      const ticks = t.ticksBefore + t.ticksLast - t.ticksFirst;
      const pct = Math.round((ticks / CLOCK_TICKS_PER_SEC / seconds) * 1000) / 10;
      perNode[String(id)] = pct;
      total += pct;
    }
    return {
      brokerRssMbMax: this.#rssKbMax > 0 ? Math.round(this.#rssKbMax / 102.4) / 10 : null,
      brokerCpuPercent: perNode,
      brokerCpuPercentTotal: any ? Math.round(total * 10) / 10 : null,
    };
  }

  #sample(): void {
    for (const t of this.#nodes.values()) {
      const rssKb = readRssKb(t.pid);
      if (rssKb !== undefined) this.#rssKbMax = Math.max(this.#rssKbMax, rssKb);
      const ticks = readCpuTicks(t.pid);
      if (ticks === undefined) continue;
      t.ticksFirst ??= ticks;
      t.ticksLast = ticks;
    }
  }
}

/** VmRSS of a process in KiB, or undefined if it cannot be read. */
export function readRssKb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** utime + stime of a process in clock ticks, or undefined. */
export function readCpuTicks(pid: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The command name may contain spaces; fields after ")" are fixed.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields 14 and 15 of stat are 12 and 13 after the name and state.
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}
