/**
 * Membership changes, one server at a time, and the data of `config` log
 * entries.
 *
 * A config entry carries the change *and the whole membership that results
 * from it*, so the latest membership of any log is simply the config of its
 * last config entry (or of its snapshot), without replaying history. A node
 * uses the latest membership in its log as soon as the entry is appended,
 * committed or not (Raft dissertation §4.1).
 *
 * @module
 */

import { ByteReader, ByteWriter } from "./_bytes.ts";
import { RaftError } from "./errors.ts";
import { readConfig, writeConfig } from "./message_codec.ts";
import type { ClusterConfig, NodeId } from "./types.ts";

/** A single-server membership change. `addVoter` of a learner promotes it. */
export interface ConfigChange {
  /** What to do with the node. */
  readonly type: "addVoter" | "addLearner" | "removeNode";
  /** The node to add, promote or remove. */
  readonly nodeId: NodeId;
}

/** What a `config` entry holds: the change and the membership after it. */
export interface ConfigEntryData {
  /** The change this entry makes. */
  readonly change: ConfigChange;
  /** The whole membership after the change. */
  readonly config: ClusterConfig;
}

const CHANGE_TYPES: readonly ConfigChange["type"][] = ["addVoter", "addLearner", "removeNode"];
const CONFIG_ENTRY_VERSION = 1;

/**
 * The membership after `change`; throws `INVALID_CONFIG_CHANGE` if the change is a no-op,
 * would remove the last voter, or demotes a voter to a learner.
 *
 * @example
 * ```ts
 * import { applyConfigChange } from "@strom/raft";
 * const next = applyConfigChange({ voters: [1, 2], learners: [3] }, { type: "addVoter", nodeId: 3 });
 * if (next.voters.length !== 3 || next.learners.length !== 0) throw new Error("not promoted");
 * ```
 */
export function applyConfigChange(config: ClusterConfig, change: ConfigChange): ClusterConfig {
  const id = change.nodeId;
  if (!Number.isSafeInteger(id) || id < 1) {
    throw new RaftError("INVALID_CONFIG_CHANGE", `node id ${id} is not a positive integer`);
  }
  const isVoter = config.voters.includes(id);
  const isLearner = config.learners.includes(id);
  const without = (ids: readonly NodeId[]) => ids.filter((x) => x !== id);
  const withId = (ids: readonly NodeId[]) => [...ids, id].sort((a, b) => a - b);
  switch (change.type) {
    case "addVoter":
      if (isVoter) throw new RaftError("INVALID_CONFIG_CHANGE", `node ${id} is already a voter`);
      return { voters: withId(config.voters), learners: without(config.learners) };
    case "addLearner":
      if (isLearner) {
        throw new RaftError("INVALID_CONFIG_CHANGE", `node ${id} is already a learner`);
      }
      if (isVoter) {
        throw new RaftError("INVALID_CONFIG_CHANGE", `node ${id} is a voter; remove it first`);
      }
      return { voters: config.voters, learners: withId(config.learners) };
    case "removeNode":
      if (!isVoter && !isLearner) {
        throw new RaftError("INVALID_CONFIG_CHANGE", `node ${id} is not a member`);
      }
      if (isVoter && config.voters.length === 1) {
        throw new RaftError("INVALID_CONFIG_CHANGE", `node ${id} is the last voter`);
      }
      return { voters: without(config.voters), learners: without(config.learners) };
  }
}

/**
 * Encodes the data of a `config` entry.
 *
 * @example
 * ```ts
 * import { decodeConfigEntry, encodeConfigEntry } from "@strom/raft";
 * const bytes = encodeConfigEntry({
 *   change: { type: "addLearner", nodeId: 4 },
 *   config: { voters: [1, 2, 3], learners: [4] },
 * });
 * if (decodeConfigEntry(bytes).config.learners[0] !== 4) throw new Error("round trip failed");
 * ```
 */
export function encodeConfigEntry(data: ConfigEntryData): Uint8Array {
  const w = new ByteWriter();
  w.u8(CONFIG_ENTRY_VERSION);
  w.u8(CHANGE_TYPES.indexOf(data.change.type));
  w.varint(data.change.nodeId);
  writeConfig(w, data.config);
  return w.finish();
}

/**
 * Decodes the data of a `config` entry; throws `CORRUPT_MESSAGE` if malformed.
 *
 * @example
 * ```ts
 * import { decodeConfigEntry, encodeConfigEntry } from "@strom/raft";
 * const change = { type: "removeNode", nodeId: 2 } as const;
 * const decoded = decodeConfigEntry(encodeConfigEntry({ change, config: { voters: [1, 3], learners: [] } }));
 * if (decoded.change.type !== "removeNode") throw new Error("round trip failed");
 * ```
 */
export function decodeConfigEntry(bytes: Uint8Array): ConfigEntryData {
  const r = new ByteReader(bytes, "raft config entry");
  const version = r.u8();
  if (version !== CONFIG_ENTRY_VERSION) r.fail(`unknown version ${version}`);
  const type = CHANGE_TYPES[r.u8()];
  if (type === undefined) r.fail("unknown change type");
  const nodeId = r.varint();
  if (nodeId < 1) r.fail("node id 0");
  const config = readConfig(r);
  r.end();
  return { change: { type, nodeId }, config };
}
