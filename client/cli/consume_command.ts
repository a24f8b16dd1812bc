/**
 * `strom consume`: the console consumer (`kafka-console-consumer.sh`) with
 * manual assignment: every partition of the topic (or `--partition P`),
 * from the end, the beginning (`--from-beginning`) or `--offset N`; or, with
 * `--group G`, as a member of a consumer group (from the group's committed
 * offsets, committing what it printed, leaving the group on exit).
 *
 * @module
 */

import type { ConsumerRecord } from "../consumer/consumer.ts";
import type { Strom } from "../strom.ts";
import type { CliIo } from "./cli_io.ts";
import { UsageError } from "./cli_io.ts";
import { intFlag, keyValues, parseFlags, required, unescape } from "./options.ts";

/** Usage of `strom consume`. */
export const CONSUME_USAGE = `usage: strom consume --topic T [options]

Prints records as they arrive until Ctrl-C, --max-messages or --timeout-ms.

Options:
  --topic T                the topic (required)
  --from-beginning         start at the earliest offset (default: only new records)
  --group G                consume as a member of group G: the coordinator assigns partitions,
                           reading starts at the group's committed offsets (else the end, or
                           the beginning with --from-beginning) and printed records are committed
  --partition P            read only partition P
  --offset N|earliest|latest   start offset (needs --partition)
  --max-messages N         exit after N records
  --timeout-ms N           exit when no record arrived for N ms
  --property k=v           print.key, print.partition, print.offset, print.timestamp
                           (true|false), key.separator (default tab)
  --format TEMPLATE        print each record with {topic} {partition} {offset} {timestamp}
                           {key} {value} filled in (\\t and \\n understood)
  --bootstrap-server URL   a broker's client URL (default http://127.0.0.1:9092)
  --json                   print each record as a JSON line
  -h, --help               show this help`;

const OPTIONS = {
  topic: { type: "string" },
  group: { type: "string" },
  "from-beginning": { type: "boolean" },
  partition: { type: "string" },
  offset: { type: "string" },
  "max-messages": { type: "string" },
  "timeout-ms": { type: "string" },
  property: { type: "string", multiple: true },
  format: { type: "string" },
} as const;

const TEXT = new TextDecoder();

/** Parses the flags of `strom consume`. */
export function parseConsumeFlags(args: string[]) {
  return parseFlags(args, OPTIONS, CONSUME_USAGE).values;
}

/** Runs `strom consume`; returns the exit code. */
export async function consumeCommand(
  flags: ReturnType<typeof parseConsumeFlags>,
  strom: Strom,
  io: CliIo,
): Promise<number> {
  const u = CONSUME_USAGE;
  const topic = required(flags.topic, "--topic", u);
  const partition = intFlag(flags.partition, "--partition", u);
  const maxMessages = intFlag(flags["max-messages"], "--max-messages", u, 1);
  const timeoutMs = intFlag(flags["timeout-ms"], "--timeout-ms", u, 1);
  const offset = startOffset(
    flags.offset,
    flags["from-beginning"] === true,
    partition !== undefined,
  );
  const print = formatter(
    flags.json === true,
    flags.format,
    keyValues(flags.property, "--property", u),
  );
  if (flags.group !== undefined && (partition !== undefined || flags.offset !== undefined)) {
    throw new UsageError("--group cannot be combined with --partition or --offset", u);
  }
  const meta = await strom.connection.metadata.topic(topic, { refresh: true });
  const partitions = partition === undefined
    ? meta.partitions.map((p) => p.partition)
    : [partition];
  if (partition !== undefined && partition >= meta.partitions.length) {
    throw new UsageError(
      `topic '${topic}' has ${meta.partitions.length} partition(s); there is no partition ${partition}`,
      u,
    );
  }
  let consumer;
  if (flags.group !== undefined) {
    consumer = strom.consumer({
      groupId: flags.group,
      autoOffsetReset: flags["from-beginning"] ? "earliest" : "latest",
    });
    consumer.subscribe([topic]);
  } else {
    consumer = strom.consumer({ autoOffsetReset: "earliest" });
    consumer.assign(partitions.map((p) => ({ topic, partition: p, offset })));
  }
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  io.signal?.addEventListener("abort", onAbort, { once: true });
  let idle: ReturnType<typeof setTimeout> | undefined;
  const armIdle = () => {
    if (timeoutMs === undefined) return;
    clearTimeout(idle);
    idle = setTimeout(() => stop.abort(), timeoutMs);
  };
  let count = 0;
  try {
    armIdle();
    while (maxMessages === undefined || count < maxMessages) {
      const batch = await consumer.nextBatch({
        signal: stop.signal,
        recordsMax: maxMessages === undefined ? 500 : maxMessages - count,
      });
      if (!batch) break;
      for (const r of batch.records) io.out(print(r));
      count += batch.records.length;
      armIdle();
    }
  } finally {
    clearTimeout(idle);
    io.signal?.removeEventListener("abort", onAbort);
    await consumer.close();
  }
  io.err(`Processed a total of ${count} messages`);
  return 0;
}

function startOffset(
  offset: string | undefined,
  fromBeginning: boolean,
  hasPartition: boolean,
): number | "earliest" | "latest" {
  if (offset === undefined) return fromBeginning ? "earliest" : "latest";
  if (!hasPartition) throw new UsageError("--offset needs --partition", CONSUME_USAGE);
  if (offset === "earliest" || offset === "latest") return offset;
  return intFlag(offset, "--offset", CONSUME_USAGE)!;
}

/** Builds the line printer from --json, --format or Kafka's print.* properties. */
function formatter(
  json: boolean,
  format: string | undefined,
  props: Record<string, string>,
): (r: ConsumerRecord) => string {
  const text = (b: Uint8Array | null) => (b === null ? "null" : TEXT.decode(b));
  if (json) {
    return (r) =>
      JSON.stringify({
        topic: r.topic,
        partition: r.partition,
        offset: r.offset,
        timestamp: r.timestamp,
        key: r.key === null ? null : TEXT.decode(r.key),
        value: r.value === null ? null : TEXT.decode(r.value),
        headers: r.headers.map((h) => ({
          key: h.key,
          value: h.value === null ? null : TEXT.decode(h.value),
        })),
      });
  }
  if (format !== undefined) {
    const template = unescape(format);
    return (r) =>
      template.replace(/\{(topic|partition|offset|timestamp|key|value)\}/g, (_, f: string) => {
        if (f === "key") return text(r.key);
        if (f === "value") return text(r.value);
        return String(r[f as "topic" | "partition" | "offset" | "timestamp"]);
      });
  }
  const on = (k: string) => props[`print.${k}`] === "true";
  const sep = unescape(props["key.separator"] ?? "\t");
  return (r) => {
    const parts: string[] = [];
    if (on("timestamp")) parts.push(`CreateTime:${r.timestamp}`);
    if (on("partition")) parts.push(`Partition:${r.partition}`);
    if (on("offset")) parts.push(`Offset:${r.offset}`);
    if (on("key")) parts.push(text(r.key));
    parts.push(text(r.value));
    return parts.join(sep);
  };
}
