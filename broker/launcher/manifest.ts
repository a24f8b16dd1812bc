/**
 * The cluster manifest, `cluster.json` in the data dir: what the launcher
 * started and how to restart each node. Scripts, chaos tests and benchmarks
 * read it to find, kill and restart nodes.
 *
 * @module
 */

import { writeFileAtomic } from "../fs/atomic_write.ts";

/** One node as the launcher started it. */
export interface ManifestNode {
  readonly id: number;
  /** The node's process id while it runs; `null` once the launcher saw it exit. */
  readonly pid: number | null;
  readonly clientUrl: string;
  readonly internalUrl: string;
  readonly configFile: string;
  readonly dataDir: string;
  /** The exact argv that (re)starts this node. */
  readonly command: readonly string[];
  /** The same as a shell command line. */
  readonly commandLine: string;
}

/** The whole manifest. */
export interface Manifest {
  readonly clusterId: string;
  readonly dataDir: string;
  readonly secretFile: string;
  readonly launcherPid: number;
  readonly startedAt: string;
  readonly nodes: readonly ManifestNode[];
}

/** Writes the manifest atomically, so a reader never sees half of it. */
export async function writeManifest(path: string, manifest: Manifest): Promise<void> {
  await writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(manifest, null, 2) + "\n"));
}

/** Reads a manifest; `undefined` if there is none. */
export async function readManifest(path: string): Promise<Manifest | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  const parsed = JSON.parse(text) as Manifest;
  if (typeof parsed?.clusterId !== "string" || !Array.isArray(parsed.nodes)) {
    throw new Error(
      `${path} is not a Strom cluster manifest; move it away or use another --data-dir`,
    );
  }
  return parsed;
}

/** Quotes argv for a POSIX shell. */
export function shellQuote(argv: readonly string[]): string {
  return argv.map((
    a,
  ) => (/^[A-Za-z0-9_\-./:=@%+]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`))
    .join(" ");
}
