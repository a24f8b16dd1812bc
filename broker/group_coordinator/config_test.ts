import assert from "node:assert/strict";
import { DEFAULT_GROUP_COORDINATOR_CONFIG } from "../groups/mod.ts";
import { groupRuntimeConfigFromEnv, OFFSETS_TOPIC_PARTITIONS_DEFAULT } from "./config.ts";

Deno.test("groupRuntimeConfigFromEnv() uses the defaults when nothing is set", () => {
  const c = groupRuntimeConfigFromEnv(() => undefined);
  assert.equal(c.offsetsTopicPartitions, OFFSETS_TOPIC_PARTITIONS_DEFAULT);
  assert.deepEqual(c.coordinator, DEFAULT_GROUP_COORDINATOR_CONFIG);
});

Deno.test("groupRuntimeConfigFromEnv() reads the session, heartbeat and partition overrides", () => {
  const env: Record<string, string> = {
    STROM_GROUP_SESSION_TIMEOUT_MS: "3000",
    STROM_GROUP_HEARTBEAT_INTERVAL_MS: "300",
    STROM_OFFSETS_TOPIC_PARTITIONS: "3",
  };
  const c = groupRuntimeConfigFromEnv((n) => env[n]);
  assert.equal(c.offsetsTopicPartitions, 3);
  assert.equal(c.coordinator.sessionTimeoutMs, 3000);
  assert.equal(c.coordinator.heartbeatIntervalMs, 300);
});

Deno.test("groupRuntimeConfigFromEnv() refuses a value that is not an integer in range", () => {
  assert.throws(
    () =>
      groupRuntimeConfigFromEnv((n) => n === "STROM_OFFSETS_TOPIC_PARTITIONS" ? "0" : undefined),
    /STROM_OFFSETS_TOPIC_PARTITIONS must be an integer from 1/,
  );
});
