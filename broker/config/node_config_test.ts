import assert from "node:assert/strict";
import { join } from "node:path";
import {
  ConfigError,
  DEFAULT_GROUPS,
  DEFAULT_TIMEOUTS,
  loadNodeConfig,
  parseNodeConfig,
} from "./node_config.ts";

const BASE = "/etc/strom";

function validRaw(): Record<string, unknown> {
  return {
    nodeId: 1,
    clusterId: "AAAAAAAAAAAAAAAAAAAAAA",
    dataDir: "node-1",
    clusterSecretFile: "/secrets/cluster.secret",
    listeners: {
      client: { host: "127.0.0.1", port: 9092 },
      internal: { host: "127.0.0.1", port: 19092 },
    },
    voters: [
      { id: 2, internalUrl: "http://127.0.0.1:19093", clientUrl: "http://127.0.0.1:9093" },
      { id: 1, internalUrl: "http://127.0.0.1:19092", clientUrl: "http://127.0.0.1:9092" },
    ],
  };
}

function errorsFor(patch: (raw: Record<string, unknown>) => void): string[] {
  const raw = validRaw();
  patch(raw);
  const result = parseNodeConfig(raw, BASE);
  assert.equal(result.ok, false, "expected the config to be rejected");
  return result.ok ? [] : [...result.errors];
}

function listener(raw: Record<string, unknown>, name: "client" | "internal") {
  return (raw.listeners as Record<string, Record<string, unknown>>)[name];
}

Deno.test("parseNodeConfig() accepts a valid config and fills defaults", () => {
  const result = parseNodeConfig(validRaw(), BASE);
  assert.ok(result.ok);
  const c = result.config;
  assert.equal(c.dataDir, join(BASE, "node-1"), "relative paths resolve against the file's dir");
  assert.equal(c.clusterSecretFile, "/secrets/cluster.secret");
  assert.deepEqual(c.roles, ["broker", "controller"]);
  assert.equal(c.listeners.client.advertisedUrl, "http://127.0.0.1:9092");
  assert.deepEqual(c.voters.map((v) => v.id), [1, 2], "voters are sorted by id");
  assert.deepEqual(c.timeouts, DEFAULT_TIMEOUTS);
  assert.deepEqual(c.groups, DEFAULT_GROUPS);
});

Deno.test("parseNodeConfig() reads the groups section and keeps defaults for what it leaves out", () => {
  const raw = validRaw();
  raw.groups = {
    sessionTimeoutMs: 3000,
    heartbeatIntervalMs: 300,
    offsetsTopicPartitions: 3,
    defaultAssignor: "range",
  };
  const result = parseNodeConfig(raw, BASE);
  assert.ok(result.ok, JSON.stringify(result));
  assert.deepEqual(result.config.groups, {
    ...DEFAULT_GROUPS,
    sessionTimeoutMs: 3000,
    heartbeatIntervalMs: 300,
    offsetsTopicPartitions: 3,
    defaultAssignor: "range",
  });
});

Deno.test("parseNodeConfig() has no rack by default and accepts one", () => {
  const plain = parseNodeConfig(validRaw(), BASE);
  assert.ok(plain.ok);
  assert.equal(plain.config.rack, null);
  const raw = validRaw();
  raw.rack = "eu-west-1a";
  const racked = parseNodeConfig(raw, BASE);
  assert.ok(racked.ok);
  assert.equal(racked.config.rack, "eu-west-1a");
});

Deno.test("parseNodeConfig() accepts a broker-only node that is not a voter", () => {
  const raw = validRaw();
  raw.nodeId = 4;
  raw.roles = ["broker"];
  const result = parseNodeConfig(raw, BASE);
  assert.ok(result.ok, JSON.stringify(result));
  assert.deepEqual(result.config.roles, ["broker"]);
});

Deno.test("parseNodeConfig() accepts a controller-only voter", () => {
  const raw = validRaw();
  raw.roles = ["controller"];
  const result = parseNodeConfig(raw, BASE);
  assert.ok(result.ok, JSON.stringify(result));
  assert.deepEqual(result.config.roles, ["controller"]);
});

Deno.test("parseNodeConfig() accepts timeout overrides and an advertised URL", () => {
  const raw = validRaw();
  raw.timeouts = { sessionTimeoutMs: 3000 };
  listener(raw, "client").advertisedUrl = "http://broker-1.example:9092";
  const result = parseNodeConfig(raw, BASE);
  assert.ok(result.ok);
  assert.equal(result.config.timeouts.sessionTimeoutMs, 3000);
  assert.equal(result.config.timeouts.heartbeatIntervalMs, DEFAULT_TIMEOUTS.heartbeatIntervalMs);
  assert.equal(result.config.listeners.client.advertisedUrl, "http://broker-1.example:9092");
});

