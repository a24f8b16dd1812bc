/**
 * The configuration of one Strom node, read from a JSON file and validated up
 * front: every bad field gets its own message naming the field, what was
 * wrong and what is accepted, so an operator fixes a config in one pass.
 *
 * Relative paths in the file are resolved against the file's own directory,
 * so a config keeps working whatever directory the node is started from.
 *
 * @module
 */

import { dirname, isAbsolute, resolve } from "node:path";
import { OFFSETS_TOPIC_PARTITIONS_DEFAULT } from "../group_coordinator/config.ts";
import type { AssignorName, GroupCoordinatorConfig } from "../groups/config.ts";
import { ASSIGNOR_NAMES, DEFAULT_GROUP_COORDINATOR_CONFIG } from "../groups/config.ts";

/** What a node does. Combined mode (the default local cluster) is both. */
export type NodeRole = "broker" | "controller";

/** One listener: where it binds and the URL other parties use to reach it. */
export interface ListenerConfig {
  readonly host: string;
  readonly port: number;
  /** The URL others use; defaults to `http://{host}:{port}`. */
  readonly advertisedUrl: string;
}

/** A member of the metadata quorum. */
export interface VoterConfig {
  readonly id: number;
  /** The voter's internal listener (Raft, replication, controller RPCs). */
  readonly internalUrl: string;
  /** The voter's client listener (for hints and `GET /v1/cluster`). */
  readonly clientUrl: string;
}

/** Timing settings, all in milliseconds. */
export interface TimeoutsConfig {
  /** How often a broker heartbeats to the controller. */
  readonly heartbeatIntervalMs: number;
  /** A broker that misses heartbeats this long is fenced. */
  readonly sessionTimeoutMs: number;
  /** Raft election timeout (randomized up to twice this). */
  readonly electionTimeoutMs: number;
  /** Default deadline for a client request. */
  readonly requestTimeoutMs: number;
  /** How long a stopping node waits for in-flight requests to drain. */
  readonly shutdownGraceMs: number;
}

/**
 * Consumer group settings (the group coordinator on this broker). Every
 * broker should use the same values: a group moves to another broker's
 * coordinator when leadership of its `__consumer_offsets` partition moves.
 */
export interface GroupsConfig extends GroupCoordinatorConfig {
  /** Partitions of `__consumer_offsets`; only read when the topic is created. */
  readonly offsetsTopicPartitions: number;
}

/** Defaults of the `groups` section; see README "Consumer groups". */
export const DEFAULT_GROUPS: GroupsConfig = {
  ...DEFAULT_GROUP_COORDINATOR_CONFIG,
  offsetsTopicPartitions: OFFSETS_TOPIC_PARTITIONS_DEFAULT,
};

/** The accepted range of each numeric `groups` field, inclusive. */
export const GROUPS_LIMITS = {
  sessionTimeoutMs: { min: 500, max: 3_600_000 },
  heartbeatIntervalMs: { min: 50, max: 600_000 },
  offsetsRetentionMs: { min: 60_000, max: 365 * 24 * 3_600_000 },
  offsetsTopicPartitions: { min: 1, max: 1_000 },
} as const;

/** A validated node configuration. */
export interface NodeConfig {
  readonly nodeId: number;
  readonly clusterId: string;
  readonly roles: readonly NodeRole[];
  /**
   * The node's rack (Kafka's `broker.rack`), or null. Sent in the broker
   * registration; topic creation spreads a partition's replicas over racks.
   */
  readonly rack: string | null;
  /** Absolute path of this node's data directory. */
  readonly dataDir: string;
  readonly listeners: { readonly client: ListenerConfig; readonly internal: ListenerConfig };
  readonly voters: readonly VoterConfig[];
  /** Absolute path of the file holding the shared cluster secret (mode 0600). */
  readonly clusterSecretFile: string;
  readonly timeouts: TimeoutsConfig;
  readonly groups: GroupsConfig;
}

/** Defaults chosen for a local cluster on one machine; see README "Configuration". */
export const DEFAULT_TIMEOUTS: TimeoutsConfig = {
  heartbeatIntervalMs: 250,
  sessionTimeoutMs: 1500,
  electionTimeoutMs: 500,
  requestTimeoutMs: 30_000,
  shutdownGraceMs: 10_000,
};

/** A cluster id: 16 random bytes, base64url without padding (as Kafka's are). */
export const CLUSTER_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;

