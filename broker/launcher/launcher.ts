/**
 * The local cluster launcher behind `deno task start`: it turns a
 * {@link ClusterPlan} into files and node processes, streams each node's
 * output with its id as a prefix, reports a node that dies, and stops every
 * node it started.
 *
 * Guarantees:
 * - every port is checked before any node starts, so a taken port is one
 *   clear message and nothing is left running;
 * - each node holds a pipe from the launcher on stdin and exits when it
 *   closes, so even a SIGKILLed launcher leaves no orphan behind;
 * - `stop()` sends SIGTERM (nodes drain in-flight requests), waits at most
 *   `stopGraceMs`, then SIGKILLs what is left, and resolves only when every
 *   child has been reaped.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { writeFileAtomic } from "../fs/atomic_write.ts";
import { ensureSecretFile } from "../security/cluster_secret.ts";
import type { ClusterPlan, PlannedNode } from "./cluster_plan.ts";
import { configFileJson, nodeV8HeapFlag } from "./cluster_plan.ts";
import type { Manifest, ManifestNode } from "./manifest.ts";
import { shellQuote, writeManifest } from "./manifest.ts";

/** How long to wait for every node to become ready. */
export const START_TIMEOUT_MS = 30_000;
/** How long nodes get to drain after SIGTERM before they are SIGKILLed. */
export const STOP_GRACE_MS = 15_000;
/** How often readiness is polled while starting. */
const READY_POLL_MS = 100;

const NODE_MAIN = fileURLToPath(new URL("../node_main.ts", import.meta.url));

/** Where the launcher's own lines and the nodes' prefixed lines go. */
export type Output = (line: string) => void;

/** Why a start failed: ports taken, a node that died, or one that never got ready. */
export class LaunchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LaunchError";
  }
}

interface RunningNode {
  readonly planned: PlannedNode;
  readonly child: Deno.ChildProcess;
  readonly command: readonly string[];
  readonly pumps: Promise<void>;
  exited: Deno.CommandStatus | undefined;
}

/** A started local cluster. */
export class LocalCluster {
  #stopping = false;
  #stopped: Promise<void> | undefined;

  private constructor(
    readonly plan: ClusterPlan,
    private readonly nodes: RunningNode[],
    private readonly out: Output,
    private manifest: Manifest,
  ) {}

  /** Writes files, checks ports, starts every node and waits until all are ready. */
  static async start(plan: ClusterPlan, out: Output): Promise<LocalCluster> {
    await assertPortsFree(plan);
    await Deno.mkdir(plan.dataDir, { recursive: true });
    await ensureSecretFile(plan.secretFile);
    for (const node of plan.nodes) {
      const json = JSON.stringify(configFileJson(node), null, 2) + "\n";
      await writeFileAtomic(node.configFile, new TextEncoder().encode(json));
    }
    const nodes = plan.nodes.map((planned) => spawnNode(planned, out));
    const manifest: Manifest = {
      clusterId: plan.clusterId,
      dataDir: plan.dataDir,
      secretFile: plan.secretFile,
      launcherPid: Deno.pid,
      startedAt: new Date().toISOString(),
      nodes: nodes.map(manifestNode),
    };
    const cluster = new LocalCluster(plan, nodes, out, manifest);
    for (const node of nodes) cluster.#watch(node);
    await writeManifest(plan.manifestFile, manifest);
    try {
      await cluster.#waitReady();
    } catch (e) {
      await cluster.stop();
      throw e;
    }
    return cluster;
  }

  /** The manifest as last written. */
  get currentManifest(): Manifest {
    return this.manifest;
  }

