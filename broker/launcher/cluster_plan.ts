/**
 * Plans a local cluster: which node gets which ports, directories and config
 * file. Pure, so the port and path layout is unit-tested without starting
 * anything. The launcher turns a plan into files and processes.
 *
 * Layout under the data dir:
 * ```
 * cluster.json        the manifest (ids, pids, urls, restart commands)
 * cluster.secret      the shared secret (mode 0600)
 * node-1.json         node 1's config (what `deno task node --config` reads)
 * node-1/             node 1's data dir
 * ```
 *
 * @module
 */

import { join } from "node:path";
import type { GroupsConfig, NodeConfig, VoterConfig } from "../config/node_config.ts";
import { DEFAULT_GROUPS, DEFAULT_TIMEOUTS, RACK_PATTERN } from "../config/node_config.ts";

/** The most nodes the local launcher starts: a local cluster is for development. */
export const LOCAL_NODES_MAX = 9;

/**
 * The JS heap cap of each node process (V8's old space), in MiB: Kafka's
 * brokers start with a 1 GiB heap (`-Xmx1G`) for the same reason. Without a
 * cap V8 sizes for this machine's RAM and lets a broker's heap grow to about
 * four times its live objects before a full collection: with 10,000
 * partitions, 200 of 260 MiB committed were garbage during failovers (58 MiB
 * live). With a 1 GiB cap V8 collects at about 1.6 times the live size.
 */
export const NODE_HEAP_MAX_MB_DEFAULT = 1024;
/**
 * The cap of each of the two semi-spaces of a node's young generation (V8
 * `--max-semi-space-size`), in MiB. V8 scales it with the heap cap: 32 MiB
 * for a 1 GiB heap, so 64 MiB of new space stays committed once a burst of
 * allocation has grown it. With 10,000 partitions a failover survivor's new
 * space held 62 of its 148 MiB of JS heap committed (57 MiB live). With 4
 * MiB, alternated against V8's 32: the failover bench's peak RSS 254 and 274
 * against 339–369 MiB, the 85,000 rec/s run's 165 against 239, max produce's
 * 215 against 227–236; max produce, p99 and broker CPU unchanged (8 MiB gave
 * the same speed and ~10–25 MiB more RSS).
 */
export const NODE_SEMI_SPACE_MAX_MB = 4;

/** The `deno run` flag that sizes a node's JS heap: old space `heapMaxMb`, young {@link NODE_SEMI_SPACE_MAX_MB}. */
export function nodeV8HeapFlag(heapMaxMb: number): string {
  return `--v8-flags=--max-old-space-size=${heapMaxMb},--max-semi-space-size=${NODE_SEMI_SPACE_MAX_MB}`;
}

/** Below this a node cannot hold the metadata of a large cluster. */
export const NODE_HEAP_MAX_MB_MIN = 128;
/** Above this V8's heap sizing is its uncapped default anyway. */
export const NODE_HEAP_MAX_MB_MAX = 65_536;

/** What the user asked for. */
export interface LocalClusterOptions {
  readonly nodes: number;
  readonly host: string;
  /** Client ports are `basePort .. basePort + nodes - 1`. */
  readonly basePort: number;
  /** Internal ports are `internalBasePort .. internalBasePort + nodes - 1`. */
  readonly internalBasePort: number;
  /** Absolute path. */
  readonly dataDir: string;
  readonly clusterId: string;
  /**
   * How many of the nodes (the highest ids) are broker-only: they follow the
   * metadata log as observers and never vote. The rest are combined
   * broker+controller voters. Default 0.
   */
  readonly brokerOnly?: number;
  /**
   * How many of the voters (the lowest ids) are controller-only: they vote
   * and may be the active controller but never host partitions (Kafka's
   * isolated mode). Default 0.
   */
  readonly controllerOnly?: number;
  /** Racks assigned round-robin to nodes 1, 2, ... (node i gets `racks[(i-1) % length]`); none by default. */
  readonly racks?: readonly string[];
  /** Every node's `groups` section (consumer group settings); the defaults if left out. */
  readonly groups?: GroupsConfig;
  /** Each node process's JS heap cap in MiB; {@link NODE_HEAP_MAX_MB_DEFAULT} if left out. */
  readonly heapMaxMb?: number;
}

/** One planned node: its config and where that config is written. */
export interface PlannedNode {
  readonly config: NodeConfig;
  readonly configFile: string;
  /** The process's JS heap cap (V8 `--max-old-space-size`), in MiB. */
  readonly heapMaxMb: number;
}

/** A planned cluster. */
export interface ClusterPlan {
  readonly clusterId: string;
  readonly dataDir: string;
  readonly manifestFile: string;
  readonly secretFile: string;
  readonly nodes: readonly PlannedNode[];
}

/** The client port the internal ports start at, by default. */
export function defaultInternalBasePort(basePort: number): number {
  return basePort + 10_000;
}

