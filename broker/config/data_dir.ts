/**
 * A node's data directory identity, like Kafka's `meta.properties`.
 *
 * The first start formats the directory: it records the cluster id, the node
 * id and a fresh random directory id. Every later start checks them, so a
 * node never serves a directory that belongs to another cluster or another
 * node. The directory id is what lets the quorum notice a wiped disk: a node
 * whose data was lost comes back with a new directory id and must not be
 * taken for the voter it was (it may have voted or acknowledged entries that
 * it no longer has).
 *
 * @module
 */

import { join } from "node:path";
import { writeFileAtomic } from "../fs/atomic_write.ts";

/** The file, inside the data directory, that holds its identity. */
export const META_FILE = "meta.properties";

/** The layout version of the data directory; a newer one is refused. */
export const DATA_DIR_VERSION = 1;

/** The identity recorded in a data directory. */
export interface DataDirMeta {
  readonly version: number;
  readonly clusterId: string;
  readonly nodeId: number;
  readonly directoryId: string;
}

/** The directory belongs to something else; the message says what to do. */
export class DataDirMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DataDirMismatchError";
  }
}

/**
 * Formats `dataDir` if it has no identity yet, otherwise checks that it
 * belongs to `clusterId` and `nodeId`. Returns the identity and whether this
 * call formatted the directory.
 */
export async function formatOrVerifyDataDir(
  dataDir: string,
  expected: { clusterId: string; nodeId: number },
): Promise<{ meta: DataDirMeta; formatted: boolean }> {
  await Deno.mkdir(dataDir, { recursive: true });
  const path = join(dataDir, META_FILE);
  let text: string | undefined;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (text === undefined) {
    const meta: DataDirMeta = {
      version: DATA_DIR_VERSION,
      clusterId: expected.clusterId,
      nodeId: expected.nodeId,
      directoryId: newDirectoryId(),
    };
    await writeFileAtomic(path, new TextEncoder().encode(formatMeta(meta)));
    return { meta, formatted: true };
  }
  const meta = parseMeta(text, path);
  if (meta.version > DATA_DIR_VERSION) {
    throw new DataDirMismatchError(
      `${path} has layout version ${meta.version}, newer than this Strom understands (${DATA_DIR_VERSION}); run a newer Strom or point dataDir elsewhere`,
    );
  }
  if (meta.clusterId !== expected.clusterId) {
    throw new DataDirMismatchError(
      `data dir ${dataDir} belongs to cluster ${meta.clusterId}, but this node is configured for cluster ${expected.clusterId}; point dataDir at this cluster's directory, or remove the directory if its data is no longer wanted`,
    );
  }
  if (meta.nodeId !== expected.nodeId) {
    throw new DataDirMismatchError(
      `data dir ${dataDir} belongs to node ${meta.nodeId}, but this node is configured as node ${expected.nodeId}; each node needs its own data dir`,
    );
  }
  return { meta, formatted: false };
}

/** 16 random bytes, base64url without padding: the shape of Kafka's ids. */
export function newDirectoryId(): string {
  return randomId();
}

/** A new cluster id (same shape as a directory id). */
export function newClusterId(): string {
  return randomId();
}

/**
 * Never starts with "-" (1 in 64 would): command-line parsers take
 * `--directory-id -XYZ` for a missing argument followed by an option, so the
 * re-add steps an operator is told to run would fail for that node. Kafka's
 * `Uuid.randomUuid()` draws again for the same reason.
 */
function randomId(): string {
  for (;;) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    let bin = "";
    for (const b of bytes) bin += String.fromCharCode(b);
    const id = btoa(bin).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
    if (!id.startsWith("-")) return id;
  }
}

function formatMeta(meta: DataDirMeta): string {
  return [
    "# Strom data directory identity. Do not edit: a node refuses a directory that is not its own.",
    `version=${meta.version}`,
    `cluster.id=${meta.clusterId}`,
    `node.id=${meta.nodeId}`,
    `directory.id=${meta.directoryId}`,
    "",
  ].join("\n");
}

function parseMeta(text: string, path: string): DataDirMeta {
  const props = new Map<string, string>();
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const eq = trimmed.indexOf("=");
    if (eq > 0) props.set(trimmed.slice(0, eq), trimmed.slice(eq + 1));
  }
  const version = Number(props.get("version"));
  const nodeId = Number(props.get("node.id"));
  const clusterId = props.get("cluster.id");
  const directoryId = props.get("directory.id");
  if (
    !Number.isInteger(version) || !Number.isInteger(nodeId) || !clusterId || !directoryId
  ) {
    throw new DataDirMismatchError(
      `${path} is damaged (needs version, cluster.id, node.id and directory.id); restore it from a backup, or remove the data dir to start this node empty`,
    );
  }
  return { version, clusterId, nodeId, directoryId };
}
