/**
 * The Raft benchmark: a 3-node cluster in one process, each node on its own
 * {@link FileStorage}, driven by the production driver loop (persist, send in
 * process, apply, advance). It measures committed proposals per second and
 * proposal-to-commit latency (proposal on the leader until the leader applies
 * it) with a fixed number of proposals in flight, with and without fsync.
 *
 * With `transport: "http"` the same cluster talks over real HTTP/2
 * connections on 127.0.0.1 through {@link HttpTransport}.
 *
 * Run: `deno task bench:raft` (or `deno run --allow-all raft/bench/main.ts
 * [--seconds 3] [--json]`).
 *
 * @module
 */

import { FileStorage } from "../file_storage.ts";
import { HttpTransport } from "../http_transport.ts";
import { createRaftHandler, startRaftServer } from "../http_transport_handler.ts";
import type { RaftServer } from "../http_transport_handler.ts";
import type { Message } from "../message.ts";
import { createPrng } from "../prng.ts";
import { RawNode } from "../raw_node.ts";
import type { Entry, NodeId } from "../types.ts";

/** One benchmark configuration. */
export interface RaftBenchOptions {
  /** Fsync every `save()` (the durable setting) or not. */
  readonly sync: boolean;
  /** Proposals kept in flight on the leader (1 measures latency, more measures throughput). */
  readonly proposalsInFlight: number;
  /** How long to measure, after the leader is elected. */
  readonly durationMs: number;
  /** Bytes of each proposal. Default 100. */
  readonly proposalBytes?: number;
  /** Compact each node's log every this many applied entries. Default 10,000. */
  readonly compactEveryEntries?: number;
  /**
   * How messages travel: handed over in process (`memory`, the default), or
   * through each node's {@link HttpTransport} to the others' HTTP/2 servers on
   * 127.0.0.1 (`http`).
   */
  readonly transport?: "memory" | "http";
}

/** What one run measured. */
export interface RaftBenchResult {
  readonly transport: "memory" | "http";
  readonly sync: boolean;
  readonly proposalsInFlight: number;
  readonly committed: number;
  readonly durationMs: number;
  readonly committedPerSecond: number;
  readonly latencyMsP50: number;
  readonly latencyMsP99: number;
  readonly latencyMsMax: number;
}

const VOTERS = [1, 2, 3];
/** Logical clock: one tick per interval; election timeout 10 ticks = 1 s, so no elections under load. */
const TICK_INTERVAL_MS = 100;
/** Bound on waiting for the first leader. */
const ELECTION_WAIT_MS_MAX = 10_000;

/** One node: the core, its storage and the driver loop. */
class BenchNode {
  readonly inbox: Message[] = [];
  #loop: Promise<void> | undefined;
  #running = false;
  #stopped = false;
  #appliedSinceCompaction = 0;

  constructor(
    readonly id: NodeId,
    readonly raw: RawNode,
    readonly storage: FileStorage,
    readonly cluster: BenchCluster,
  ) {}

  /** Runs the driver loop until the node has nothing left to do. */
  drive(): void {
    // One loop at a time: a running loop picks up new work itself.
    if (this.#running || this.#stopped) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Stops driving and waits for the loop in progress, so the storage can close. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }

  async #run(): Promise<void> {
    try {
      while (!this.#stopped) {
        for (const message of this.inbox.splice(0)) this.raw.step(message);
        if (!this.raw.hasReady()) break;
        const ready = this.raw.ready();
        this.cluster.send(this.id, ready.messages);
        await this.storage.save({
          ...(ready.snapshot ? { snapshot: ready.snapshot } : {}),
          entries: ready.entries,
          ...(ready.hardState ? { hardState: ready.hardState } : {}),
        });
        this.cluster.send(this.id, ready.messagesAfterPersist);
        for (const entry of ready.committedEntries) this.cluster.applied(this, entry);
        const last = ready.committedEntries.at(-1);
        this.raw.advance();
        if (last) await this.#maybeCompact(last, ready.committedEntries.length);
      }
    } finally {
      // Cleared in the same turn as the last check for work: a message that
      // arrives after it starts a new loop rather than waiting for a tick.
      this.#running = false;
    }
  }

  async #maybeCompact(last: Entry, applied: number): Promise<void> {
    this.#appliedSinceCompaction += applied;
    if (this.#appliedSinceCompaction < this.cluster.compactEveryEntries) return;
    this.#appliedSinceCompaction = 0;
    const meta = { index: last.index, term: last.term, config: this.raw.status().config };
    await this.storage.compact({ meta, data: new TextEncoder().encode(`applied@${last.index}`) });
  }
}

/** Three nodes delivering to each other, in process or over HTTP/2. */
class BenchCluster {
  readonly nodes = new Map<NodeId, BenchNode>();
  /** Each node's transport, in `http` mode. */
  readonly transports = new Map<NodeId, HttpTransport>();
  readonly compactEveryEntries: number;
  /** Proposal start times on the leader, by index. */
  readonly #proposedAt = new Map<number, number>();
  readonly latenciesMs: number[] = [];
  #leader: BenchNode | undefined;
  #proposal: Uint8Array;
  #measuring = false;
  #inFlight = 0;
  #inFlightMax: number;
  #drained: (() => void) | undefined;

