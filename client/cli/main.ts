/**
 * The `strom` command line (`deno task cli ...`). It mirrors Kafka's shell
 * tools where they overlap (`--bootstrap-server`); commands are added as the
 * client grows.
 *
 * Exit codes: 0 success, 1 the cluster answered with an error or could not
 * be reached, 2 bad command line.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { StromError } from "../errors.ts";
import { runQuorumCommand } from "./quorum_command.ts";

/** The broker asked when no `--bootstrap-server` is given (the local cluster's first node). */
export const DEFAULT_BOOTSTRAP = "http://127.0.0.1:9092";
/** How long a command waits for a broker. */
export const REQUEST_TIMEOUT_MS = 10_000;

const USAGE = `usage: strom <command> [options]

Commands:
  cluster describe     the cluster id and its nodes
  quorum ...           metadata quorum status; add-voter, remove-voter (strom quorum --help)

Options:
  --bootstrap-server URL   a broker's client URL (default ${DEFAULT_BOOTSTRAP})
  --json                   print JSON instead of a table
  -h, --help               show this help`;

/** Where the CLI writes; injectable for tests. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  fetch: typeof fetch;
}

/** Runs the CLI with `args`; returns the exit code. */
export async function runCli(args: string[], io: CliIo): Promise<number> {
  if (args[0] === "quorum") return await runQuorumCommand(args.slice(1), io);
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        "bootstrap-server": { type: "string", default: DEFAULT_BOOTSTRAP },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (e) {
    io.err(`strom: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) {
    (values.help ? io.out : io.err)(USAGE);
    return values.help ? 0 : 2;
  }
  const command = positionals.join(" ");
  if (command !== "cluster describe") {
    io.err(`strom: unknown command "${command}"\n${USAGE}`);
    return 2;
  }
  const bootstrap = values["bootstrap-server"].replace(/\/+$/, "");
  try {
    const cluster = await getJson(io, `${bootstrap}/v1/cluster`) as {
      clusterId: string;
      nodeId: number;
      nodes: { id: number; url: string }[];
    };
    if (values.json) {
      io.out(JSON.stringify(cluster, null, 2));
      return 0;
    }
    io.out(`Cluster id: ${cluster.clusterId} (answered by node ${cluster.nodeId})`);
    io.out(table(["NODE", "URL"], cluster.nodes.map((n) => [String(n.id), n.url])));
    return 0;
  } catch (e) {
    if (e instanceof StromError) {
      io.err(`strom: ${e.code}: ${e.message}`);
      return 1;
    }
    io.err(
      `strom: no broker reachable at ${bootstrap} (${
        (e as Error).message
      }). Is the cluster running (deno task start)? Pass --bootstrap-server URL to use another broker.`,
    );
    return 1;
  }
}

async function getJson(io: CliIo, url: string): Promise<unknown> {
  const res = await io.fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  const body = await res.json().catch(() => null);
  if (!res.ok) throw StromError.fromBody(body, res.status);
  return body;
}

/** Formats rows as a left-aligned table with a header line. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd())
    .join("\n");
}

if (import.meta.main) {
  Deno.exit(
    await runCli(Deno.args, {
      out: (l) => console.log(l),
      err: (l) => console.error(l),
      fetch,
    }),
  );
}
