/**
 * The cluster a benchmark runs against: a fresh local cluster started
 * through the launcher (temp data dir, free ports) and stopped afterwards,
 * or a running one given by `--brokers` and/or `--manifest`. It knows each
 * node's pid (for RSS/CPU sampling) and, with a manifest, can SIGKILL a node
 * and restart it with the manifest's command.
 *
 * @module
 */

import type { Manifest, ManifestNode } from "../../broker/launcher/manifest.ts";
import { readManifest } from "../../broker/launcher/manifest.ts";
import type { LaunchedCluster } from "../_harness/launcher.ts";
import { launchCluster } from "../_harness/launcher.ts";
import { processAlive } from "../_harness/process.ts";

/** A cluster under benchmark. */
export class BenchCluster {
  readonly urls: readonly string[];
  readonly #manifest: Manifest | undefined;
  readonly #launched: LaunchedCluster | undefined;
  readonly #pids = new Map<number, number>();
  /** Nodes this bench restarted: it kills them at the end. */
  readonly #restarted: Deno.ChildProcess[] = [];

  private constructor(
    urls: readonly string[],
    manifest: Manifest | undefined,
    launched: LaunchedCluster | undefined,
  ) {
    this.urls = urls;
    this.#manifest = manifest;
    this.#launched = launched;
    for (const n of manifest?.nodes ?? []) if (n.pid !== null) this.#pids.set(n.id, n.pid);
  }

  /** Starts a fresh local cluster of `nodes` nodes. */
  static async launch(nodes: number): Promise<BenchCluster> {
    const launched = await launchCluster({ nodes });
    return new BenchCluster(
      launched.manifest.nodes.map((n) => n.clientUrl),
      launched.manifest,
      launched,
    );
  }

  /** Uses a running cluster. */
  static async attach(
    brokers: readonly string[] | undefined,
    manifestPath: string | undefined,
  ): Promise<BenchCluster> {
    const manifest = manifestPath ? await readManifest(manifestPath) : undefined;
    if (manifestPath && !manifest) throw new Error(`no manifest at ${manifestPath}`);
    const urls = brokers ?? manifest?.nodes.map((n) => n.clientUrl) ?? [];
    return new BenchCluster(urls, manifest, undefined);
  }

  /** Whether nodes can be killed and restarted (a manifest is known). */
  get controllable(): boolean {
    return this.#manifest !== undefined;
  }

  /** Node id → current pid. */
  get pids(): ReadonlyMap<number, number> {
    return this.#pids;
  }

  /** The pid of node `id`. */
  pidOf(id: number): number | undefined {
    return this.#pids.get(id);
  }

  /** The node id whose client URL is `url`. */
  idOfUrl(url: string): number | undefined {
    return this.#manifest?.nodes.find((n) => n.clientUrl === url)?.id;
  }

  /** SIGKILLs node `id`. */
  kill(id: number): void {
    const pid = this.#pids.get(id);
    if (pid === undefined || !processAlive(pid)) throw new Error(`node ${id} is not running`);
    Deno.kill(pid, "SIGKILL");
    this.#pids.delete(id);
  }

  /**
   * Restarts node `id` with the manifest's command; returns its new pid. Its
   * output is appended to `node-{id}.restarted.log` beside the node's data
   * dir, for diagnosis.
   */
  restart(id: number): number {
    const node = this.#node(id);
    const proc = new Deno.Command(node.command[0], {
      args: node.command.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const logPath = `${node.dataDir.replace(/\/+$/, "")}.restarted.log`;
    for (const stream of [proc.stdout, proc.stderr]) {
      const file = Deno.openSync(logPath, { append: true, create: true });
      // The pipe closes when the process exits; a failed write only loses log lines.
      stream.pipeTo(file.writable).catch(() => {});
    }
    this.#restarted.push(proc);
    this.#pids.set(id, proc.pid);
    return proc.pid;
  }

  /** Kills the nodes this bench restarted, then stops the cluster it launched. */
  async stop(): Promise<void> {
    for (const proc of this.#restarted) {
      if (processAlive(proc.pid)) {
        try {
          proc.kill("SIGKILL");
        } catch { /* exited meanwhile */ }
      }
      await proc.status;
    }
    await this.#launched?.cleanup();
  }

  #node(id: number): ManifestNode {
    const node = this.#manifest?.nodes.find((n) => n.id === id);
    if (!node) throw new Error(`node ${id} is not in the manifest`);
    return node;
  }
}