/** The result of validating a config: the config, or one message per bad field. */
export type ConfigResult =
  | { readonly ok: true; readonly config: NodeConfig }
  | { readonly ok: false; readonly errors: readonly string[] };

const TOP_LEVEL_KEYS = [
  "nodeId",
  "clusterId",
  "roles",
  "rack",
  "dataDir",
  "listeners",
  "voters",
  "clusterSecretFile",
  "timeouts",
  "groups",
] as const;

/**
 * Validates a parsed JSON config. `baseDir` resolves relative paths (the
 * config file's directory).
 */
export function parseNodeConfig(raw: unknown, baseDir: string): ConfigResult {
  const errors: string[] = [];
  if (!isPlainObject(raw)) {
    return { ok: false, errors: ["config: must be a JSON object"] };
  }
  rejectUnknownKeys(raw, TOP_LEVEL_KEYS, "", errors);

  const nodeId = positiveInt(raw.nodeId, "nodeId", errors);
  const clusterId = clusterIdField(raw.clusterId, errors);
  const roles = rolesField(raw.roles, errors);
  const rack = rackField(raw.rack, errors);
  const dataDir = pathField(raw.dataDir, "dataDir", baseDir, errors);
  const clusterSecretFile = pathField(raw.clusterSecretFile, "clusterSecretFile", baseDir, errors);
  const listeners = listenersField(raw.listeners, errors);
  const voters = votersField(raw.voters, errors);
  const timeouts = timeoutsField(raw.timeouts, errors);
  const groups = groupsField(raw.groups, errors);

  if (nodeId !== undefined && voters !== undefined && roles?.includes("controller")) {
    if (!voters.some((v) => v.id === nodeId)) {
      errors.push(
        `voters: a node with role "controller" must be one of the voters, but nodeId ${nodeId} is not listed (voters lists exactly the controller-role nodes; a broker-only node leaves "controller" out of roles)`,
      );
    }
  }
  if (nodeId !== undefined && voters !== undefined && roles && !roles.includes("controller")) {
    if (voters.some((v) => v.id === nodeId)) {
      errors.push(
        `roles: nodeId ${nodeId} is listed in voters, so its roles must include "controller" (a broker-only node follows the metadata log as an observer and must not be a voter: remove it from voters)`,
      );
    }
  }
  if (listeners && listeners.client.port === listeners.internal.port) {
    errors.push(
      `listeners: client and internal listeners must use different ports (both are ${listeners.client.port})`,
    );
  }

  if (
    errors.length > 0 || nodeId === undefined || clusterId === undefined || !roles ||
    rack === undefined ||
    !dataDir || !clusterSecretFile || !listeners || !voters || !timeouts ||
    !groups
  ) {
    return { ok: false, errors };
  }
  return {
    ok: true,
    config: {
      nodeId,
      clusterId,
      roles,
      rack,
      dataDir,
      listeners,
      voters,
      clusterSecretFile,
      timeouts,
      groups,
    },
  };
}

/** Reads, parses and validates a config file; throws {@link ConfigError} listing every problem. */
export async function loadNodeConfig(path: string): Promise<NodeConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new ConfigError(path, [`cannot read the config file: ${(e as Error).message}`]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(path, [`not valid JSON: ${(e as Error).message}`]);
  }
  const result = parseNodeConfig(raw, dirname(resolve(path)));
  if (!result.ok) throw new ConfigError(path, result.errors);
  return result.config;
}

