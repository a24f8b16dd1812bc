/**
 * The metadata image: the cluster's brokers, topics and partitions as of one
 * offset of the metadata log, built by replaying committed records.
 *
 * Invariants (checked by replay, which throws on a record that would break
 * them — such a record means a controller bug, and applying it would fork
 * the nodes' images):
 * - a partition's ISR is a non-empty subset of its replicas, without duplicates;
 * - its leader is NO_LEADER or a member of the ISR;
 * - `partitionEpoch` grows by exactly one per change; `leaderEpoch` grows by
 *   one exactly when the leader changes;
 * - broker epochs grow strictly across registrations;
 * - `nextProducerId` never decreases.
 *
 * Images are immutable: replay returns a new image sharing every unchanged
 * topic with the old one, so readers may hold an image as long as they like.
 *
 * @module
 */

import type { MetadataRecord, PartitionChangeRecord, PartitionRecord } from "./records.ts";
import { NO_LEADER } from "./records.ts";

/** A registered broker. */
export interface BrokerRegistration {
  readonly id: number;
  readonly incarnationId: string;
  readonly directoryId: string;
  readonly epoch: number;
  readonly clientUrl: string;
  readonly internalUrl: string;
  readonly rack: string | null;
  readonly fenced: boolean;
  readonly inControlledShutdown: boolean;
  /** Offset of the metadata log at which it registered: it must catch up to here to be unfenced. */
  readonly registeredAtOffset: number;
}

/** A metadata-quorum member as the image knows it (see RegisterQuorumNodeRecord). */
export interface QuorumNodeRegistration {
  readonly id: number;
  readonly directoryId: string;
  readonly internalUrl: string;
  readonly clientUrl: string;
  /** Recorded as a voter: it may only come back with this directory id. */
  readonly voter: boolean;
}

/** One partition's replica set and leadership. */
export interface PartitionState {
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
}

/** One topic. */
export interface TopicImage {
  readonly name: string;
  readonly topicId: string;
  /** Only the configs set explicitly; see topic_configs.ts for defaults. */
  readonly configs: Readonly<Record<string, string>>;
  readonly partitions: readonly PartitionState[];
}

/** The whole image. */
export interface MetadataImage {
  /** The metadata log offset (Raft index) of the last entry applied; 0 when empty. */
  readonly offset: number;
  readonly brokers: ReadonlyMap<number, BrokerRegistration>;
  readonly topics: ReadonlyMap<string, TopicImage>;
  readonly topicIdsByName: ReadonlyMap<string, string>;
  readonly nextProducerId: number;
  readonly nextBrokerEpoch: number;
  /** Voters and observers of the metadata quorum that announced themselves, by node id. */
  readonly quorumNodes: ReadonlyMap<number, QuorumNodeRegistration>;
}

/** The image before any record. */
export const EMPTY_IMAGE: MetadataImage = {
  offset: 0,
  brokers: new Map(),
  topics: new Map(),
  topicIdsByName: new Map(),
  nextProducerId: 0,
  nextBrokerEpoch: 1,
  quorumNodes: new Map(),
};

/** A record that cannot apply to the image: the metadata log is inconsistent. */
export class MetadataReplayError extends Error {
  constructor(offset: number, record: MetadataRecord, why: string) {
    super(`metadata record at offset ${offset} (${record.type}) cannot apply: ${why}`);
    this.name = "MetadataReplayError";
  }
}

/**
 * Applies one committed entry's records, all at `offset`, and returns the
 * new image. Throws {@link MetadataReplayError} and leaves `image` as it was
 * if any record breaks an invariant.
 */
export function replay(
  image: MetadataImage,
  records: readonly MetadataRecord[],
  offset: number,
): MetadataImage {
  if (offset <= image.offset) {
    throw new RangeError(`replay at offset ${offset}, but the image is already at ${image.offset}`);
  }
  const d = new Delta(image);
  for (const record of records) d.apply(record, offset);
  return d.build(offset);
}

/** Applies records to copies of only what they touch. */
class Delta {
  readonly brokers: Map<number, BrokerRegistration>;
  readonly topics: Map<string, TopicImage>;
  readonly topicIdsByName: Map<string, string>;
  /** Mutable partition arrays of topics touched by this delta. */
  readonly partitions = new Map<string, PartitionState[]>();
  nextProducerId: number;
  nextBrokerEpoch: number;
  readonly quorumNodes: Map<number, QuorumNodeRegistration>;

  constructor(readonly base: MetadataImage) {
    this.quorumNodes = new Map(base.quorumNodes);
    this.brokers = new Map(base.brokers);
    this.topics = new Map(base.topics);
    this.topicIdsByName = new Map(base.topicIdsByName);
    this.nextProducerId = base.nextProducerId;
    this.nextBrokerEpoch = base.nextBrokerEpoch;
  }