  constructor(options: RaftBenchOptions) {
    this.compactEveryEntries = options.compactEveryEntries ?? 10_000;
    this.#proposal = new Uint8Array(options.proposalBytes ?? 100).fill(42);
    this.#inFlightMax = options.proposalsInFlight;
  }

  /** Sends `messages` from node `from`. */
  send(from: NodeId, messages: readonly Message[]): void {
    const transport = this.transports.get(from);
    if (transport) transport.send(messages);
    else this.deliver(messages);
  }

  /** Hands `messages` to their receivers' inboxes and wakes them. */
  deliver(messages: readonly Message[]): void {
    for (const message of messages) {
      const node = this.nodes.get(message.to);
      if (!node) continue;
      node.inbox.push(message);
      node.drive();
    }
  }

  /** Called by each node for each entry it applies. */
  applied(node: BenchNode, entry: Entry): void {
    if (node !== this.#leader || entry.kind !== "normal") return;
    const startedAt = this.#proposedAt.get(entry.index);
    if (startedAt === undefined) return;
    this.#proposedAt.delete(entry.index);
    this.#inFlight--;
    if (this.#measuring) {
      this.latenciesMs.push(performance.now() - startedAt);
      this.#proposeMore();
    } else if (this.#inFlight === 0) {
      this.#drained?.();
    }
  }

  async electLeader(): Promise<BenchNode> {
    const candidate = this.nodes.get(VOTERS[0])!;
    candidate.raw.campaign();
    candidate.drive();
    const deadline = performance.now() + ELECTION_WAIT_MS_MAX;
    while (candidate.raw.role !== "leader") {
      if (performance.now() > deadline) throw new Error("no leader elected in time");
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    this.#leader = candidate;
    return candidate;
  }

  /** Keeps `proposalsInFlight` proposals going for `durationMs`, then waits for the last ones. */
  async measure(durationMs: number): Promise<number> {
    this.#measuring = true;
    const started = performance.now();
    this.#proposeMore();
    await new Promise((resolve) => setTimeout(resolve, durationMs));
    this.#measuring = false;
    const elapsed = performance.now() - started;
    if (this.#inFlight > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
    return elapsed;
  }

  #proposeMore(): void {
    const leader = this.#leader!;
    while (this.#inFlight < this.#inFlightMax) {
      const result = leader.raw.propose(this.#proposal);
      if (result.status !== "appended") throw new Error(`proposal was ${result.status}`);
      this.#proposedAt.set(result.index, performance.now());
      this.#inFlight++;
    }
    leader.drive();
  }
}

function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))];
}

/**
 * Runs one configuration on a fresh 3-node cluster in temporary directories.
 *
 * @example
 * ```ts ignore
 * import { runRaftBench } from "./main.ts";
 * const result = await runRaftBench({ sync: true, proposalsInFlight: 1, durationMs: 1000 });
 * console.log(result.committedPerSecond, result.latencyMsP99);
 * ```
 */
