/**
 * `strom cluster describe`: the brokers and the metadata quorum, like
 * `kafka-broker-api-versions.sh` plus `kafka-metadata-quorum.sh describe
 * --status`.
 *
 * @module
 */

import type { BrokerDescription } from "../admin/admin.ts";
import type { Strom } from "../strom.ts";
import type { CliIo } from "./cli_io.ts";
import { UsageError } from "./cli_io.ts";
import { parseFlags } from "./options.ts";
import { table } from "./table.ts";

/** Usage of `strom cluster`. */
export const CLUSTER_USAGE = `usage: strom cluster describe [options]

The cluster id, its brokers (fenced or not) and the metadata quorum's status.

Options:
  --bootstrap-server URL   a broker's client URL (default http://127.0.0.1:9092)
  --json                   print JSON instead of tables
  -h, --help               show this help`;

/** Parses the flags of `strom cluster describe`. */
export function parseClusterFlags(args: string[]) {
  return parseFlags(args, {}, CLUSTER_USAGE).values;
}

/** Runs `strom cluster <action>`; returns the exit code. */
export async function clusterCommand(
  action: string | undefined,
  flags: ReturnType<typeof parseClusterFlags>,
  strom: Strom,
  io: CliIo,
): Promise<number> {
  if (action !== "describe") {
    throw new UsageError(
      action ? `unknown cluster command '${action}'` : "cluster needs a command",
      CLUSTER_USAGE,
    );
  }
  const cluster = await strom.admin().describeCluster();
  if (flags.json) {
    io.out(JSON.stringify(cluster, null, 2));
    return 0;
  }
  const controller = cluster.controller ? `node ${cluster.controller.id}` : "none";
  io.out(
    `Cluster id: ${cluster.clusterId} (answered by node ${cluster.nodeId}, active controller ${controller})`,
  );
  const brokers: BrokerDescription[] = [...(cluster.brokers ?? cluster.nodes)];
  io.out(table(
    ["BROKER", "URL", "STATE"],
    brokers.map((b) => [String(b.id), b.url, brokerState(b)]),
  ));
  const q = cluster.quorum;
  if (q) {
    io.out(`Quorum: leader ${q.leaderId}, epoch ${q.epoch}, high watermark ${q.highWatermark}`);
    const rows = [
      ...q.voters.map((v) => ["voter", v]),
      ...q.observers.map((v) => ["observer", v]),
    ] as [string, { id: number; logEndOffset: number | null; lag: number | null }][];
    io.out(table(
      ["NODE", "ROLE", "LOG END OFFSET", "LAG"],
      rows.map(([role, v]) => [
        String(v.id),
        v.id === q.leaderId ? "leader" : role,
        v.logEndOffset === null ? "?" : String(v.logEndOffset),
        v.lag === null ? "?" : String(v.lag),
      ]),
    ));
  }
  return 0;
}

function brokerState(b: { fenced?: boolean; inControlledShutdown?: boolean }): string {
  if (b.inControlledShutdown) return "shutting down";
  if (b.fenced === undefined) return "-";
  return b.fenced ? "fenced" : "active";
}
