import { ok, strictEqual, throws } from "node:assert/strict";
import { StromError } from "@strom/client";
import { DEFAULT_LOG_CONFIG, resolveLogConfig } from "./config.ts";

Deno.test("resolveLogConfig() fills Kafka's defaults and maps -1 to unlimited", () => {
  const config = resolveLogConfig({ retentionMs: -1, flushIntervalMessages: 1 });
  strictEqual(config.retentionMs, Infinity);
  strictEqual(config.flushIntervalMessages, 1);
  strictEqual(config.segmentBytesMax, DEFAULT_LOG_CONFIG.segmentBytesMax);
  strictEqual(config.flushIntervalMs, Infinity);
});

Deno.test("resolveLogConfig() rejects bad settings with INVALID_CONFIG naming the key", () => {
  for (
    const bad of [{ segmentBytesMax: 0 }, { cleanupPolicy: "shred" }, { retentionBytes: -5 }, {
      flushIntervalMessages: 0,
    }]
  ) {
    throws(() => resolveLogConfig(bad as never), (error: unknown) => {
      ok(error instanceof StromError);
      strictEqual(error.code, "INVALID_CONFIG");
      ok(error.message.includes(Object.keys(bad)[0]));
      return true;
    });
  }
});

Deno.test("resolveLogConfig() returns a config it resolved before as it is, and copies any other", () => {
  const partial = { retentionMs: 5_000 };
  const resolved = resolveLogConfig(partial);
  strictEqual(resolveLogConfig(resolved), resolved);
  ok(Object.isFrozen(resolved));
  // A look-alike that this function did not return is validated and copied, not trusted.
  const lookAlike = { ...resolved };
  ok(resolveLogConfig(lookAlike) !== lookAlike);
  ok(resolveLogConfig(partial) !== resolved);
});
