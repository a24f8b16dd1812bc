/**
 * `strom produce`: the console producer (`kafka-console-producer.sh`). One
 * record per stdin line; with `--key-separator S` (or `--property
 * parse.key=true` and `key.separator=S`) the text before the first S is the
 * key. Sends are pipelined through one producer with a bounded window.
 *
 * @module
 */

import type { CompressionName } from "../record_batch/header.ts";
import type { AcksOption, RecordMetadata } from "../producer/producer.ts";
import type { Strom } from "../strom.ts";
import type { CliIo } from "./cli_io.ts";
import { readLines, UsageError } from "./cli_io.ts";
import { intFlag, keyValues, parseFlags, required, unescape } from "./options.ts";

/** Usage of `strom produce`. */
export const PRODUCE_USAGE = `usage: strom produce --topic T [options] < lines

Sends one record per stdin line.

Options:
  --topic T                 the topic (required)
  --partition P             send every record to partition P
  --key-separator S         each line is key S value (same as --property parse.key=true
                            --property key.separator=S)
  --property k=v            parse.key=true|false, key.separator=S (default tab)
  --acks all|1|0            acknowledgement level (default all)
  --compression C           none|gzip|snappy|lz4|zstd (default none)
  --linger-ms N             how long a batch waits for more records (default 5)
  --bootstrap-server URL    a broker's client URL (default http://127.0.0.1:9092)
  --json                    print each record's partition and offset as a JSON line
  -h, --help                show this help`;

/** Lines in flight at once before reading more stdin. */
export const PRODUCE_WINDOW_MAX = 1_000;

const OPTIONS = {
  topic: { type: "string" },
  partition: { type: "string" },
  "key-separator": { type: "string" },
  property: { type: "string", multiple: true },
  acks: { type: "string" },
  compression: { type: "string" },
  "linger-ms": { type: "string" },
} as const;

const CODECS = ["none", "gzip", "snappy", "lz4", "zstd"];

/** Parses the flags of `strom produce`. */
export function parseProduceFlags(args: string[]) {
  return parseFlags(args, OPTIONS, PRODUCE_USAGE).values;
}

/** Runs `strom produce`; returns the exit code. */
export async function produceCommand(
  flags: ReturnType<typeof parseProduceFlags>,
  strom: Strom,
  io: CliIo,
): Promise<number> {
  const u = PRODUCE_USAGE;
  const topic = required(flags.topic, "--topic", u);
  const partition = intFlag(flags.partition, "--partition", u);
  const props = keyValues(flags.property, "--property", u);
  const separator = unescape(flags["key-separator"] ?? props["key.separator"] ?? "\t");
  const parseKey = flags["key-separator"] !== undefined || props["parse.key"] === "true";
  const acks = flags.acks ?? "all";
  if (!["all", "-1", "0", "1"].includes(acks)) {
    throw new UsageError(`--acks must be all, 1 or 0, got '${acks}'`, u);
  }
  const compression = flags.compression ?? "none";
  if (!CODECS.includes(compression)) {
    throw new UsageError(`--compression must be one of ${CODECS.join(", ")}`, u);
  }
  const lingerMs = intFlag(flags["linger-ms"], "--linger-ms", u);
  const producer = strom.producer({
    acks: acks as AcksOption,
    compression: compression as CompressionName,
    ...(lingerMs === undefined ? {} : { lingerMs }),
  });
  // Fail fast on an unknown topic before reading any input.
  await strom.connection.metadata.topic(topic);
  const window = new Set<Promise<unknown>>();
  let failure: unknown;
  let sent = 0;
  const report = (m: RecordMetadata) => {
    sent++;
    if (flags.json) io.out(JSON.stringify({ partition: m.partition, offset: m.offset }));
  };
  for await (const line of io.stdin ? readLines(io.stdin) : []) {
    if (failure) break;
    let key: string | null = null;
    let value = line;
    if (parseKey) {
      const at = line.indexOf(separator);
      if (at < 0) {
        io.err(`strom: line without the key separator; sending it with a null key: ${line}`);
      } else {
        key = line.slice(0, at);
        value = line.slice(at + separator.length);
      }
    }
    const p = producer.send({
      topic,
      key,
      value,
      ...(partition === undefined ? {} : { partition }),
    })
      .then(report, (e) => {
        failure ??= e;
      });
    window.add(p);
    p.finally(() => window.delete(p));
    if (window.size >= PRODUCE_WINDOW_MAX) await Promise.race(window);
  }
  await Promise.all(window);
  await producer.close();
  if (failure) throw failure;
  if (!flags.json) io.err(`Sent ${sent} record(s) to ${topic}.`);
  return 0;
}
