/**
 * A group consumer as its own process, for tests that SIGKILL a consumer:
 * `deno run -A tests/groups_consumer_main.ts BROKERS GROUP TOPIC SESSION_MS`.
 * Prints one JSON line per event: `{"event": "assigned" | "revoked",
 * "partitions": [p...]}` and `{"event": "record", "partition", "offset"}`.
 * Runs until killed (or stdin closes, then it closes gracefully).
 *
 * @module
 */

import { Strom } from "@strom/client";

const [brokers, groupId, topic, sessionMs] = Deno.args;
const strom = new Strom({ brokers });
const print = (line: unknown) => console.log(JSON.stringify(line));
const consumer = strom.consumer({
  groupId,
  autoOffsetReset: "earliest",
  sessionTimeoutMs: Number(sessionMs),
  autoCommitIntervalMs: 300,
  onPartitionsAssigned: (tps) =>
    print({ event: "assigned", partitions: tps.map((t) => t.partition) }),
  onPartitionsRevoked: (tps) =>
    print({ event: "revoked", partitions: tps.map((t) => t.partition) }),
});
consumer.subscribe([topic]);
// Stdin closing (the test ended) stops the consumer gracefully.
(async () => {
  for await (const _ of Deno.stdin.readable) { /* drain */ }
  await strom.close();
  Deno.exit(0);
})();
await consumer.run({
  eachBatch: (b) => {
    for (const r of b.records) print({ event: "record", partition: r.partition, offset: r.offset });
  },
});
