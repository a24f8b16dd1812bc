/**
 * The controller operations other nodes may ask for, by name: each turns a
 * JSON request body into a decision function for the {@link ControllerService}.
 * Internal callers are authenticated by the cluster secret, but bodies are
 * still checked: a malformed one is INVALID_REQUEST, never a crash.
 *
 * @module
 */

import { StromError } from "@strom/client";
import type { MetadataImage } from "../metadata/image.ts";
import type { ControllerResult, QuorumController } from "./quorum_controller.ts";
import { ALTER_PARTITIONS_ITEMS_MAX } from "./quorum_controller.ts";

/** A decision function, as the controller service runs it. */
export type Decide = (image: MetadataImage, nowMs: number) => ControllerResult<unknown>;

/** The names of the operations. */
export type ControllerOpName =
  | "register"
  | "heartbeat"
  | "alter-partition"
  | "alter-partitions"
  | "producer-ids"
  | "create-topic"
  | "delete-topic"
  | "create-partitions"
  | "alter-configs"
  // Quorum membership, answered by QuorumMembershipService on the active controller.
  | "register-quorum-node"
  | "add-voter"
  | "remove-voter";

type Body = Record<string, unknown>;

function int(body: Body, key: string, min = 0): number {
  const v = body[key];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) {
    throw new StromError("INVALID_REQUEST", `"${key}" must be an integer ≥ ${min}`);
  }
  return v;
}

function str(body: Body, key: string): string {
  const v = body[key];
  if (typeof v !== "string" || v.length === 0 || v.length > 4096) {
    throw new StromError("INVALID_REQUEST", `"${key}" must be a non-empty string`);
  }
  return v;
}

function stringMap(v: unknown, key: string, allowNull: boolean): Record<string, string | null> {
  if (v === undefined) return {};
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new StromError("INVALID_REQUEST", `"${key}" must be an object of strings`);
  }
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== "string" && !(allowNull && x === null)) {
      throw new StromError(
        "INVALID_REQUEST",
        `"${key}.${k}" must be a string${allowNull ? " or null" : ""}`,
      );
    }
  }
  return v as Record<string, string | null>;
}

/** Most brokers an ISR in a request may name (more than any replication factor). */
const ISR_IDS_MAX = 64;

function isrList(v: unknown): number[] {
  if (
    !Array.isArray(v) || v.length > ISR_IDS_MAX || !v.every((b) => Number.isSafeInteger(b))
  ) {
    throw new StromError("INVALID_REQUEST", `"isr" must be a list of broker ids`);
  }
  return v as number[];
}

/** The decision for operation `name` with request `body`. */
export function decideFor(c: QuorumController, name: string, raw: unknown): Decide {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new StromError("INVALID_REQUEST", "the request body must be a JSON object");
  }
  const body = raw as Body;
  switch (name as ControllerOpName) {
    case "register": {
      const req = {
        brokerId: int(body, "brokerId", 1),
        incarnationId: str(body, "incarnationId"),
        directoryId: str(body, "directoryId"),
        clientUrl: str(body, "clientUrl"),
        internalUrl: str(body, "internalUrl"),
        rack: body.rack === null || body.rack === undefined ? null : str(body, "rack"),
      };
      return (image, now) => c.registerBroker(image, req, now);
    }
    case "heartbeat": {
      const req = {
        brokerId: int(body, "brokerId", 1),
        brokerEpoch: int(body, "brokerEpoch", 1),
        metadataOffset: int(body, "metadataOffset"),
        wantShutdown: body.wantShutdown === true,
      };
      return (image, now) => c.heartbeat(image, req, now);
    }
    case "alter-partition": {
      const req = {
        brokerId: int(body, "brokerId", 1),
        brokerEpoch: int(body, "brokerEpoch", 1),
        topicId: str(body, "topicId"),
        partition: int(body, "partition"),
        leaderEpoch: int(body, "leaderEpoch"),
        partitionEpoch: int(body, "partitionEpoch"),
        isr: isrList(body.isr),
      };
      return (image) => c.alterPartition(image, req);
    }
    case "alter-partitions": {
      const items = body.partitions;
      if (!Array.isArray(items) || items.length === 0) {
        throw new StromError("INVALID_REQUEST", `"partitions" must be a non-empty list`);
      }
      if (items.length > ALTER_PARTITIONS_ITEMS_MAX) {
        throw new StromError(
          "INVALID_REQUEST",
          `"partitions" holds at most ${ALTER_PARTITIONS_ITEMS_MAX} entries; got ${items.length}`,
        );
      }
      const req = {
        brokerId: int(body, "brokerId", 1),
        brokerEpoch: int(body, "brokerEpoch", 1),
        partitions: items.map((raw, i) => {
          if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
            throw new StromError("INVALID_REQUEST", `"partitions[${i}]" must be an object`);
          }
          const item = raw as Body;
          return {
            topicId: str(item, "topicId"),
            partition: int(item, "partition"),
            leaderEpoch: int(item, "leaderEpoch"),
            partitionEpoch: int(item, "partitionEpoch"),
            isr: isrList(item.isr),
          };
        }),
      };
      return (image) => c.alterPartitions(image, req);
    }
    case "producer-ids": {
      const req = { brokerId: int(body, "brokerId", 1), brokerEpoch: int(body, "brokerEpoch", 1) };
      return (image) => c.allocateProducerIds(image, req);
    }
    case "create-topic": {
      const req = {
        name: typeof body.name === "string" ? body.name : "",
        ...(body.partitions === undefined ? {} : { partitions: body.partitions as number }),
        ...(body.replicationFactor === undefined
          ? {}
          : { replicationFactor: body.replicationFactor as number }),
        configs: stringMap(body.configs, "configs", false) as Record<string, string>,
      };
      return (image) => c.createTopic(image, req);
    }
    case "delete-topic": {
      const name = str(body, "name");
      return (image) => c.deleteTopic(image, name);
    }
    case "create-partitions": {
      const name = str(body, "name");
      const total = body.partitions as number;
      return (image) => c.createPartitions(image, name, total);
    }
    case "alter-configs": {
      const name = str(body, "name");
      const changes = stringMap(body.configs, "configs", true);
      return (image) => c.alterConfigs(image, name, changes);
    }
    default:
      throw new StromError("NOT_FOUND", `no controller operation "${name}"`);
  }
}