/** Checks the options; returns one message per problem. */
export function validateLocalClusterOptions(
  o: Omit<LocalClusterOptions, "clusterId" | "dataDir">,
): string[] {
  const problems: string[] = [];
  if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > LOCAL_NODES_MAX) {
    problems.push(`--nodes must be an integer from 1 to ${LOCAL_NODES_MAX} (got ${o.nodes})`);
  }
  for (
    const [flag, port] of [["--base-port", o.basePort], [
      "--internal-base-port",
      o.internalBasePort,
    ]] as const
  ) {
    if (!Number.isInteger(port) || port < 1024 || port + Math.max(o.nodes, 1) - 1 > 65535) {
      problems.push(
        `${flag} must be an integer from 1024 to ${
          65536 - Math.max(o.nodes, 1)
        } so that every node's port fits (got ${port})`,
      );
    }
  }
  const clientEnd = o.basePort + o.nodes - 1;
  const internalEnd = o.internalBasePort + o.nodes - 1;
  if (o.basePort <= internalEnd && o.internalBasePort <= clientEnd) {
    problems.push(
      `client ports ${o.basePort}-${clientEnd} overlap internal ports ${o.internalBasePort}-${internalEnd}; choose another --internal-base-port`,
    );
  }
  const brokerOnly = o.brokerOnly ?? 0;
  if (!Number.isInteger(brokerOnly) || brokerOnly < 0 || brokerOnly >= o.nodes) {
    problems.push(
      `--broker-only must be an integer from 0 to ${
        Math.max(0, o.nodes - 1)
      } so that at least one node is a controller (got ${brokerOnly})`,
    );
  }
  const controllerOnly = o.controllerOnly ?? 0;
  if (
    !Number.isInteger(controllerOnly) || controllerOnly < 0 ||
    controllerOnly > o.nodes - brokerOnly || (controllerOnly === o.nodes && o.nodes > 0)
  ) {
    problems.push(
      `--controller-only must be an integer from 0 to the number of voters (${
        o.nodes - brokerOnly
      }), leaving at least one node with the broker role (got ${controllerOnly})`,
    );
  }
  const heapMaxMb = o.heapMaxMb ?? NODE_HEAP_MAX_MB_DEFAULT;
  if (
    !Number.isInteger(heapMaxMb) || heapMaxMb < NODE_HEAP_MAX_MB_MIN ||
    heapMaxMb > NODE_HEAP_MAX_MB_MAX
  ) {
    problems.push(
      `--heap-max-mb must be an integer from ${NODE_HEAP_MAX_MB_MIN} to ${NODE_HEAP_MAX_MB_MAX} (MiB of JS heap per node; got ${heapMaxMb})`,
    );
  }
  for (const rack of o.racks ?? []) {
    if (!RACK_PATTERN.test(rack)) {
      problems.push(
        `--racks: "${rack}" is not a rack name (1 to 255 letters, digits, ".", "_" or "-")`,
      );
    }
  }
  return problems;
}

/**
 * Plans every node of a local cluster: `controllerOnly` controller-only
 * voters, then combined broker+controller voters, then `brokerOnly`
 * broker-only observers.
 */
export function planLocalCluster(o: LocalClusterOptions): ClusterPlan {
  const hostInUrl = o.host.includes(":") ? `[${o.host}]` : o.host;
  const ids = Array.from({ length: o.nodes }, (_, i) => i + 1);
  const endpoints: VoterConfig[] = ids.map((id) => ({
    id,
    clientUrl: `http://${hostInUrl}:${o.basePort + id - 1}`,
    internalUrl: `http://${hostInUrl}:${o.internalBasePort + id - 1}`,
  }));
  const voterCount = o.nodes - (o.brokerOnly ?? 0);
  const voters = endpoints.slice(0, voterCount);
  const racks = o.racks ?? [];
  const secretFile = join(o.dataDir, "cluster.secret");
  const nodes = endpoints.map((v): PlannedNode => ({
    configFile: join(o.dataDir, `node-${v.id}.json`),
    heapMaxMb: o.heapMaxMb ?? NODE_HEAP_MAX_MB_DEFAULT,
    config: {
      nodeId: v.id,
      clusterId: o.clusterId,
      roles: v.id <= (o.controllerOnly ?? 0)
        ? ["controller"]
        : v.id <= voterCount
        ? ["broker", "controller"]
        : ["broker"],
      rack: racks.length > 0 ? racks[(v.id - 1) % racks.length] : null,
      dataDir: join(o.dataDir, `node-${v.id}`),
      listeners: {
        client: { host: o.host, port: o.basePort + v.id - 1, advertisedUrl: v.clientUrl },
        internal: {
          host: o.host,
          port: o.internalBasePort + v.id - 1,
          advertisedUrl: v.internalUrl,
        },
      },
      voters,
      clusterSecretFile: secretFile,
      timeouts: DEFAULT_TIMEOUTS,
      groups: o.groups ?? DEFAULT_GROUPS,
    },
  }));
  return {
    clusterId: o.clusterId,
    dataDir: o.dataDir,
    manifestFile: join(o.dataDir, "cluster.json"),
    secretFile,
    nodes,
  };
}

/** The JSON a node's config file holds (paths made relative to the data dir, so it can move). */
export function configFileJson(node: PlannedNode): unknown {
  const c = node.config;
  return {
    nodeId: c.nodeId,
    clusterId: c.clusterId,
    roles: c.roles,
    ...(c.rack === null ? {} : { rack: c.rack }),
    dataDir: `node-${c.nodeId}`,
    listeners: c.listeners,
    voters: c.voters,
    clusterSecretFile: "cluster.secret",
    timeouts: c.timeouts,
    groups: c.groups,
  };
}