Deno.test("parseNodeConfig() rejects a config that is not an object", () => {
  for (const raw of [null, 3, "x", []]) {
    const result = parseNodeConfig(raw, BASE);
    assert.ok(!result.ok);
    assert.deepEqual(result.errors, ["config: must be a JSON object"]);
  }
});

const REJECTIONS: [string, (raw: Record<string, unknown>) => void, RegExp][] = [
  ["an unknown top-level field", (r) => (r.nodeID = 1), /^nodeID: unknown field/],
  ["a missing nodeId", (r) => delete r.nodeId, /^nodeId: must be a positive integer/],
  ["a zero nodeId", (r) => (r.nodeId = 0), /^nodeId: .*got 0/],
  ["a fractional nodeId", (r) => (r.nodeId = 1.5), /^nodeId: /],
  ["a string nodeId", (r) => (r.nodeId = "1"), /^nodeId: .*got "1"/],
  ["a malformed clusterId", (r) => (r.clusterId = "short"), /^clusterId: must be 22 base64url/],
  ["an empty roles list", (r) => (r.roles = []), /^roles: must be a non-empty list/],
  ["an unknown role", (r) => (r.roles = ["broker", "zookeeper"]), /^roles: /],
  ["a repeated role", (r) => (r.roles = ["broker", "broker"]), /^roles: /],
  ["a missing dataDir", (r) => delete r.dataDir, /^dataDir: must be a non-empty path/],
  ["an empty dataDir", (r) => (r.dataDir = ""), /^dataDir: /],
  ["a missing clusterSecretFile", (r) => delete r.clusterSecretFile, /^clusterSecretFile: /],
  ["missing listeners", (r) => delete r.listeners, /^listeners: must be an object/],
  [
    "an unknown listener",
    (r) => ((r.listeners as Record<string, unknown>).admin = {}),
    /^listeners\.admin: unknown field/,
  ],
  [
    "a missing client listener",
    (r) => delete (r.listeners as Record<string, unknown>).client,
    /^listeners\.client: must be an object/,
  ],
  [
    "a bad listener host",
    (r) => (listener(r, "client").host = "a b"),
    /^listeners\.client\.host: /,
  ],
  [
    "a port out of range",
    (r) => (listener(r, "internal").port = 70000),
    /^listeners\.internal\.port: must be an integer port from 1 to 65535 \(got 70000\)/,
  ],
  [
    "a bad advertised URL",
    (r) => (listener(r, "client").advertisedUrl = "ftp://x"),
    /^listeners\.client\.advertisedUrl: /,
  ],
  [
    "an unknown listener field",
    (r) => (listener(r, "client").tls = true),
    /^listeners\.client\.tls: unknown field/,
  ],
  [
    "the same port on both listeners",
    (r) => (listener(r, "internal").port = 9092),
    /^listeners: client and internal listeners must use different ports/,
  ],
  ["missing voters", (r) => delete r.voters, /^voters: must be a non-empty list/],
  ["an empty voters list", (r) => (r.voters = []), /^voters: must be a non-empty list/],
  ["a voter that is not an object", (r) => (r.voters = [1]), /^voters\[0\]: must be an object/],
  [
    "a voter with a bad id",
    (r) => ((r.voters as Record<string, unknown>[])[0].id = -2),
    /^voters\[0\]\.id: /,
  ],
  [
    "a voter with a bad internal URL",
    (r) => ((r.voters as Record<string, unknown>[])[0].internalUrl = "127.0.0.1:19093"),
    /^voters\[0\]\.internalUrl: must be an http/,
  ],
  [
    "a voter URL with a path",
    (r) => ((r.voters as Record<string, unknown>[])[0].clientUrl = "http://h:1/x"),
    /^voters\[0\]\.clientUrl: /,
  ],
  [
    "a voter with an unknown field",
    (r) => ((r.voters as Record<string, unknown>[])[0].rack = "a"),
    /^voters\[0\]\.rack: unknown field/,
  ],
  [
    "a voter listed twice",
    (r) => ((r.voters as Record<string, unknown>[])[0].id = 1),
    /^voters: node id 1 is listed more than once/,
  ],
  ["a rack that is not a string", (r) => (r.rack = 3), /^rack: must be 1 to 255 letters/],
  ["an empty rack", (r) => (r.rack = ""), /^rack: /],
  ["a rack with spaces", (r) => (r.rack = "rack one"), /^rack: /],
  [
    "a controller-only node that is not a voter",
    (r) => {
      r.nodeId = 3;
      r.roles = ["controller"];
    },
    /^voters: a node with role "controller" must be one of the voters/,
  ],
  [
    "a broker-only node listed in voters",
    (r) => (r.roles = ["broker"]),
    /must not be a voter: remove it from voters/,
  ],
  [
    "a controller that is not a voter",
    (r) => (r.nodeId = 3),
    /^voters: a node with role "controller" must be one of the voters/,
  ],
  [
    "a voter without the controller role",
    (r) => (r.roles = ["broker"]),
    /^roles: nodeId 1 is listed in voters/,
  ],
  ["timeouts that are not an object", (r) => (r.timeouts = 5), /^timeouts: must be an object/],
  [
    "an unknown timeout",
    (r) => (r.timeouts = { electionMs: 5 }),
    /^timeouts\.electionMs: unknown field/,
  ],
  [
    "a negative timeout",
    (r) => (r.timeouts = { requestTimeoutMs: -1 }),
    /^timeouts\.requestTimeoutMs: must be an integer number of milliseconds/,
  ],
  [
    "a session timeout shorter than two heartbeats",
    (r) => (r.timeouts = { heartbeatIntervalMs: 1000, sessionTimeoutMs: 1500 }),
    /^timeouts\.sessionTimeoutMs: must be at least twice heartbeatIntervalMs/,
  ],
  ["groups that are not an object", (r) => (r.groups = []), /^groups: must be an object/],
  [
    "an unknown groups field",
    (r) => (r.groups = { sessionTimeout: 5 }),
    /^groups\.sessionTimeout: unknown field \(known fields: sessionTimeoutMs, /,
  ],
  [
    "a group session timeout out of range",
    (r) => (r.groups = { sessionTimeoutMs: 100 }),
    /^groups\.sessionTimeoutMs: must be an integer from 500 to 3600000 \(got 100\)/,
  ],
  [
    "a fractional group heartbeat interval",
    (r) => (r.groups = { heartbeatIntervalMs: 250.5 }),
    /^groups\.heartbeatIntervalMs: must be an integer from 50 to 600000/,
  ],
  [
    "a string offsets retention",
    (r) => (r.groups = { offsetsRetentionMs: "7d" }),
    /^groups\.offsetsRetentionMs: must be an integer from 60000 to .*got "7d"/,
  ],
  [
    "zero offsets topic partitions",
    (r) => (r.groups = { offsetsTopicPartitions: 0 }),
    /^groups\.offsetsTopicPartitions: must be an integer from 1 to 1000 \(got 0\)/,
  ],
  [
    "an unknown default assignor",
    (r) => (r.groups = { defaultAssignor: "sticky" }),
    /^groups\.defaultAssignor: must be one of "uniform", "range" \(got "sticky"\)/,
  ],
  [
    "a group session shorter than two group heartbeats",
    (r) => (r.groups = { sessionTimeoutMs: 1000, heartbeatIntervalMs: 600 }),
    /^groups\.sessionTimeoutMs: must be at least twice heartbeatIntervalMs \(600\)/,
  ],
];

for (const [what, patch, expected] of REJECTIONS) {
  Deno.test(`parseNodeConfig() rejects ${what} with a message naming the field`, () => {
    const errors = errorsFor(patch);
    assert.ok(
      errors.some((e) => expected.test(e)),
      `expected a message matching ${expected}, got ${JSON.stringify(errors)}`,
    );
  });
}

Deno.test("parseNodeConfig() reports every bad field at once", () => {
  const errors = errorsFor((r) => {
    r.nodeId = -1;
    r.clusterId = 7;
    r.dataDir = "";
  });
  assert.equal(errors.length, 3, JSON.stringify(errors));
});

Deno.test("loadNodeConfig() reports unreadable files and bad JSON as ConfigError", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(loadNodeConfig(join(dir, "missing.json")), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /cannot read the config file/);
      return true;
    });
    await Deno.writeTextFile(join(dir, "bad.json"), "{ nodeId: 1 ");
    await assert.rejects(loadNodeConfig(join(dir, "bad.json")), /not valid JSON/);
    await Deno.writeTextFile(join(dir, "good.json"), JSON.stringify(validRaw()));
    const config = await loadNodeConfig(join(dir, "good.json"));
    assert.equal(config.dataDir, join(dir, "node-1"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
