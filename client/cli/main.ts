/**
 * The `strom` command line (`deno task cli ...`). It mirrors Kafka's shell
 * tools where they overlap: `--bootstrap-server`, `--topic`, `--partitions`,
 * `--replication-factor`, `--config k=v`, `--from-beginning`,
 * `--max-messages`, `--property key.separator=`.
 *
 * Exit codes: 0 success, 1 the cluster answered with an error or could not
 * be reached, 2 bad command line.
 *
 * @module
 */

import { StromError } from "../errors.ts";
import { Strom } from "../strom.ts";
import type { CliIo } from "./cli_io.ts";
import { UsageError } from "./cli_io.ts";
import { CLUSTER_USAGE, clusterCommand, parseClusterFlags } from "./cluster_command.ts";
import { CONSUME_USAGE, consumeCommand, parseConsumeFlags } from "./consume_command.ts";
import { GROUPS_USAGE, groupsCommand, parseGroupsFlags } from "./groups_command.ts";
import { DEFAULT_BOOTSTRAP } from "./options.ts";
import { parseProduceFlags, PRODUCE_USAGE, produceCommand } from "./produce_command.ts";
import { parseTopicsFlags, TOPICS_USAGE, topicsCommand } from "./topics_command.ts";
import { runQuorumCommand } from "./quorum_command.ts";

export type { CliIo };
export { DEFAULT_BOOTSTRAP };
export { table } from "./table.ts";

/** How long a command waits for a broker answer. */
export const REQUEST_TIMEOUT_MS = 10_000;

const USAGE = `usage: strom <command> [options]

Commands:
  topics create|list|describe|delete|alter   manage topics
  produce                                    send stdin lines as records
  consume                                    print records (--group G to consume as a group)
  groups list|describe|reset-offsets|delete  consumer groups: members, offsets and lag
  cluster describe                           brokers and the metadata quorum
  quorum ...                                 metadata quorum status; add-voter, remove-voter
                                             (strom quorum --help)

Options:
  --bootstrap-server URL   a broker's client URL (default ${DEFAULT_BOOTSTRAP})
  --json                   print JSON instead of tables
  -h, --help               show help (also after each command)

Examples:
  strom topics create --topic orders --partitions 6
  printf 'k1:hello\\nk2:world\\n' | strom produce --topic orders --key-separator :
  strom consume --topic orders --from-beginning --property print.key=true --max-messages 2`;

/** Runs the CLI with `args`; returns the exit code. */
export async function runCli(args: string[], io: CliIo): Promise<number> {
  if (args[0] === "quorum") return await runQuorumCommand(args.slice(1), io);
  const [command, second] = args;
  const grouped = command === "topics" || command === "cluster" || command === "groups";
  const action = grouped && second !== undefined && !second.startsWith("-") ? second : undefined;
  const rest = args.slice(action === undefined ? 1 : 2);
  let usage = USAGE;
  let strom: Strom | undefined;
  let bootstrap = DEFAULT_BOOTSTRAP;
  try {
    let run: (strom: Strom) => Promise<number>;
    let flags: { help?: boolean; "bootstrap-server"?: string };
    switch (command) {
      case "topics": {
        usage = TOPICS_USAGE;
        const f = parseTopicsFlags(rest);
        flags = f;
        run = (s) => topicsCommand(action, f, s, io);
        break;
      }
      case "cluster": {
        usage = CLUSTER_USAGE;
        const f = parseClusterFlags(rest);
        flags = f;
        run = (s) => clusterCommand(action, f, s, io);
        break;
      }
      case "groups": {
        usage = GROUPS_USAGE;
        const f = parseGroupsFlags(rest);
        flags = f;
        run = (s) => groupsCommand(action, f, s, io);
        break;
      }
      case "produce": {
        usage = PRODUCE_USAGE;
        const f = parseProduceFlags(rest);
        flags = f;
        run = (s) => produceCommand(f, s, io);
        break;
      }
      case "consume": {
        usage = CONSUME_USAGE;
        const f = parseConsumeFlags(rest);
        flags = f;
        run = (s) => consumeCommand(f, s, io);
        break;
      }
      case "-h":
      case "--help":
        io.out(USAGE);
        return 0;
      case undefined:
        throw new UsageError("no command given", USAGE);
      default:
        throw new UsageError(`unknown command "${args.join(" ")}"`, USAGE);
    }
    if (flags.help) {
      io.out(usage);
      return 0;
    }
    bootstrap = flags["bootstrap-server"] ?? DEFAULT_BOOTSTRAP;
    strom = new Strom({ brokers: bootstrap, requestTimeoutMs: REQUEST_TIMEOUT_MS, attemptsMax: 3 });
    return await run(strom);
  } catch (e) {
    return report(e, io, bootstrap);
  } finally {
    await strom?.close();
  }
}

function report(e: unknown, io: CliIo, bootstrap: string): number {
  if (e instanceof UsageError) {
    io.err(`strom: ${e.message}\n${e.usage}`);
    return 2;
  }
  if (e instanceof StromError && e.code === "NETWORK_EXCEPTION") {
    io.err(
      `strom: no broker reachable at ${bootstrap} (${e.message}). Is the cluster running (deno task start)? Pass --bootstrap-server URL to use another broker.`,
    );
    return 1;
  }
  if (e instanceof StromError && e.code === "INVALID_CONFIG") {
    io.err(`strom: ${e.message}`);
    return 2;
  }
  if (e instanceof StromError) {
    const hint = e.leader ? ` (leader: node ${e.leader.id} at ${e.leader.url})` : "";
    io.err(`strom: ${e.code}: ${e.message}${hint}`);
    return 1;
  }
  io.err(`strom: ${(e as Error)?.stack ?? String(e)}`);
  return 1;
}

if (import.meta.main) {
  const controller = new AbortController();
  Deno.addSignalListener("SIGINT", () => controller.abort());
  Deno.exit(
    await runCli(Deno.args, {
      out: (l) => console.log(l),
      err: (l) => console.error(l),
      stdin: Deno.stdin.readable,
      signal: controller.signal,
      fetch,
    }),
  );
}
