import assert from "node:assert/strict";
import { DEFAULT_GROUPS } from "../config/node_config.ts";
import { DEFAULT_GROUP_COORDINATOR_CONFIG } from "../groups/mod.ts";
import { groupRuntimeConfig, OFFSETS_TOPIC_PARTITIONS_DEFAULT } from "./config.ts";

Deno.test("groupRuntimeConfig() of the default groups section is the coordinator's defaults", () => {
  const c = groupRuntimeConfig(DEFAULT_GROUPS);
  assert.equal(c.offsetsTopicPartitions, OFFSETS_TOPIC_PARTITIONS_DEFAULT);
  assert.deepEqual(c.coordinator, DEFAULT_GROUP_COORDINATOR_CONFIG);
});

Deno.test("groupRuntimeConfig() splits the partition count from the coordinator settings", () => {
  const c = groupRuntimeConfig({
    ...DEFAULT_GROUPS,
    sessionTimeoutMs: 3000,
    heartbeatIntervalMs: 300,
    offsetsTopicPartitions: 3,
    defaultAssignor: "range",
  });
  assert.equal(c.offsetsTopicPartitions, 3);
  assert.deepEqual(c.coordinator, {
    ...DEFAULT_GROUP_COORDINATOR_CONFIG,
    sessionTimeoutMs: 3000,
    heartbeatIntervalMs: 300,
    defaultAssignor: "range",
  });
});
