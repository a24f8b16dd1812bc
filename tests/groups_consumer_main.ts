/**
 * A group consumer as its own process, for tests that SIGKILL a consumer:
 * `deno run -A tests/groups_consumer_main.ts BROKERS GROUP TOPIC SESSION_MS [OPTIONS_JSON]`,
 * where OPTIONS_JSON may set `instanceId` (static membership) and
 * `autoCommitIntervalMs` (default 300).
 *
 * Prints one JSON line per event, each with `ms` (the wall clock when it
 * happened): `{"event": "assigned" | "revoked", "partitions": [p...]}`,
 * `{"event": "record", "partition", "offset", "batch"}` once the record is
 * processed (`batch` numbers the `eachBatch` call it came in), and
 * `{"event": "committed", "offsets": [{partition, offset}...]}` once the
 * coordinator accepted a commit. Lines are written synchronously, so what a
 * SIGKILLed consumer printed is complete up to its death.
 * Runs until killed (or stdin closes, then it closes gracefully).
 *
 * @module
 */

import { Strom } from "@strom/client";

const [brokers, groupId, topic, sessionMs, optionsJson] = Deno.args;
const options: { instanceId?: string; autoCommitIntervalMs?: number } = optionsJson
  ? JSON.parse(optionsJson)
  : {};
const strom = new Strom({ brokers });
const print = (line: Record<string, unknown>) =>
  console.log(JSON.stringify({ ...line, ms: Date.now() }));
const consumer = strom.consumer({
  groupId,
  autoOffsetReset: "earliest",
  sessionTimeoutMs: Number(sessionMs),
  autoCommitIntervalMs: options.autoCommitIntervalMs ?? 300,
  ...(options.instanceId ? { instanceId: options.instanceId } : {}),
  onPartitionsAssigned: (tps) =>
    print({ event: "assigned", partitions: tps.map((t) => t.partition) }),
  onPartitionsRevoked: (tps) =>
    print({ event: "revoked", partitions: tps.map((t) => t.partition) }),
  onOffsetsCommitted: (offsets) =>
    print({
      event: "committed",
      offsets: offsets.map((o) => ({ partition: o.partition, offset: o.offset })),
    }),
});
consumer.subscribe([topic]);
// Stdin closing (the test ended) stops the consumer gracefully.
(async () => {
  for await (const _ of Deno.stdin.readable) { /* drain */ }
  await strom.close();
  Deno.exit(0);
})();
let batch = 0;
await consumer.run({
  eachBatch: (b) => {
    batch++;
    for (const r of b.records) {
      print({ event: "record", partition: r.partition, offset: r.offset, batch });
    }
  },
});
