import assert from "node:assert/strict";
import { DEFAULT_GROUPS, parseNodeConfig } from "../config/node_config.ts";
import {
  configFileJson,
  NODE_HEAP_MAX_MB_DEFAULT,
  nodeV8HeapFlag,
  planLocalCluster,
  validateLocalClusterOptions,
} from "./cluster_plan.ts";

const OPTIONS = {
  nodes: 3,
  host: "127.0.0.1",
  basePort: 9092,
  internalBasePort: 19092,
  dataDir: "/data/strom",
  clusterId: "AAAAAAAAAAAAAAAAAAAAAA",
};

Deno.test("planLocalCluster() gives each node consecutive ports and its own dirs", () => {
  const plan = planLocalCluster(OPTIONS);
  assert.equal(plan.manifestFile, "/data/strom/cluster.json");
  assert.deepEqual(plan.nodes.map((n) => n.config.listeners.client.port), [9092, 9093, 9094]);
  assert.deepEqual(plan.nodes.map((n) => n.config.listeners.internal.port), [
    19092,
    19093,
    19094,
  ]);
  assert.deepEqual(plan.nodes.map((n) => n.config.dataDir), [
    "/data/strom/node-1",
    "/data/strom/node-2",
    "/data/strom/node-3",
  ]);
  for (const n of plan.nodes) assert.equal(n.config.voters.length, 3);
});

Deno.test("a planned config file passes node config validation unchanged", () => {
  const plan = planLocalCluster(OPTIONS);
  for (const node of plan.nodes) {
    const result = parseNodeConfig(configFileJson(node), "/data/strom");
    assert.ok(result.ok, JSON.stringify(!result.ok && result.errors));
    assert.deepEqual(result.config, node.config);
  }
});

Deno.test("planLocalCluster() writes the --groups settings into every node's config file", () => {
  const groups = { ...DEFAULT_GROUPS, sessionTimeoutMs: 3000, offsetsTopicPartitions: 3 };
  const plan = planLocalCluster({ ...OPTIONS, groups });
  for (const node of plan.nodes) {
    const result = parseNodeConfig(configFileJson(node), "/data/strom");
    assert.ok(result.ok, JSON.stringify(!result.ok && result.errors));
    assert.deepEqual(result.config.groups, groups);
  }
  assert.deepEqual(planLocalCluster(OPTIONS).nodes[0].config.groups, DEFAULT_GROUPS);
});

Deno.test("planLocalCluster() makes the last --broker-only nodes observers with racks", () => {
  const plan = planLocalCluster({ ...OPTIONS, nodes: 4, brokerOnly: 1, racks: ["a", "b"] });
  assert.deepEqual(plan.nodes.map((n) => n.config.roles), [
    ["broker", "controller"],
    ["broker", "controller"],
    ["broker", "controller"],
    ["broker"],
  ]);
  assert.deepEqual(plan.nodes.map((n) => n.config.rack), ["a", "b", "a", "b"]);
  for (const n of plan.nodes) assert.deepEqual(n.config.voters.map((v) => v.id), [1, 2, 3]);
  for (const node of plan.nodes) {
    const result = parseNodeConfig(configFileJson(node), "/data/strom");
    assert.ok(result.ok, JSON.stringify(!result.ok && result.errors));
    assert.deepEqual(result.config, node.config);
  }
});

Deno.test("planLocalCluster() puts --controller-only voters first (isolated mode)", () => {
  const plan = planLocalCluster({ ...OPTIONS, nodes: 5, controllerOnly: 3, brokerOnly: 2 });
  assert.deepEqual(plan.nodes.map((n) => n.config.roles), [
    ["controller"],
    ["controller"],
    ["controller"],
    ["broker"],
    ["broker"],
  ]);
  for (const node of plan.nodes) {
    const result = parseNodeConfig(configFileJson(node), "/data/strom");
    assert.ok(result.ok, JSON.stringify(!result.ok && result.errors));
  }
  assert.match(
    validateLocalClusterOptions({ ...OPTIONS, controllerOnly: 3 }).join(),
    /--controller-only must be an integer from 0 to the number of voters \(3\), leaving at least one node with the broker role/,
  );
  assert.match(
    validateLocalClusterOptions({ ...OPTIONS, nodes: 4, brokerOnly: 2, controllerOnly: 3 }).join(),
    /--controller-only/,
  );
});

Deno.test("validateLocalClusterOptions() rejects a cluster without controllers and bad racks", () => {
  assert.match(
    validateLocalClusterOptions({ ...OPTIONS, brokerOnly: 3 }).join(),
    /--broker-only must be an integer from 0 to 2/,
  );
  assert.match(
    validateLocalClusterOptions({ ...OPTIONS, racks: ["ok", "not ok"] }).join(),
    /--racks: "not ok" is not a rack name/,
  );
});

Deno.test("validateLocalClusterOptions() rejects bad counts, ports and overlaps", () => {
  assert.deepEqual(validateLocalClusterOptions(OPTIONS), []);
  assert.match(validateLocalClusterOptions({ ...OPTIONS, nodes: 0 })[0], /--nodes must be/);
  assert.match(validateLocalClusterOptions({ ...OPTIONS, nodes: 10 })[0], /--nodes must be/);
  assert.match(validateLocalClusterOptions({ ...OPTIONS, basePort: 80 })[0], /--base-port/);
  assert.match(
    validateLocalClusterOptions({ ...OPTIONS, basePort: 65535 })[0],
    /--base-port must be an integer from 1024 to 65533/,
  );
  assert.match(
    validateLocalClusterOptions({ ...OPTIONS, internalBasePort: 9093 }).join(),
    /overlap/,
  );
});

Deno.test("a node's heap flag caps old space and the young generation; deno task node uses the default", async () => {
  assert.equal(
    nodeV8HeapFlag(512),
    "--v8-flags=--max-old-space-size=512,--max-semi-space-size=4",
  );
  const tasks =
    JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url))).tasks;
  assert.ok(
    tasks.node.includes(` ${nodeV8HeapFlag(NODE_HEAP_MAX_MB_DEFAULT)} `),
    `deno.json's node task starts a node as the launcher does: ${tasks.node}`,
  );
});

Deno.test("every node gets the --heap-max-mb JS heap cap, 1024 MiB unless given; bad caps are refused", () => {
  assert.deepEqual(planLocalCluster(OPTIONS).nodes.map((n) => n.heapMaxMb), [1024, 1024, 1024]);
  assert.deepEqual(
    planLocalCluster({ ...OPTIONS, heapMaxMb: 512 }).nodes.map((n) => n.heapMaxMb),
    [512, 512, 512],
  );
  assert.deepEqual(validateLocalClusterOptions({ ...OPTIONS, heapMaxMb: 128 }), []);
  for (const bad of [0, 127, 1.5, Number.NaN, 65_537]) {
    assert.match(
      validateLocalClusterOptions({ ...OPTIONS, heapMaxMb: bad }).join(),
      /--heap-max-mb must be an integer from 128 to 65536 \(MiB of JS heap per node; got/,
    );
  }
});
