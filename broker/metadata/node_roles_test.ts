import assert from "node:assert/strict";
import type { H2Client } from "@strom/client";
import type { NodeConfig } from "../config/node_config.ts";
import { DEFAULT_GROUPS, DEFAULT_TIMEOUTS } from "../config/node_config.ts";
import type { Logger } from "../log.ts";
import type { QuorumNodeView } from "./node_roles.ts";
import {
  hasBrokerRole,
  hasControllerRole,
  startMembership,
  WipedVoterError,
} from "./node_roles.ts";

const SILENT: Logger = { debug() {}, info() {}, warn() {}, error() {} };

function config(nodeId: number, roles: NodeConfig["roles"]): NodeConfig {
  const voters = [1, 2, 3].map((id) => ({
    id,
    internalUrl: `http://n${id}:19092`,
    clientUrl: `http://n${id}:9092`,
  }));
  return {
    nodeId,
    clusterId: "AAAAAAAAAAAAAAAAAAAAAA",
    roles,
    rack: null,
    dataDir: `/data/node-${nodeId}`,
    listeners: {
      client: { host: "127.0.0.1", port: 9092, advertisedUrl: `http://n${nodeId}:9092` },
      internal: { host: "127.0.0.1", port: 19092, advertisedUrl: `http://n${nodeId}:19092` },
    },
    voters,
    clusterSecretFile: "/data/cluster.secret",
    timeouts: DEFAULT_TIMEOUTS,
    groups: DEFAULT_GROUPS,
  };
}

/** An H2Client whose peers answer `view` (or fail, for `undefined`). */
function peersAnswering(view: (origin: string) => QuorumNodeView | undefined): H2Client {
  return {
    json: (origin: string) => {
      const v = view(origin);
      return v ? Promise.resolve(v) : Promise.reject(new Error("connection refused"));
    },
  } as unknown as H2Client;
}

function view(
  voters: number[],
  lastIndex: number,
  node: { voter: boolean; directoryId: string } | null,
): QuorumNodeView {
  return {
    raft: { voters, learners: [], lastIndex, leaderId: voters[0] },
    node: node && {
      id: 3,
      internalUrl: "http://n3:19092",
      clientUrl: "http://n3:9092",
      ...node,
    },
  };
}

Deno.test("hasBrokerRole() and hasControllerRole() read the roles", () => {
  assert.equal(hasBrokerRole(config(1, ["broker", "controller"])), true);
  assert.equal(hasBrokerRole(config(1, ["controller"])), false);
  assert.equal(hasControllerRole(config(4, ["broker"])), false);
  assert.equal(hasControllerRole(config(1, ["controller"])), true);
});

Deno.test("startMembership() keeps the configured voters in a new cluster and with peers down", async () => {
  const fresh = await startMembership({
    config: config(3, ["broker", "controller"]),
    directoryId: "d",
    http: peersAnswering(() => view([1, 2, 3], 0, null)),
    logger: SILENT,
  });
  assert.equal(fresh, undefined);
  const alone = await startMembership({
    config: config(3, ["broker", "controller"]),
    directoryId: "d",
    http: peersAnswering(() => undefined),
    logger: SILENT,
  });
  assert.equal(alone, undefined);
});

Deno.test("startMembership() refuses a wiped voter the quorum still counts", async () => {
  await assert.rejects(
    startMembership({
      config: config(3, ["broker", "controller"]),
      directoryId: "new-dir",
      http: peersAnswering(() => view([1, 2, 3], 50, { voter: true, directoryId: "old-dir" })),
      logger: SILENT,
    }),
    (e: unknown) => {
      assert.ok(e instanceof WipedVoterError);
      assert.match(e.message, /quorum remove-voter --id 3 --directory-id=old-dir/);
      return true;
    },
  );
});

Deno.test("startMembership() starts a removed voter as an observer of the current voters", async () => {
  const membership = await startMembership({
    config: config(3, ["broker", "controller"]),
    directoryId: "new-dir",
    http: peersAnswering((origin) =>
      origin.includes("n1") ? view([1, 2], 80, null) : view([1, 2], 75, null)
    ),
    logger: SILENT,
  });
  assert.deepEqual(membership, { voters: [1, 2], learners: [] });
});