  apply(r: MetadataRecord, offset: number): void {
    const fail = (why: string): never => {
      throw new MetadataReplayError(offset, r, why);
    };
    switch (r.type) {
      case "RegisterBroker": {
        if (r.brokerEpoch < this.nextBrokerEpoch) {
          fail(`broker epoch ${r.brokerEpoch} is not above the last one`);
        }
        this.nextBrokerEpoch = r.brokerEpoch + 1;
        this.brokers.set(r.brokerId, {
          id: r.brokerId,
          incarnationId: r.incarnationId,
          directoryId: r.directoryId,
          epoch: r.brokerEpoch,
          clientUrl: r.clientUrl,
          internalUrl: r.internalUrl,
          rack: r.rack,
          fenced: true,
          inControlledShutdown: false,
          registeredAtOffset: offset,
        });
        return;
      }
      case "FenceBroker":
      case "UnfenceBroker":
      case "BrokerControlledShutdown": {
        const b = this.brokers.get(r.brokerId);
        if (!b || b.epoch !== r.brokerEpoch) {
          return fail(`broker ${r.brokerId} with epoch ${r.brokerEpoch} is not registered`);
        }
        this.brokers.set(
          r.brokerId,
          r.type === "BrokerControlledShutdown"
            ? { ...b, inControlledShutdown: true }
            : { ...b, fenced: r.type === "FenceBroker" },
        );
        return;
      }
      case "Topic": {
        if (this.topicIdsByName.has(r.name)) fail(`topic ${r.name} exists`);
        if (this.topics.has(r.topicId)) fail(`topic id ${r.topicId} exists`);
        this.topics.set(r.topicId, {
          name: r.name,
          topicId: r.topicId,
          configs: {},
          partitions: [],
        });
        this.topicIdsByName.set(r.name, r.topicId);
        this.partitions.set(r.topicId, []);
        return;
      }
      case "Partition": {
        const parts = this.#partitionsOf(r.topicId, fail);
        if (r.partition !== parts.length) {
          fail(`partition ${r.partition} is not the next one (${parts.length})`);
        }
        checkPartition(r, fail);
        parts.push({
          replicas: r.replicas,
          isr: r.isr,
          leader: r.leader,
          leaderEpoch: r.leaderEpoch,
          partitionEpoch: r.partitionEpoch,
        });
        return;
      }
      case "PartitionChange": {
        const parts = this.#partitionsOf(r.topicId, fail);
        const old = parts[r.partition];
        if (!old) return fail(`partition ${r.partition} does not exist`);
        checkChange(old, r, fail);
        parts[r.partition] = {
          ...old,
          leader: r.leader,
          isr: r.isr,
          leaderEpoch: r.leaderEpoch,
          partitionEpoch: r.partitionEpoch,
        };
        return;
      }
      case "RemoveTopic": {
        const t = this.topics.get(r.topicId);
        if (!t) return fail(`topic id ${r.topicId} does not exist`);
        this.topics.delete(r.topicId);
        this.topicIdsByName.delete(t.name);
        this.partitions.delete(r.topicId);
        return;
      }
      case "Config": {
        const t = this.topics.get(r.topicId);
        if (!t) return fail(`topic id ${r.topicId} does not exist`);
        const configs = { ...t.configs };
        if (r.value === null) delete configs[r.key];
        else configs[r.key] = r.value;
        this.topics.set(r.topicId, { ...t, configs });
        return;
      }
      case "ProducerIds": {
        if (r.nextProducerId <= this.nextProducerId) fail("producer ids must only grow");
        this.nextProducerId = r.nextProducerId;
        return;
      }
      case "RegisterQuorumNode":
        this.quorumNodes.set(r.nodeId, {
          id: r.nodeId,
          directoryId: r.directoryId,
          internalUrl: r.internalUrl,
          clientUrl: r.clientUrl,
          voter: r.voter,
        });
        return;
      case "UnregisterQuorumNode":
        if (!this.quorumNodes.delete(r.nodeId)) fail(`quorum node ${r.nodeId} is not registered`);
        return;
      case "NoOp":
        return;
    }
  }

  #partitionsOf(topicId: string, fail: (why: string) => never): PartitionState[] {
    let parts = this.partitions.get(topicId);
    if (!parts) {
      const t = this.topics.get(topicId);
      if (!t) return fail(`topic id ${topicId} does not exist`);
      parts = [...t.partitions];
      this.partitions.set(topicId, parts);
    }
    return parts;
  }

  build(offset: number): MetadataImage {
    for (const [topicId, parts] of this.partitions) {
      const t = this.topics.get(topicId);
      if (t) this.topics.set(topicId, { ...t, partitions: parts });
    }
    return {
      offset,
      brokers: this.brokers,
      topics: this.topics,
      topicIdsByName: this.topicIdsByName,
      nextProducerId: this.nextProducerId,
      nextBrokerEpoch: this.nextBrokerEpoch,
      quorumNodes: this.quorumNodes,
    };
  }
}

