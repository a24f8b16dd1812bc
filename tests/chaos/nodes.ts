/**
 * The chaos run's hold on the cluster's node processes: SIGKILL, SIGTERM,
 * SIGSTOP/SIGCONT, and restart with the manifest's command (plus the test
 * environment, so restarted nodes keep the network fault hook). Every
 * process it starts is tracked by pid and killed in {@link ChaosNodes.cleanup};
 * restarted nodes also hold a stdin pipe and exit when it closes, so even a
 * SIGKILLed chaos run leaves none behind.
 *
 * @module
 */

import type { LaunchedCluster } from "../_harness/launcher.ts";
import { processAlive } from "../_harness/process.ts";

/** Lines of a restarted node's output kept for reports. */
export const NODE_OUTPUT_LINES_MAX = 60;
/** Lines about log recovery kept per restarted node (the corrupt fault looks for its own). */
export const RECOVERY_LINES_MAX = 200;
/** What the storage layer logs when opening a log finds and cuts bad bytes. */
export const RECOVERY_LINE_PATTERN = /recovery (truncated|deleted)/;
/** The most a node started to be refused (a wiped voter) may run. */
export const REFUSAL_TIMEOUT_MS = 30_000;
/** How long a stopped node gets to exit after SIGTERM before SIGKILL. */
export const TERM_GRACE_MS = 10_000;

interface Child {
  readonly id: number;
  readonly proc: Deno.ChildProcess;
  readonly tail: string[];
  readonly recoveryLines: string[];
  readonly pumps: Promise<void>;
}

/** Keeps the last lines of a stream, and the first lines about log recovery. */
async function pumpTail(
  stream: ReadableStream<Uint8Array>,
  tail: string[],
  recoveryLines: string[],
): Promise<void> {
  const keep = (lines: string[]) => {
    tail.push(...lines);
    if (tail.length > NODE_OUTPUT_LINES_MAX) tail.splice(0, tail.length - NODE_OUTPUT_LINES_MAX);
    for (const line of lines) {
      if (recoveryLines.length < RECOVERY_LINES_MAX && RECOVERY_LINE_PATTERN.test(line)) {
        recoveryLines.push(line);
      }
    }
  };
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + chunk).split("\n");
    rest = parts.pop() ?? "";
    keep(parts);
  }
  if (rest) keep([rest]);
}

/** Signals and restarts for the nodes of one launched cluster. */
export class ChaosNodes {
  readonly #pids = new Map<number, number>();
  readonly #children: Child[] = [];
  readonly #paused = new Set<number>();

  constructor(readonly cluster: LaunchedCluster, readonly env: Record<string, string>) {
    for (const n of cluster.manifest.nodes) if (n.pid !== null) this.#pids.set(n.id, n.pid);
  }

  /** Node ids in manifest order. */
  get ids(): number[] {
    return this.cluster.manifest.nodes.map((n) => n.id);
  }

  /** The manifest entry of node `id`. */
  node(id: number) {
    const node = this.cluster.manifest.nodes.find((n) => n.id === id);
    if (!node) throw new Error(`no node ${id} in the manifest`);
    return node;
  }

  /** Whether node `id` has a live process (paused counts as alive). */
  alive(id: number): boolean {
    const pid = this.#pids.get(id);
    return pid !== undefined && processAlive(pid);
  }

  /** Client URLs of every node, in manifest order. */
  get clientUrls(): string[] {
    return this.cluster.manifest.nodes.map((n) => n.clientUrl);
  }