/** A config that failed validation; `problems` has one line per bad field. */
export class ConfigError extends Error {
  constructor(readonly file: string, readonly problems: readonly string[]) {
    super(`invalid config ${file}:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v);
  if (v === undefined) return "nothing";
  if (Array.isArray(v)) return "an array";
  if (v === null) return "null";
  return typeof v === "object" ? "an object" : String(v);
}

function rejectUnknownKeys(
  obj: Record<string, unknown>,
  known: readonly string[],
  prefix: string,
  errors: string[],
): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) {
      errors.push(`${prefix}${key}: unknown field (known fields: ${known.join(", ")})`);
    }
  }
}

function positiveInt(v: unknown, field: string, errors: string[]): number | undefined {
  if (typeof v === "number" && Number.isSafeInteger(v) && v > 0) return v;
  errors.push(`${field}: must be a positive integer (got ${describe(v)})`);
  return undefined;
}

function portField(v: unknown, field: string, errors: string[]): number | undefined {
  if (typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 65535) return v;
  errors.push(`${field}: must be an integer port from 1 to 65535 (got ${describe(v)})`);
  return undefined;
}

function clusterIdField(v: unknown, errors: string[]): string | undefined {
  if (typeof v === "string" && CLUSTER_ID_PATTERN.test(v)) return v;
  errors.push(
    `clusterId: must be 22 base64url characters, as written by the launcher (got ${describe(v)})`,
  );
  return undefined;
}

function rolesField(v: unknown, errors: string[]): NodeRole[] | undefined {
  if (v === undefined) return ["broker", "controller"];
  const valid = Array.isArray(v) && v.length > 0 &&
    v.every((r) => r === "broker" || r === "controller") && new Set(v).size === v.length;
  if (valid) return [...v] as NodeRole[];
  errors.push(
    `roles: must be a non-empty list of distinct "broker" and "controller" (got ${describe(v)})`,
  );
  return undefined;
}

/** A rack name: what Kafka accepts in `broker.rack`, kept to URL- and shell-safe characters. */
export const RACK_PATTERN = /^[A-Za-z0-9._-]{1,255}$/;

function rackField(v: unknown, errors: string[]): string | null | undefined {
  if (v === undefined || v === null) return null;
  if (typeof v === "string" && RACK_PATTERN.test(v)) return v;
  errors.push(
    `rack: must be 1 to 255 letters, digits, ".", "_" or "-", like "eu-west-1a", or left out (got ${
      describe(v)
    })`,
  );
  return undefined;
}

function pathField(
  v: unknown,
  field: string,
  baseDir: string,
  errors: string[],
): string | undefined {
  if (typeof v === "string" && v.length > 0 && !v.includes("\0")) {
    return isAbsolute(v) ? v : resolve(baseDir, v);
  }
  errors.push(`${field}: must be a non-empty path (got ${describe(v)})`);
  return undefined;
}

function urlField(v: unknown, field: string, errors: string[]): string | undefined {
  if (typeof v === "string") {
    try {
      const url = new URL(v);
      if ((url.protocol === "http:" || url.protocol === "https:") && url.pathname === "/") {
        return url.origin;
      }
    } catch {
      // fall through to the error below
    }
  }
  errors.push(
    `${field}: must be an http:// or https:// URL without a path, like "http://10.0.0.1:9092" (got ${
      describe(v)
    })`,
  );
  return undefined;
}

function listenerField(v: unknown, field: string, errors: string[]): ListenerConfig | undefined {
  if (!isPlainObject(v)) {
    errors.push(`${field}: must be an object like {"host": "127.0.0.1", "port": 9092}`);
    return undefined;
  }
  rejectUnknownKeys(v, ["host", "port", "advertisedUrl"], `${field}.`, errors);
  let host: string | undefined;
  if (typeof v.host === "string" && /^[A-Za-z0-9.:-]+$/.test(v.host)) host = v.host;
  else errors.push(`${field}.host: must be a host name or IP address (got ${describe(v.host)})`);
  const port = portField(v.port, `${field}.port`, errors);
  const advertisedUrl = v.advertisedUrl === undefined
    ? (host !== undefined && port !== undefined ? `http://${hostForUrl(host)}:${port}` : undefined)
    : urlField(v.advertisedUrl, `${field}.advertisedUrl`, errors);
  if (host === undefined || port === undefined || advertisedUrl === undefined) return undefined;
  return { host, port, advertisedUrl };
}

function hostForUrl(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

function listenersField(
  v: unknown,
  errors: string[],
): NodeConfig["listeners"] | undefined {
  if (!isPlainObject(v)) {
    errors.push(`listeners: must be an object with "client" and "internal" listeners`);
    return undefined;
  }
  rejectUnknownKeys(v, ["client", "internal"], "listeners.", errors);
  const client = listenerField(v.client, "listeners.client", errors);
  const internal = listenerField(v.internal, "listeners.internal", errors);
  return client && internal ? { client, internal } : undefined;
}

function votersField(v: unknown, errors: string[]): VoterConfig[] | undefined {
  if (!Array.isArray(v) || v.length === 0) {
    errors.push(
      `voters: must be a non-empty list of {"id", "internalUrl", "clientUrl"} (got ${describe(v)})`,
    );
    return undefined;
  }
  const voters: VoterConfig[] = [];
  v.forEach((item, i) => {
    const field = `voters[${i}]`;
    if (!isPlainObject(item)) {
      errors.push(`${field}: must be an object with "id", "internalUrl" and "clientUrl"`);
      return;
    }
    rejectUnknownKeys(item, ["id", "internalUrl", "clientUrl"], `${field}.`, errors);
    const id = positiveInt(item.id, `${field}.id`, errors);
    const internalUrl = urlField(item.internalUrl, `${field}.internalUrl`, errors);
    const clientUrl = urlField(item.clientUrl, `${field}.clientUrl`, errors);
    if (id !== undefined && internalUrl && clientUrl) voters.push({ id, internalUrl, clientUrl });
  });
  const ids = voters.map((x) => x.id);
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup !== undefined) errors.push(`voters: node id ${dup} is listed more than once`);
  return voters.length === v.length && dup === undefined
    ? voters.sort((a, b) => a.id - b.id)
    : undefined;
}