export async function runRaftBench(options: RaftBenchOptions): Promise<RaftBenchResult> {
  const cluster = new BenchCluster(options);
  const dirs: string[] = [];
  const servers: RaftServer[] = [];
  let ticker: ReturnType<typeof setInterval> | undefined;
  try {
    for (const id of VOTERS) {
      const dir = await Deno.makeTempDir({ prefix: `strom_raft_bench_n${id}_` });
      dirs.push(dir);
      const storage = await FileStorage.open(dir, {
        initialConfig: { voters: VOTERS, learners: [] },
        sync: options.sync,
      });
      const raw = new RawNode({ id, random: createPrng(id) }, storage);
      cluster.nodes.set(id, new BenchNode(id, raw, storage, cluster));
    }
    if (options.transport === "http") connectOverHttp(cluster, servers);
    ticker = setInterval(() => {
      for (const node of cluster.nodes.values()) {
        node.raw.tick();
        node.drive();
      }
    }, TICK_INTERVAL_MS);
    await cluster.electLeader();
    const elapsedMs = await cluster.measure(options.durationMs);
    const sorted = [...cluster.latenciesMs].sort((a, b) => a - b);
    return {
      transport: options.transport ?? "memory",
      sync: options.sync,
      proposalsInFlight: options.proposalsInFlight,
      committed: sorted.length,
      durationMs: Math.round(elapsedMs),
      committedPerSecond: Math.round(sorted.length / (elapsedMs / 1000)),
      latencyMsP50: percentile(sorted, 0.5),
      latencyMsP99: percentile(sorted, 0.99),
      latencyMsMax: sorted.at(-1) ?? NaN,
    };
  } finally {
    clearInterval(ticker);
    for (const node of cluster.nodes.values()) await node.stop();
    for (const transport of cluster.transports.values()) await transport.close();
    for (const server of servers) await server.shutdown();
    for (const node of cluster.nodes.values()) await node.storage.close();
    for (const dir of dirs) await Deno.remove(dir, { recursive: true });
  }
}

/** Gives every node an HTTP/2 server and a transport to the others. */
function connectOverHttp(cluster: BenchCluster, servers: RaftServer[]): void {
  const secret = crypto.randomUUID();
  const urls = new Map<NodeId, string>();
  for (const node of cluster.nodes.values()) {
    const server = startRaftServer(createRaftHandler({
      secret,
      selfId: node.id,
      onMessages: (messages) => cluster.deliver(messages),
    }));
    servers.push(server);
    urls.set(node.id, server.url);
  }
  for (const node of cluster.nodes.values()) {
    const peers = Object.fromEntries([...urls].filter(([id]) => id !== node.id));
    cluster.transports.set(node.id, new HttpTransport({ selfId: node.id, peers, secret }));
  }
}

/** Formats results as a Markdown table, as in `raft/README.md`. */
export function formatResults(results: readonly RaftBenchResult[]): string {
  const rows = results.map((r) =>
    `| ${r.transport} | ${r.sync ? "on" : "off"} | ${r.proposalsInFlight} | ${
      r.committedPerSecond.toLocaleString("en-US")
    } | ` +
    `${r.latencyMsP50.toFixed(2)} | ${r.latencyMsP99.toFixed(2)} | ${r.latencyMsMax.toFixed(2)} |`
  );
  return [
    "| transport | fsync | proposals in flight | committed/s | p50 ms | p99 ms | max ms |",
    "| --------- | ----- | ------------------- | ----------- | ------ | ------ | ------ |",
    ...rows,
  ].join("\n");
}

if (import.meta.main) {
  const secondsArg = Deno.args.indexOf("--seconds");
  const seconds = secondsArg >= 0 ? Number(Deno.args[secondsArg + 1]) : 3;
  if (!(seconds > 0)) throw new Error("--seconds needs a positive number");
  const results: RaftBenchResult[] = [];
  const durationMs = seconds * 1000;
  for (const sync of [true, false]) {
    for (const proposalsInFlight of [1, 64, 512]) {
      results.push(await runRaftBench({ sync, proposalsInFlight, durationMs }));
    }
  }
  for (const sync of [true, false]) {
    for (const proposalsInFlight of [1, 512]) {
      results.push(await runRaftBench({ sync, proposalsInFlight, durationMs, transport: "http" }));
    }
  }
  if (Deno.args.includes("--json")) console.log(JSON.stringify(results, null, 2));
  else console.log(formatResults(results));
}
