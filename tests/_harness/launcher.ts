/**
 * Starts `broker/launcher_main.ts` as a real process on free ports and a
 * temp data dir, exactly as `deno task start` does, for integration tests.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import type { Manifest } from "../../broker/launcher/manifest.ts";
import { readManifest } from "../../broker/launcher/manifest.ts";
import { freePortBase, LineCollector, processAlive } from "./process.ts";

const LAUNCHER_MAIN = fileURLToPath(new URL("../../broker/launcher_main.ts", import.meta.url));

/** The most a test waits for a cluster to come up. */
export const CLUSTER_START_TIMEOUT_MS = 60_000;

/** A launcher process and what it printed. */
export interface LaunchedCluster {
  readonly process: Deno.ChildProcess;
  readonly output: LineCollector;
  readonly dataDir: string;
  readonly basePort: number;
  readonly manifest: Manifest;
  /** SIGTERMs the launcher, waits for it, SIGKILLs any node pid left, removes the data dir. */
  cleanup(): Promise<Deno.CommandStatus>;
}

/** Runs the launcher with extra `args`; resolves once it printed its banner. */
export async function launchCluster(
  options: { nodes?: number; args?: string[]; env?: Record<string, string> } = {},
): Promise<LaunchedCluster> {
  const nodes = options.nodes ?? 3;
  const dataDir = await Deno.makeTempDir({ prefix: "strom-test-" });
  const basePort = freePortBase(nodes);
  const process = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      LAUNCHER_MAIN,
      "--nodes",
      String(nodes),
      "--base-port",
      String(basePort),
      "--data-dir",
      dataDir,
      ...(options.args ?? []),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    // Added to this process's environment; the launcher's nodes inherit it.
    ...(options.env ? { env: options.env } : {}),
  }).spawn();
  const output = new LineCollector(process.stdout);
  const errors = new LineCollector(process.stderr);
  let status: Deno.CommandStatus | undefined;
  const cleanup = async () => {
    const pids = (await readManifest(`${dataDir}/cluster.json`).catch(() => undefined))?.nodes
      .map((n) => n.pid).filter((p): p is number => p !== null) ?? [];
    if (!status) {
      try {
        process.kill("SIGTERM");
      } catch { /* already exited */ }
      status = await process.status;
    }
    for (const pid of pids) {
      if (processAlive(pid)) Deno.kill(pid, "SIGKILL");
    }
    await Promise.all([output.done, errors.done]);
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    return status;
  };
  try {
    await output.waitFor(/^Strom is running/, CLUSTER_START_TIMEOUT_MS);
  } catch (e) {
    await cleanup();
    throw new Error(`${(e as Error).message}\nlauncher stderr:\n${errors.lines.join("\n")}`);
  }
  const manifest = await readManifest(`${dataDir}/cluster.json`);
  if (!manifest) throw new Error("launcher printed its banner but wrote no manifest");
  return { process, output, dataDir, basePort, manifest, cleanup };
}
