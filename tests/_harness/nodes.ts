/**
 * The nodes of a launched cluster as processes a test may SIGKILL, restart
 * (with the manifest's command), SIGSTOP and SIGCONT. `cleanup()` resumes
 * what it stopped and kills what it restarted, by pid, so a failing test
 * leaves nothing behind.
 *
 * @module
 */

import type { LaunchedCluster } from "./launcher.ts";
import { LineCollector, processAlive } from "./process.ts";

interface Restarted {
  readonly proc: Deno.ChildProcess;
  readonly out: LineCollector;
  readonly err: LineCollector;
}

/** Signals and restarts for the nodes of one launched cluster. */
export class ClusterNodes {
  readonly #pids = new Map<number, number>();
  readonly #restarted = new Map<number, Restarted[]>();
  readonly #stopped = new Set<number>();

  constructor(readonly cluster: LaunchedCluster) {
    for (const n of cluster.manifest.nodes) if (n.pid !== null) this.#pids.set(n.id, n.pid);
  }

  /** Node ids, in manifest order. */
  get ids(): number[] {
    return this.cluster.manifest.nodes.map((n) => n.id);
  }

  /** The client URL of node `id`. */
  clientUrl(id: number): string {
    return this.#node(id).clientUrl;
  }

  /** The node whose client URL this is, or undefined. */
  idOfUrl(url: string): number | undefined {
    return this.cluster.manifest.nodes.find((n) => n.clientUrl === url)?.id;
  }

  /** Whether node `id` runs (and is not stopped). */
  running(id: number): boolean {
    const pid = this.#pids.get(id);
    return pid !== undefined && !this.#stopped.has(id) && processAlive(pid);
  }

  /** Client URLs of the nodes that run. */
  liveUrls(): string[] {
    return this.ids.filter((id) => this.running(id)).map((id) => this.clientUrl(id));
  }

  /** SIGKILLs node `id`. */
  kill(id: number): void {
    const pid = this.#pids.get(id);
    if (pid === undefined || !processAlive(pid)) throw new Error(`node ${id} is not running`);
    Deno.kill(pid, "SIGKILL");
    this.#pids.delete(id);
  }

  /** SIGTERMs node `id` (a clean stop: controlled shutdown) and waits up to `timeoutMs` for it to exit. */
  async terminate(id: number, timeoutMs = 30_000): Promise<void> {
    const pid = this.#pids.get(id);
    if (pid === undefined || !processAlive(pid)) throw new Error(`node ${id} is not running`);
    Deno.kill(pid, "SIGTERM");
    const deadline = Date.now() + timeoutMs;
    while (processAlive(pid)) {
      if (Date.now() > deadline) {
        throw new Error(`node ${id} did not exit ${timeoutMs} ms after SIGTERM`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    this.#pids.delete(id);
  }

  /** Starts node `id` again with the manifest's command. */
  restart(id: number): void {
    if (this.#pids.has(id) && processAlive(this.#pids.get(id)!)) {
      throw new Error(`node ${id} still runs`);
    }
    const command = this.#node(id).command;
    const proc = new Deno.Command(command[0], {
      args: command.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const list = this.#restarted.get(id) ?? [];
    list.push({ proc, out: new LineCollector(proc.stdout), err: new LineCollector(proc.stderr) });
    this.#restarted.set(id, list);
    this.#pids.set(id, proc.pid);
  }

  /** SIGSTOPs node `id`: it keeps its sockets but answers nothing. */
  pause(id: number): void {
    Deno.kill(this.#pids.get(id)!, "SIGSTOP");
    this.#stopped.add(id);
  }

  /** SIGCONTs a node paused by {@link pause}. */
  resume(id: number): void {
    Deno.kill(this.#pids.get(id)!, "SIGCONT");
    this.#stopped.delete(id);
  }

  /** The last lines restarted nodes printed on stderr, for failure reports. */
  restartedLogs(linesMax = 40): string {
    return [...this.#restarted].map(([id, list]) =>
      list.map((r) => `restarted node ${id}:\n${r.err.lines.slice(-linesMax).join("\n")}`).join(
        "\n",
      )
    ).join("\n");
  }

  /** Resumes paused nodes, kills restarted ones (by pid) and waits for their output to end. */
  async cleanup(): Promise<void> {
    for (const id of [...this.#stopped]) {
      try {
        this.resume(id);
      } catch { /* already gone */ }
    }
    for (const list of this.#restarted.values()) {
      for (const r of list) {
        if (processAlive(r.proc.pid)) r.proc.kill("SIGKILL");
        await r.proc.status;
        await Promise.all([r.out.done, r.err.done]);
      }
    }
  }

  #node(id: number) {
    const node = this.cluster.manifest.nodes.find((n) => n.id === id);
    if (!node) throw new Error(`no node ${id} in the manifest`);
    return node;
  }
}
