/**
 * Metadata records: the entries of the metadata log (Kafka's KRaft records,
 * in JSON). The active controller decides which records to write; every
 * node replays the committed ones, in log order, into the same
 * {@link MetadataImage}. One Raft entry carries one batch of records that is
 * applied atomically.
 *
 * Records state results, not intentions: a PartitionChange carries the new
 * leader, ISR and both epochs, so replay needs no decisions and every node
 * ends in the same state by construction.
 *
 * @module
 */

/** "No broker leads this partition." */
export const NO_LEADER = -1;

/** A broker (re)registered; it starts fenced and is unfenced once caught up. */
export interface RegisterBrokerRecord {
  readonly type: "RegisterBroker";
  readonly brokerId: number;
  /** Random per process start: tells a restarted broker from a retried registration. */
  readonly incarnationId: string;
  /** The broker's data directory id: a new one means its disk was wiped or replaced. */
  readonly directoryId: string;
  /** Assigned by the controller, strictly increasing across all registrations. */
  readonly brokerEpoch: number;
  readonly clientUrl: string;
  readonly internalUrl: string;
  readonly rack: string | null;
}

/** A broker stops (fenced) or starts (unfenced) being eligible to lead and to be in ISRs. */
export interface BrokerFencingRecord {
  readonly type: "FenceBroker" | "UnfenceBroker";
  readonly brokerId: number;
  readonly brokerEpoch: number;
}

/** A broker asked to shut down cleanly: it gets no new leaderships. */
export interface BrokerControlledShutdownRecord {
  readonly type: "BrokerControlledShutdown";
  readonly brokerId: number;
  readonly brokerEpoch: number;
}

/** A topic was created. Its partitions follow as Partition records. */
export interface TopicRecord {
  readonly type: "Topic";
  readonly name: string;
  readonly topicId: string;
}

/** A partition was created (with a topic, or by increasing the partition count). */
export interface PartitionRecord {
  readonly type: "Partition";
  readonly topicId: string;
  readonly partition: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
}

/**
 * A partition's leader or ISR changed. `partitionEpoch` is exactly one more
 * than before; `leaderEpoch` is one more than before when the leader changed
 * and unchanged otherwise.
 */
export interface PartitionChangeRecord {
  readonly type: "PartitionChange";
  readonly topicId: string;
  readonly partition: number;
  readonly leader: number;
  readonly isr: readonly number[];
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
}

/** A topic and all its partitions were deleted. */
export interface RemoveTopicRecord {
  readonly type: "RemoveTopic";
  readonly topicId: string;
}

/** A topic config was set (`value` a string) or removed (`value` null). */
export interface ConfigRecord {
  readonly type: "Config";
  readonly topicId: string;
  readonly key: string;
  readonly value: string | null;
}

/** A block of producer ids was handed to a broker: ids below `nextProducerId` are taken. */
export interface ProducerIdsRecord {
  readonly type: "ProducerIds";
  readonly brokerId: number;
  readonly brokerEpoch: number;
  readonly nextProducerId: number;
}

/**
 * A metadata-quorum member (voter or observer) announced itself: its data
 * directory id and where to reach it. `voter` mirrors the Raft membership
 * as the controller last changed it (KIP-853 keeps voters with their
 * directory ids in the log the same way): a node recorded as a voter may
 * only come back with the same directory id.
 */
export interface RegisterQuorumNodeRecord {
  readonly type: "RegisterQuorumNode";
  readonly nodeId: number;
  readonly directoryId: string;
  readonly internalUrl: string;
  readonly clientUrl: string;
  readonly voter: boolean;
}

/** An operator removed a voter from the quorum: forget its directory id. */
export interface UnregisterQuorumNodeRecord {
  readonly type: "UnregisterQuorumNode";
  readonly nodeId: number;
}

/** Written periodically by the active controller so that followers see the log advance. */
export interface NoOpRecord {
  readonly type: "NoOp";
}

/** Any metadata record. */
export type MetadataRecord =
  | RegisterBrokerRecord
  | BrokerFencingRecord
  | BrokerControlledShutdownRecord
  | TopicRecord
  | PartitionRecord
  | PartitionChangeRecord
  | RemoveTopicRecord
  | ConfigRecord
  | ProducerIdsRecord
  | RegisterQuorumNodeRecord
  | UnregisterQuorumNodeRecord
  | NoOpRecord;

/**
 * The most records one Raft entry carries. One controller operation writes
 * one entry, so that it applies atomically; this bounds the largest
 * operation (a topic of 20,000 partitions is about 3 MB of JSON).
 */
export const RECORDS_PER_ENTRY_MAX = 50_000;

/** Encodes one entry's records. */
export function encodeRecords(records: readonly MetadataRecord[]): Uint8Array {
  if (records.length === 0 || records.length > RECORDS_PER_ENTRY_MAX) {
    throw new RangeError(
      `a metadata entry holds 1 to ${RECORDS_PER_ENTRY_MAX} records (got ${records.length})`,
    );
  }
  return new TextEncoder().encode(JSON.stringify(records));
}

/** Decodes one entry's records; throws if the bytes are not a record list this version knows. */
export function decodeRecords(bytes: Uint8Array): MetadataRecord[] {
  const parsed = JSON.parse(new TextDecoder().decode(bytes));
  if (!Array.isArray(parsed)) throw new Error("metadata entry is not a list of records");
  for (const r of parsed) {
    if (typeof r !== "object" || r === null || !KNOWN_TYPES.has(r.type)) {
      throw new Error(`unknown metadata record type ${JSON.stringify(r?.type)}`);
    }
  }
  return parsed as MetadataRecord[];
}

const KNOWN_TYPES = new Set<MetadataRecord["type"]>([
  "RegisterBroker",
  "FenceBroker",
  "UnfenceBroker",
  "BrokerControlledShutdown",
  "Topic",
  "Partition",
  "PartitionChange",
  "RemoveTopic",
  "Config",
  "ProducerIds",
  "RegisterQuorumNode",
  "UnregisterQuorumNode",
  "NoOp",
]);
