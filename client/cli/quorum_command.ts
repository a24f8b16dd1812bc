/**
 * `strom quorum ...`: the metadata quorum's status and membership, like
 * Kafka's `kafka-metadata-quorum` tool (`describe --status|--replication`,
 * `add-controller`, `remove-controller`), over the brokers' `/v1/quorum`
 * endpoints:
 *
 * - `quorum describe`: leader, epoch, high watermark, and every voter and
 *   observer with its directory id, log end offset and lag;
 * - `quorum remove-voter --id N [--directory-id D]`: remove voter N;
 * - `quorum add-voter --id N`: promote observer N to voter.
 *
 * Exit codes as the rest of the CLI: 0 success, 1 the cluster refused or
 * could not be reached, 2 bad command line.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { StromError } from "../errors.ts";
import type { CliIo } from "./main.ts";

/** The broker asked when no `--bootstrap-server` is given (the local cluster's first node). */
const DEFAULT_BOOTSTRAP = "http://127.0.0.1:9092";
/** How long a membership change may take (it waits for two commits). */
const QUORUM_REQUEST_TIMEOUT_MS = 30_000;

/** Usage of `strom quorum`. */
export const QUORUM_USAGE = `usage: strom quorum <describe | remove-voter | add-voter> [options]

  quorum describe                          leader, epoch, voters and observers with lag
  quorum remove-voter --id N [--directory-id D]
                                           remove voter N (D: the directory id it is known by)
  quorum add-voter --id N                  promote observer N (a caught-up learner) to voter

Re-adding a voter whose data dir was wiped (the node refuses to start and prints these):
  1. strom quorum remove-voter --id N --directory-id=OLD
  2. start node N again: it joins as an observer and copies the metadata log
  3. strom quorum add-voter --id N   (once quorum describe lists N among the observers)

Options:
  --bootstrap-server URL   a broker's client URL (default ${DEFAULT_BOOTSTRAP})
  --json                   print JSON instead of a table
  -h, --help               show this help`;

interface Member {
  id: number;
  directoryId: string | null;
  logEndOffset: number | null;
  lag: number | null;
}

interface QuorumStatus {
  leaderId: number;
  epoch: number;
  highWatermark: number;
  voters: Member[];
  observers: Member[];
}

/** Runs `strom quorum <args>`; returns the exit code. */
export async function runQuorumCommand(args: string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        "bootstrap-server": { type: "string", default: DEFAULT_BOOTSTRAP },
        id: { type: "string" },
        "directory-id": { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (e) {
    io.err(`strom quorum: ${(e as Error).message}\n${QUORUM_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(QUORUM_USAGE);
    return 0;
  }
  const sub = positionals.join(" ");
  const bootstrap = values["bootstrap-server"].replace(/\/+$/, "");
  const id = values.id === undefined ? undefined : Number(values.id);
  if (sub !== "describe" && !(id !== undefined && Number.isSafeInteger(id) && id > 0)) {
    io.err(
      `strom quorum: ${sub || "a subcommand"} needs --id N (a positive node id)\n${QUORUM_USAGE}`,
    );
    return 2;
  }
  let request: { method: string; path: string; body?: unknown };
  switch (sub) {
    case "describe":
      request = { method: "GET", path: "/v1/quorum" };
      break;
    case "remove-voter": {
      const dir = values["directory-id"];
      request = {
        method: "DELETE",
        path: `/v1/quorum/voters/${id}${dir ? `?directoryId=${encodeURIComponent(dir)}` : ""}`,
      };
      break;
    }
    case "add-voter":
      request = { method: "POST", path: "/v1/quorum/voters", body: { id } };
      break;
    default:
      io.err(`strom quorum: unknown subcommand "${sub}"\n${QUORUM_USAGE}`);
      return 2;
  }
  let status: QuorumStatus;
  try {
    status = await send(io, bootstrap, request) as QuorumStatus;
  } catch (e) {
    if (e instanceof StromError) {
      io.err(`strom quorum: ${e.code}: ${e.message}`);
      return 1;
    }
    io.err(
      `strom quorum: no broker reachable at ${bootstrap} (${
        (e as Error).message
      }). Pass --bootstrap-server URL to use a running node.`,
    );
    return 1;
  }
  if (values.json) {
    io.out(JSON.stringify(status, null, 2));
    return 0;
  }
  if (sub === "remove-voter") io.out(`Removed voter ${id}.`);
  if (sub === "add-voter") io.out(`Added voter ${id}.`);
  io.out(formatQuorum(status));
  return 0;
}

/** The quorum as `kafka-metadata-quorum describe --status --replication` shows it. */
export function formatQuorum(s: QuorumStatus): string {
  const rows = [
    ...s.voters.map((m) => row(m, m.id === s.leaderId ? "Leader" : "Voter")),
    ...s.observers.map((m) => row(m, "Observer")),
  ];
  const header = ["NODE", "ROLE", "DIRECTORY-ID", "LOG-END-OFFSET", "LAG"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const lines = [header, ...rows].map((r) =>
    r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()
  );
  return [
    `LeaderId: ${s.leaderId}  LeaderEpoch: ${s.epoch}  HighWatermark: ${s.highWatermark}`,
    ...lines,
  ].join("\n");
}

function row(m: Member, role: string): string[] {
  return [
    String(m.id),
    role,
    m.directoryId ?? "-",
    m.logEndOffset === null ? "-" : String(m.logEndOffset),
    m.lag === null ? "-" : String(m.lag),
  ];
}

async function send(
  io: CliIo,
  bootstrap: string,
  req: { method: string; path: string; body?: unknown },
): Promise<unknown> {
  const res = await io.fetch(`${bootstrap}${req.path}`, {
    method: req.method,
    ...(req.body === undefined
      ? {}
      : { body: JSON.stringify(req.body), headers: { "content-type": "application/json" } }),
    signal: AbortSignal.timeout(QUORUM_REQUEST_TIMEOUT_MS),
  });
  const body = await res.json().catch(() => null);
  if (!res.ok) throw StromError.fromBody(body, res.status);
  return body;
}