function timeoutsField(v: unknown, errors: string[]): TimeoutsConfig | undefined {
  if (v === undefined) return DEFAULT_TIMEOUTS;
  if (!isPlainObject(v)) {
    errors.push(`timeouts: must be an object of millisecond values`);
    return undefined;
  }
  const keys = Object.keys(DEFAULT_TIMEOUTS) as (keyof TimeoutsConfig)[];
  rejectUnknownKeys(v, keys, "timeouts.", errors);
  const out: Record<string, number> = { ...DEFAULT_TIMEOUTS };
  let ok = true;
  for (const key of keys) {
    if (v[key] === undefined) continue;
    const n = v[key];
    if (typeof n === "number" && Number.isInteger(n) && n > 0 && n <= 3_600_000) out[key] = n;
    else {
      errors.push(
        `timeouts.${key}: must be an integer number of milliseconds from 1 to 3600000 (got ${
          describe(n)
        })`,
      );
      ok = false;
    }
  }
  if (!ok) return undefined;
  const t = out as unknown as TimeoutsConfig;
  if (t.heartbeatIntervalMs * 2 > t.sessionTimeoutMs) {
    errors.push(
      `timeouts.sessionTimeoutMs: must be at least twice heartbeatIntervalMs (${t.heartbeatIntervalMs}), or brokers get fenced between heartbeats (got ${t.sessionTimeoutMs})`,
    );
    return undefined;
  }
  return t;
}

/**
 * Validates a `groups` section (missing fields take {@link DEFAULT_GROUPS});
 * `field` names it in messages. Exported for the launcher's `--groups` flag.
 */
export function groupsField(
  v: unknown,
  errors: string[],
  field = "groups",
): GroupsConfig | undefined {
  if (v === undefined) return DEFAULT_GROUPS;
  if (!isPlainObject(v)) {
    errors.push(
      `${field}: must be an object like {"sessionTimeoutMs": 10000, "heartbeatIntervalMs": 1000} (got ${
        describe(v)
      })`,
    );
    return undefined;
  }
  rejectUnknownKeys(v, Object.keys(DEFAULT_GROUPS), `${field}.`, errors);
  const out: Record<string, unknown> = { ...DEFAULT_GROUPS };
  let ok = true;
  for (const [key, { min, max }] of Object.entries(GROUPS_LIMITS)) {
    const n = v[key];
    if (n === undefined) continue;
    if (typeof n === "number" && Number.isSafeInteger(n) && n >= min && n <= max) out[key] = n;
    else {
      errors.push(`${field}.${key}: must be an integer from ${min} to ${max} (got ${describe(n)})`);
      ok = false;
    }
  }
  if (v.defaultAssignor !== undefined) {
    if (ASSIGNOR_NAMES.includes(v.defaultAssignor as AssignorName)) {
      out.defaultAssignor = v.defaultAssignor;
    } else {
      errors.push(
        `${field}.defaultAssignor: must be one of ${
          ASSIGNOR_NAMES.map((a) => `"${a}"`).join(", ")
        } (got ${describe(v.defaultAssignor)})`,
      );
      ok = false;
    }
  }
  if (!ok) return undefined;
  const g = out as unknown as GroupsConfig;
  if (g.heartbeatIntervalMs * 2 > g.sessionTimeoutMs) {
    errors.push(
      `${field}.sessionTimeoutMs: must be at least twice heartbeatIntervalMs (${g.heartbeatIntervalMs}), or members get removed between heartbeats (got ${g.sessionTimeoutMs})`,
    );
    return undefined;
  }
  return g;
}
