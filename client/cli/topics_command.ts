/**
 * `strom topics create|list|describe|delete|alter`: `kafka-topics.sh` with
 * subcommands instead of `--create`/`--list` flags.
 *
 * @module
 */

import type { Strom } from "../strom.ts";
import type { TopicDescription } from "../admin/admin.ts";
import type { CliIo } from "./cli_io.ts";
import { UsageError } from "./cli_io.ts";
import { intFlag, keyValues, parseFlags, required } from "./options.ts";
import { table } from "./table.ts";

/** Usage of `strom topics`. */
export const TOPICS_USAGE = `usage: strom topics <create|list|describe|delete|alter> [options]

  strom topics create --topic T [--partitions N] [--replication-factor R] [--config k=v ...]
  strom topics list
  strom topics describe [--topic T]
  strom topics delete --topic T
  strom topics alter --topic T [--partitions N] [--config k=v ...] [--delete-config k ...]

Options:
  --bootstrap-server URL   a broker's client URL (default http://127.0.0.1:9092)
  --json                   print JSON instead of a table
  -h, --help               show this help`;

const OPTIONS = {
  topic: { type: "string" },
  partitions: { type: "string" },
  "replication-factor": { type: "string" },
  config: { type: "string", multiple: true },
  "delete-config": { type: "string", multiple: true },
} as const;

/** Parsed `strom topics` flags. */
export type TopicsFlags = ReturnType<typeof parseTopicsFlags>;

/** Parses the flags of `strom topics <action>`. */
export function parseTopicsFlags(args: string[]) {
  return parseFlags(args, OPTIONS, TOPICS_USAGE).values;
}

/** Runs `strom topics <action>`; returns the exit code. */
export async function topicsCommand(
  action: string | undefined,
  flags: TopicsFlags,
  strom: Strom,
  io: CliIo,
): Promise<number> {
  const admin = strom.admin();
  const u = TOPICS_USAGE;
  switch (action) {
    case "create": {
      const name = required(flags.topic, "--topic", u);
      const created = await admin.createTopic({
        name,
        ...optional("partitions", intFlag(flags.partitions, "--partitions", u, 1)),
        ...optional(
          "replicationFactor",
          intFlag(flags["replication-factor"], "--replication-factor", u, 1),
        ),
        ...(flags.config ? { configs: keyValues(flags.config, "--config", u) } : {}),
      });
      if (flags.json) io.out(JSON.stringify(created, null, 2));
      else io.out(`Created topic ${created.name}.`);
      return 0;
    }
    case "list": {
      const topics = await admin.listTopics();
      if (flags.json) io.out(JSON.stringify(topics, null, 2));
      else for (const t of topics) io.out(t.name);
      return 0;
    }
    case "describe": {
      const names = flags.topic ? [flags.topic] : (await admin.listTopics()).map((t) => t.name);
      const described = await Promise.all(names.map((n) => admin.describeTopic(n)));
      if (flags.json) io.out(JSON.stringify(flags.topic ? described[0] : described, null, 2));
      else for (const t of described) io.out(describeText(t));
      return 0;
    }
    case "delete": {
      const name = required(flags.topic, "--topic", u);
      await admin.deleteTopic(name);
      if (flags.json) io.out(JSON.stringify({ deleted: name }));
      else io.out(`Deleted topic ${name}.`);
      return 0;
    }
    case "alter": {
      const name = required(flags.topic, "--topic", u);
      const partitions = intFlag(flags.partitions, "--partitions", u, 1);
      const configs: Record<string, string | null> = keyValues(flags.config, "--config", u);
      for (const k of flags["delete-config"] ?? []) configs[k] = null;
      if (partitions === undefined && Object.keys(configs).length === 0) {
        throw new UsageError("alter needs --partitions, --config or --delete-config", u);
      }
      let result: TopicDescription | undefined;
      if (partitions !== undefined) result = await admin.createPartitions(name, partitions);
      if (Object.keys(configs).length > 0) result = await admin.alterConfigs(name, configs);
      if (flags.json) io.out(JSON.stringify(result, null, 2));
      else io.out(`Altered topic ${name}.`);
      return 0;
    }
    default:
      throw new UsageError(
        action ? `unknown topics command '${action}'` : "topics needs a command",
        u,
      );
  }
}

function optional<K extends string>(key: K, value: number | undefined) {
  return (value === undefined ? {} : { [key]: value }) as Partial<Record<K, number>>;
}

/** Like `kafka-topics.sh --describe`: a summary line, then one row per partition. */
export function describeText(t: TopicDescription): string {
  const configs = Object.entries(t.configs).map(([k, v]) => `${k}=${v}`).join(",");
  const head = `Topic: ${t.name}\tTopicId: ${t.topicId}\tPartitionCount: ${t.partitions.length}` +
    `\tReplicationFactor: ${t.replicationFactor}\tConfigs: ${configs}`;
  const rows = t.partitions.map((p) => [
    String(p.partition),
    p.leader < 0 ? "none" : String(p.leader),
    String(p.leaderEpoch),
    p.replicas.join(","),
    p.isr.join(","),
  ]);
  return `${head}\n${table(["PARTITION", "LEADER", "EPOCH", "REPLICAS", "ISR"], rows)}`;
}
