import assert from "node:assert/strict";
import { createLogger } from "./log.ts";

Deno.test("createLogger() writes level, message and quoted fields, and filters by level", () => {
  const lines: string[] = [];
  const log = createLogger({
    level: "info",
    sink: (l) => lines.push(l),
    clock: () => new Date(0),
  });
  log.debug("hidden");
  log.info("listening", { port: 9092, url: "http://x", note: "two words", skipped: undefined });
  log.error("boom");
  assert.deepEqual(lines, [
    '1970-01-01T00:00:00.000Z INFO  listening port=9092 url=http://x note="two words"',
    "1970-01-01T00:00:00.000Z ERROR boom",
  ]);
});
