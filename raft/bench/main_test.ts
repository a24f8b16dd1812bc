import { ok, strictEqual } from "node:assert/strict";
import { formatResults, runRaftBench } from "./main.ts";

Deno.test("the Raft benchmark commits proposals on a 3-node file-backed cluster", async () => {
  const result = await runRaftBench({
    sync: false,
    proposalsInFlight: 8,
    durationMs: 300,
    compactEveryEntries: 100,
  });
  ok(result.committed > 0, "some proposals committed");
  ok(result.latencyMsP50 <= result.latencyMsP99, "p50 <= p99");
  strictEqual(formatResults([result]).split("\n").length, 3);
});

Deno.test("the Raft benchmark commits proposals with the nodes talking over HTTP/2", async () => {
  const result = await runRaftBench({
    sync: true,
    proposalsInFlight: 8,
    durationMs: 300,
    compactEveryEntries: 100,
    transport: "http",
  });
  ok(result.committed > 0, "some proposals committed");
  strictEqual(result.transport, "http");
});