function checkPartition(r: PartitionRecord, fail: (why: string) => never): void {
  if (r.replicas.length === 0 || new Set(r.replicas).size !== r.replicas.length) {
    fail("replicas must be non-empty and distinct");
  }
  checkIsrAndLeader(r.replicas, r.isr, r.leader, fail);
}

function checkIsrAndLeader(
  replicas: readonly number[],
  isr: readonly number[],
  leader: number,
  fail: (why: string) => never,
): void {
  // Empty only while leaderless: its last member came back with a wiped data dir.
  if ((isr.length === 0 && leader !== NO_LEADER) || new Set(isr).size !== isr.length) {
    fail("ISR must be distinct, and non-empty while the partition has a leader");
  }
  if (!isr.every((b) => replicas.includes(b))) fail("ISR must be a subset of the replicas");
  if (leader !== NO_LEADER && !isr.includes(leader)) fail(`leader ${leader} is not in the ISR`);
}

function checkChange(
  old: PartitionState,
  r: PartitionChangeRecord,
  fail: (why: string) => never,
): void {
  checkIsrAndLeader(old.replicas, r.isr, r.leader, fail);
  if (r.partitionEpoch !== old.partitionEpoch + 1) {
    fail(`partition epoch must go from ${old.partitionEpoch} to ${old.partitionEpoch + 1}`);
  }
  const expectedLeaderEpoch = r.leader === old.leader ? old.leaderEpoch : old.leaderEpoch + 1;
  if (r.leaderEpoch !== expectedLeaderEpoch) {
    fail(`leader epoch must be ${expectedLeaderEpoch}`);
  }
}

/** The topic with this name, if any. */
export function topicByName(image: MetadataImage, name: string): TopicImage | undefined {
  const id = image.topicIdsByName.get(name);
  return id === undefined ? undefined : image.topics.get(id);
}

/** Brokers that may lead and be in ISRs: registered, not fenced, not shutting down. */
export function activeBrokerIds(image: MetadataImage): number[] {
  return [...image.brokers.values()]
    .filter((b) => !b.fenced && !b.inControlledShutdown)
    .map((b) => b.id)
    .sort((a, b) => a - b);
}

/** A canonical text form of the image: equal images have equal text on every node. */
export function canonicalImage(image: MetadataImage): string {
  return JSON.stringify({
    offset: image.offset,
    nextProducerId: image.nextProducerId,
    nextBrokerEpoch: image.nextBrokerEpoch,
    brokers: [...image.brokers.values()].sort((a, b) => a.id - b.id),
    quorumNodes: [...image.quorumNodes.values()].sort((a, b) => a.id - b.id),
    topics: [...image.topics.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((t) => ({
      ...t,
      configs: Object.fromEntries(Object.entries(t.configs).sort()),
    })),
  });
}

/** SHA-256 of {@link canonicalImage}, hex: compare images across nodes. */
export async function imageHash(image: MetadataImage): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(canonicalImage(image)),
  );
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The image as snapshot bytes (its canonical form), for compacting the metadata log. */
export function encodeImageSnapshot(image: MetadataImage): Uint8Array {
  return new TextEncoder().encode(canonicalImage(image));
}

/** Rebuilds an image from {@link encodeImageSnapshot} bytes. */
export function decodeImageSnapshot(bytes: Uint8Array): MetadataImage {
  const raw = JSON.parse(new TextDecoder().decode(bytes)) as {
    offset: number;
    nextProducerId: number;
    nextBrokerEpoch: number;
    brokers: BrokerRegistration[];
    quorumNodes?: QuorumNodeRegistration[];
    topics: TopicImage[];
  };
  if (
    !Number.isSafeInteger(raw.offset) || !Array.isArray(raw.brokers) || !Array.isArray(raw.topics)
  ) {
    throw new Error("metadata snapshot is damaged: missing offset, brokers or topics");
  }
  return {
    offset: raw.offset,
    nextProducerId: raw.nextProducerId,
    nextBrokerEpoch: raw.nextBrokerEpoch,
    brokers: new Map(raw.brokers.map((b) => [b.id, b])),
    quorumNodes: new Map((raw.quorumNodes ?? []).map((q) => [q.id, q])),
    topics: new Map(raw.topics.map((t) => [t.topicId, t])),
    topicIdsByName: new Map(raw.topics.map((t) => [t.name, t.topicId])),
  };
}
