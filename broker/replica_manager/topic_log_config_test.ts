import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { StromError } from "@strom/client";
import { logConfigForTopic, TopicConfigsMemo } from "./topic_log_config.ts";
import { resolveLogConfig } from "../storage/config.ts";

Deno.test("TopicConfigsMemo shares one resolved config per configs object", () => {
  const memo = new TopicConfigsMemo();
  const configs = { "retention.ms": "60000", "min.insync.replicas": "2" };
  const first = memo.get(configs);
  strictEqual(memo.get(configs), first);
  strictEqual(first.topic.minInsyncReplicas, 2);
  strictEqual(first.log.retentionMs, 60_000);
  deepStrictEqual(first.log, resolveLogConfig(logConfigForTopic(configs)));
  // A log opened with it keeps the shared object instead of a copy.
  strictEqual(resolveLogConfig(first.log), first.log);
  // The image replaces a topic's configs object when they change: a new object, a new entry.
  const changed = memo.get({ ...configs, "retention.ms": "1000" });
  ok(changed !== first);
  strictEqual(changed.log.retentionMs, 1_000);
});

Deno.test("TopicConfigsMemo refuses configs that make an invalid log config", () => {
  const memo = new TopicConfigsMemo();
  throws(
    () => memo.get({ "segment.bytes": "0" }),
    (e: unknown) => e instanceof StromError && e.code === "INVALID_CONFIG",
  );
});
