/**
 * `deno task start`: a local Strom cluster of combined broker+controller
 * nodes on one machine. Stops every node cleanly on Ctrl-C or SIGTERM and
 * exits 0; a second Ctrl-C kills the nodes at once.
 *
 * Exit codes: 0 clean stop, 2 bad flags, 1 the cluster could not start.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { newClusterId } from "./config/data_dir.ts";
import type { GroupsConfig } from "./config/node_config.ts";
import { DEFAULT_GROUPS, groupsField } from "./config/node_config.ts";
import {
  defaultInternalBasePort,
  NODE_HEAP_MAX_MB_DEFAULT,
  planLocalCluster,
  validateLocalClusterOptions,
} from "./launcher/cluster_plan.ts";
import type { ClusterPlan } from "./launcher/cluster_plan.ts";
import { LaunchError, LocalCluster } from "./launcher/launcher.ts";
import { readManifest } from "./launcher/manifest.ts";

const USAGE =
  `usage: deno task start [--nodes N] [--broker-only M] [--controller-only K] [--racks a,b,c]
                       [--base-port P] [--internal-base-port P] [--data-dir DIR] [--host HOST]
                       [--groups JSON] [--heap-max-mb MIB]

Starts a local Strom cluster: N nodes (default 3), each broker and controller.
  --nodes N               how many nodes (1-9, default 3)
  --broker-only M         make the last M nodes broker-only: they follow the metadata
                          log as observers and never vote (default 0)
  --controller-only K     make the first K nodes controller-only: they vote and may be
                          the active controller but host no partitions (default 0)
  --racks a,b,c           give node i the rack number (i-1) mod 3 of this list, so new
                          topics spread replicas over racks (default: no racks)
  --base-port P           first client port (default 9092: nodes use 9092, 9093, ...)
  --internal-base-port P  first internal port (default base port + 10000)
  --data-dir DIR          where data lives (default ./.strom-data)
  --host HOST             address to listen on (default 127.0.0.1)
  --groups JSON           every node's "groups" config section (consumer groups), e.g.
                          '{"sessionTimeoutMs": 3000, "heartbeatIntervalMs": 300}'
  --heap-max-mb MIB       JS heap cap of each node process in MiB (V8's old space;
                          default 1024, like Kafka's 1 GiB broker heap)`;

/** The `--groups` JSON, validated as a config file's `groups` section would be. */
function groupsFlag(json: string | undefined, problems: string[]): GroupsConfig | undefined {
  if (json === undefined) return DEFAULT_GROUPS;
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (e) {
    problems.push(`--groups must be a JSON object: ${(e as Error).message}`);
    return undefined;
  }
  return groupsField(raw, problems, "--groups");
}

async function main(): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: Deno.args,
      options: {
        nodes: { type: "string", default: "3" },
        "broker-only": { type: "string", default: "0" },
        "controller-only": { type: "string", default: "0" },
        racks: { type: "string" },
        "base-port": { type: "string", default: "9092" },
        "internal-base-port": { type: "string" },
        "data-dir": { type: "string", default: ".strom-data" },
        host: { type: "string", default: "127.0.0.1" },
        groups: { type: "string" },
        "heap-max-mb": { type: "string", default: String(NODE_HEAP_MAX_MB_DEFAULT) },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    console.error(`strom start: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const nodes = Number(values.nodes);
  const basePort = Number(values["base-port"]);
  const internalBasePort = values["internal-base-port"] === undefined
    ? defaultInternalBasePort(basePort)
    : Number(values["internal-base-port"]);
  const brokerOnly = Number(values["broker-only"]);
  const controllerOnly = Number(values["controller-only"]);
  const racks = values.racks === undefined ? [] : values.racks.split(",").map((r) => r.trim());
  const shape = {
    nodes,
    brokerOnly,
    controllerOnly,
    racks,
    basePort,
    internalBasePort,
    host: values.host,
    heapMaxMb: Number(values["heap-max-mb"]),
  };
  const problems = validateLocalClusterOptions(shape);
  const groups = groupsFlag(values.groups, problems);
  if (problems.length > 0 || !groups) {
    console.error(`strom start: ${problems.join("\n  ")}\n${USAGE}`);
    return 2;
  }
  const dataDir = resolve(values["data-dir"]);

  let plan: ClusterPlan;
  try {
    const previous = await readManifest(`${dataDir}/cluster.json`);
    if (previous && previous.nodes.length !== nodes) {
      console.error(
        `strom start: ${dataDir} holds a ${previous.nodes.length}-node cluster; start it with --nodes ${previous.nodes.length}, or use another --data-dir for a new cluster`,
      );
      return 2;
    }
    const clusterId = previous?.clusterId ?? newClusterId();
    plan = planLocalCluster({ ...shape, dataDir, clusterId, groups });
  } catch (e) {
    console.error(`strom start: ${(e as Error).message}`);
    return 2;
  }

  const out = (line: string) => console.log(line);
  let cluster: LocalCluster;
  try {
    cluster = await LocalCluster.start(plan, out);
  } catch (e) {
    if (e instanceof LaunchError || e instanceof Deno.errors.PermissionDenied) {
      console.error(`strom start: ${(e as Error).message}`);
      return 1;
    }
    throw e;
  }
  out(banner(cluster));

  let signals = 0;
  const stopRequested = Promise.withResolvers<void>();
  const onSignal = () => {
    signals++;
    if (signals === 1) {
      out("launcher: stopping every node (Ctrl-C again to kill them now)...");
      stopRequested.resolve();
    } else {
      for (const n of cluster.currentManifest.nodes) {
        if (n.pid !== null) {
          try {
            Deno.kill(n.pid, "SIGKILL");
          } catch {
            // already gone
          }
        }
      }
    }
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  await stopRequested.promise;
  await cluster.stop();
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
  out("launcher: all nodes stopped");
  return 0;
}

function banner(cluster: LocalCluster): string {
  const m = cluster.currentManifest;
  const first = m.nodes[0];
  const last = m.nodes[m.nodes.length - 1];
  return [
    "",
    `Strom is running: ${m.nodes.length} node(s), cluster id ${m.clusterId}`,
    ...m.nodes.map((n) => {
      const config = cluster.plan.nodes.find((p) => p.config.nodeId === n.id)?.config;
      const role = !config?.roles.includes("controller")
        ? "broker-only observer"
        : config.roles.includes("broker")
        ? "voter"
        : "controller-only voter";
      const rack = config?.rack ? `  rack ${config.rack}` : "";
      return `  node ${n.id}  client ${n.clientUrl}  internal ${n.internalUrl}  pid ${n.pid}  (${role}${rack})`;
    }),
    `  data     ${m.dataDir}`,
    `  manifest ${cluster.plan.manifestFile}`,
    "",
    "Try:",
    `  curl -s ${first.clientUrl}/v1/cluster`,
    `  curl -s --http2-prior-knowledge ${last.clientUrl}/healthz`,
    `  deno task cli cluster describe --bootstrap-server ${first.clientUrl}`,
    "",
    "Press Ctrl-C to stop every node.",
    "",
  ].join("\n");
}

if (import.meta.main) Deno.exit(await main());