  /** SIGKILLs node `id` and waits (bounded) until its process is gone. */
  async kill(id: number): Promise<void> {
    const pid = this.#pids.get(id);
    if (pid === undefined || !processAlive(pid)) throw new Error(`node ${id} is not running`);
    if (this.#paused.has(id)) this.resume(id);
    Deno.kill(pid, "SIGKILL");
    this.#pids.delete(id);
    await this.#waitGone(pid, 5_000);
  }

  /** SIGTERMs node `id` (a clean stop), SIGKILL after {@link TERM_GRACE_MS}. */
  async stop(id: number): Promise<void> {
    const pid = this.#pids.get(id);
    if (pid === undefined || !processAlive(pid)) throw new Error(`node ${id} is not running`);
    Deno.kill(pid, "SIGTERM");
    if (!(await this.#waitGone(pid, TERM_GRACE_MS))) {
      Deno.kill(pid, "SIGKILL");
      await this.#waitGone(pid, 5_000);
    }
    this.#pids.delete(id);
  }

  /** Starts node `id` again with the manifest's command. */
  restart(id: number): void {
    if (this.alive(id)) throw new Error(`node ${id} still runs`);
    const command = this.node(id).command;
    const proc = new Deno.Command(command[0], {
      args: [...command.slice(1), "--exit-on-stdin-close"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: this.env,
    }).spawn();
    const tail: string[] = [];
    const recoveryLines: string[] = [];
    const pumps = Promise.all([
      pumpTail(proc.stdout, tail, recoveryLines),
      pumpTail(proc.stderr, tail, recoveryLines),
    ]).then(() => {});
    this.#children.push({ id, proc, tail, recoveryLines, pumps });
    this.#pids.set(id, proc.pid);
  }

  /**
   * Runs node `id`'s command expecting it to exit by itself (a refused
   * start); kills it by pid if it is still up after {@link REFUSAL_TIMEOUT_MS}.
   */
  async runToExit(id: number): Promise<{ code: number; output: string; timedOut: boolean }> {
    const command = this.node(id).command;
    const proc = new Deno.Command(command[0], {
      args: command.slice(1),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: this.env,
    }).spawn();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        proc.kill("SIGKILL");
      } catch { /* already exited */ }
    }, REFUSAL_TIMEOUT_MS);
    try {
      const out = await proc.output();
      const text = new TextDecoder();
      return {
        code: out.code,
        output: text.decode(out.stdout) + text.decode(out.stderr),
        timedOut,
      };
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGSTOPs node `id`: it keeps its sockets but answers nothing. */
  pause(id: number): void {
    const pid = this.#pids.get(id);
    if (pid === undefined) throw new Error(`node ${id} is not running`);
    Deno.kill(pid, "SIGSTOP");
    this.#paused.add(id);
  }

  /** SIGCONTs a node paused by {@link pause}. */
  resume(id: number): void {
    const pid = this.#pids.get(id);
    this.#paused.delete(id);
    if (pid !== undefined && processAlive(pid)) Deno.kill(pid, "SIGCONT");
  }

  /**
   * Lines about log recovery (see {@link RECOVERY_LINE_PATTERN}) printed by
   * the latest process this object started for node `id`; empty if none.
   */
  recoveryLines(id: number): readonly string[] {
    for (let i = this.#children.length - 1; i >= 0; i--) {
      if (this.#children[i].id === id) return this.#children[i].recoveryLines;
    }
    return [];
  }

  /** How many processes this object has started so far (see {@link recoveryLinesSince}). */
  get started(): number {
    return this.#children.length;
  }

  /**
   * Recovery lines of every process started for node `id` after the first
   * `since` processes (of any node) this object started: a damaged log is
   * opened by the first of them that gets that far.
   */
  recoveryLinesSince(id: number, since: number): string[] {
    return this.#children.slice(since).filter((c) => c.id === id).flatMap((c) => c.recoveryLines);
  }

  /** The last lines of every restarted node, for a failing run's report. */
  restartedOutput(): string {
    return this.#children.map((c) => `pid ${c.proc.pid}:\n${c.tail.join("\n")}`).join("\n");
  }

  /** Resumes paused nodes and kills (by pid) and reaps every node this object started. */
  async cleanup(): Promise<void> {
    for (const id of [...this.#paused]) this.resume(id);
    for (const child of this.#children) {
      if (processAlive(child.proc.pid)) {
        try {
          child.proc.kill("SIGKILL");
        } catch { /* gone meanwhile */ }
      }
      await child.proc.status;
      await child.proc.stdin.close().catch(() => {});
      await child.pumps;
    }
  }

  async #waitGone(pid: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (processAlive(pid)) {
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
    return true;
  }
}