  /** Stops every node: SIGTERM, a grace period, then SIGKILL. Idempotent. */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  /** Resolves when every node has exited (for whatever reason). */
  async allExited(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.child.status));
  }

  async #stop(): Promise<void> {
    this.#stopping = true;
    const running = this.nodes.filter((n) => n.exited === undefined);
    for (const n of running) trySignal(n.child, "SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const graceOver = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, STOP_GRACE_MS);
    });
    await Promise.race([this.allExited(), graceOver]);
    clearTimeout(timer);
    for (const n of this.nodes) {
      if (n.exited === undefined) {
        this.out(`launcher: node ${n.planned.config.nodeId} did not stop in time; killing it`);
        trySignal(n.child, "SIGKILL");
      }
    }
    await this.allExited();
    await Promise.all(this.nodes.map((n) => n.pumps));
    for (const n of this.nodes) await n.child.stdin.close().catch(() => {});
    this.manifest = {
      ...this.manifest,
      nodes: this.manifest.nodes.map((m) => ({ ...m, pid: null })),
    };
    await writeManifest(this.plan.manifestFile, this.manifest).catch((e) =>
      this.out(`launcher: could not update the manifest: ${e}`)
    );
  }

  #watch(node: RunningNode): void {
    node.child.status.then(async (status) => {
      node.exited = status;
      const id = node.planned.config.nodeId;
      this.manifest = {
        ...this.manifest,
        nodes: this.manifest.nodes.map((m) => (m.id === id ? { ...m, pid: null } : m)),
      };
      if (this.#stopping) {
        this.out(`launcher: node ${id} stopped (${describeStatus(status)})`);
        return;
      }
      this.out(
        `launcher: node ${id} (pid ${node.child.pid}) died: ${
          describeStatus(status)
        }. Restart it with:\n  ${shellQuote(node.command)}`,
      );
      await writeManifest(this.plan.manifestFile, this.manifest).catch((e) =>
        this.out(`launcher: could not update the manifest: ${e}`)
      );
    });
  }

  async #waitReady(): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    const pending = new Set(this.nodes);
    while (pending.size > 0) {
      for (const node of [...pending]) {
        if (node.exited) {
          throw new LaunchError(
            `node ${node.planned.config.nodeId} exited while starting (${
              describeStatus(node.exited)
            }); see its output above`,
          );
        }
        if (await isReady(node.planned.config.listeners.client.advertisedUrl)) {
          pending.delete(node);
        }
      }
      if (pending.size === 0) break;
      if (Date.now() > deadline) {
        const ids = [...pending].map((n) => n.planned.config.nodeId).join(", ");
        throw new LaunchError(`node(s) ${ids} not ready after ${START_TIMEOUT_MS} ms`);
      }
      await new Promise((r) => setTimeout(r, READY_POLL_MS));
    }
  }
}

/** Fails with every taken port listed, before anything starts. */
async function assertPortsFree(plan: ClusterPlan): Promise<void> {
  const taken: string[] = [];
  for (const node of plan.nodes) {
    for (const [name, l] of Object.entries(node.config.listeners)) {
      try {
        const listener = Deno.listen({ hostname: l.host, port: l.port });
        listener.close();
      } catch (e) {
        if (!(e instanceof Deno.errors.AddrInUse)) throw e;
        taken.push(`${l.host}:${l.port} (node ${node.config.nodeId} ${name} listener)`);
      }
    }
  }
  await Promise.resolve();
  if (taken.length > 0) {
    throw new LaunchError(
      `port(s) already in use: ${
        taken.join(", ")
      }. Is another cluster running? Stop it, or pick other ports with --base-port and --internal-base-port`,
    );
  }
}

function spawnNode(planned: PlannedNode, out: Output): RunningNode {
  const command = [
    Deno.execPath(),
    "run",
    nodeV8HeapFlag(planned.heapMaxMb),
    // Extra `deno run` flags for profiling, e.g. "--v8-flags=--trace-gc" (README "Profiling"); V8
    // flags add to the heap flags above, and a V8 flag given twice takes its later value.
    ...(Deno.env.get("STROM_NODE_DENO_FLAGS")?.split(" ").filter((f) => f !== "") ?? []),
    "--allow-all",
    NODE_MAIN,
    "--config",
    planned.configFile,
  ];
  const child = new Deno.Command(command[0], {
    args: [...command.slice(1), "--exit-on-stdin-close"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const prefix = `node-${planned.config.nodeId} | `;
  const pumps = Promise.all([
    pumpLines(child.stdout, prefix, out),
    pumpLines(child.stderr, prefix, out),
  ]).then(() => {});
  return { planned, child, command, pumps, exited: undefined };
}

async function pumpLines(
  stream: ReadableStream<Uint8Array>,
  prefix: string,
  out: Output,
): Promise<void> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + chunk).split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) out(prefix + line);
  }
  if (rest) out(prefix + rest);
}

function manifestNode(n: RunningNode): ManifestNode {
  const c = n.planned.config;
  return {
    id: c.nodeId,
    pid: n.child.pid,
    clientUrl: c.listeners.client.advertisedUrl,
    internalUrl: c.listeners.internal.advertisedUrl,
    configFile: n.planned.configFile,
    dataDir: c.dataDir,
    command: n.command,
    commandLine: shellQuote(n.command),
  };
}

async function isReady(clientUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${clientUrl}/readyz`, { signal: AbortSignal.timeout(1000) });
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
}

function trySignal(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    child.kill(signal);
  } catch {
    // Already exited: nothing to stop.
  }
}

/** "exit code 1", "killed by signal SIGKILL". */
export function describeStatus(status: Deno.CommandStatus): string {
  return status.signal ? `killed by signal ${status.signal}` : `exit code ${status.code}`;
}
