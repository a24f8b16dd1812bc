/**
 * The controller's decisions (Kafka's QuorumController, without the I/O).
 *
 * Each operation reads the committed {@link MetadataImage}, validates the
 * request and returns `{records, response}`; it changes nothing itself.
 * The metadata shell proposes the records through Raft, and the image
 * changes only when they are committed and replayed — on every node alike.
 * The shell runs one operation at a time and waits for its records to apply
 * before deciding the next, so every decision sees the effect of the last.
 *
 * The only state held here is broker liveness (when each broker last
 * heartbeated), which Kafka also keeps in memory on the active controller:
 * a newly active controller gives every broker a fresh session.
 *
 * Invariants the decisions keep (on top of the image's own):
 * - leaders are elected from the ISR, among active brokers, unless the topic
 *   enables unclean election;
 * - a fenced broker is removed from every ISR (keeping a last member);
 * - an ISR change from a partition leader applies only if its leader epoch
 *   and partition epoch are current (compare-and-set), and never adds a
 *   broker that is not active;
 * - a batch of ISR changes (`alterPartitions`) is one decision and one
 *   metadata entry, and decides each partition as if its changes came one by
 *   one in request order: one partition's refusal (a stale epoch, say) never
 *   refuses another, and two changes of one partition in a batch are a
 *   compare-and-set against each other. Only a stale or unknown broker epoch
 *   refuses the whole batch.
 *
 * @module
 */

import { StromError } from "@strom/client";
import type { MetadataImage, PartitionState, TopicImage } from "../metadata/image.ts";
import { activeBrokerIds, replay, topicByName } from "../metadata/image.ts";
import type {
  MetadataRecord,
  PartitionChangeRecord,
  PartitionRecord,
} from "../metadata/records.ts";
import { NO_LEADER } from "../metadata/records.ts";
import { effectiveTopicConfig, validateTopicConfigs } from "../metadata/topic_configs.ts";
import { electLeader, partitionChange, withoutBroker } from "./partition_change.ts";
import { assignReplicas } from "./replica_assignment.ts";
import { wipedVoterMessage } from "./quorum_membership.ts";
import { collisionKey, topicNameProblem } from "./topic_name.ts";

/** What an operation decided: the records to commit and the answer once they are. */
export interface ControllerResult<R> {
  readonly records: MetadataRecord[];
  readonly response: R;
}

/** Controller settings. */
export interface ControllerConfig {
  /** A broker silent this long is fenced. */
  readonly sessionTimeoutMs: number;
  readonly defaultPartitions: number;
  readonly defaultReplicationFactor: number;
  /** Producer ids handed to a broker per request. */
  readonly producerIdBlockSize: number;
}

/** Defaults (Kafka's where it has one). */
export const DEFAULT_CONTROLLER_CONFIG: ControllerConfig = {
  sessionTimeoutMs: 1500,
  defaultPartitions: 1,
  defaultReplicationFactor: 3,
  producerIdBlockSize: 1000,
};

/** The most partitions one topic (or one create request) may have. */
export const PARTITIONS_PER_TOPIC_MAX = 20_000;
/** The most partition changes one periodic operation writes (the rest wait for the next). */
export const CHANGES_PER_OPERATION_MAX = 5_000;
/**
 * A preferred broker's leadership is moved back only above this imbalance
 * ratio (Kafka's `leader.imbalance.per.broker.percentage`, 10 %).
 */
export const LEADER_IMBALANCE_RATIO_MAX = 0.1;
/** The most partitions in one batched ISR change request (about 100 bytes each on the wire). */
export const ALTER_PARTITIONS_ITEMS_MAX = 5_000;

/** A broker registering (at start-up, with a fresh incarnation id). */
export interface RegisterBrokerRequest {
  readonly brokerId: number;
  readonly incarnationId: string;
  readonly directoryId: string;
  readonly clientUrl: string;
  readonly internalUrl: string;
  readonly rack: string | null;
}

/** A broker's periodic heartbeat. */
export interface HeartbeatRequest {
  readonly brokerId: number;
  readonly brokerEpoch: number;
  /** The highest metadata offset the broker has applied. */
  readonly metadataOffset: number;
  /** True once the broker wants to shut down cleanly. */
  readonly wantShutdown: boolean;
}

/** What a heartbeat tells the broker. */
export interface HeartbeatResponse {
  readonly fenced: boolean;
  readonly inControlledShutdown: boolean;
  /** The broker leads nothing that could move elsewhere: it may exit now. */
  readonly shutdownReady: boolean;
}

/** A topic to create. */
export interface CreateTopicRequest {
  readonly name: string;
  readonly partitions?: number;
  readonly replicationFactor?: number;
  readonly configs?: Record<string, string>;
}

/** A partition leader's request to change the ISR. */
export interface AlterPartitionRequest {
  readonly brokerId: number;
  readonly brokerEpoch: number;
  readonly topicId: string;
  readonly partition: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly isr: readonly number[];
}

/** One partition of a batched ISR change (Kafka's AlterPartition with many partitions). */
export interface AlterPartitionsItem {
  readonly topicId: string;
  readonly partition: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly isr: readonly number[];
}

/** A partition leader broker's batch of ISR changes. */
export interface AlterPartitionsRequest {
  readonly brokerId: number;
  readonly brokerEpoch: number;
  readonly partitions: readonly AlterPartitionsItem[];
}

/** The answer for one partition of a batch: its state after the batch, or why it was refused. */
export interface AlterPartitionsItemResult {
  readonly topicId: string;
  readonly partition: number;
  readonly state?: PartitionState;
  readonly error?: { readonly code: StromError["code"]; readonly message: string };
}

/** The answer to a batch, one entry per requested partition, in request order. */
export interface AlterPartitionsResponse {
  readonly partitions: readonly AlterPartitionsItemResult[];
}

/** The controller's decision logic plus broker liveness. */
export class QuorumController {
  readonly #lastHeartbeatMs = new Map<number, number>();

  constructor(
    readonly config: ControllerConfig,
    private readonly newTopicId: () => string,
  ) {}

  /** Called when this node becomes the active controller: every broker gets a fresh session. */
  activate(image: MetadataImage, nowMs: number): void {
    this.#lastHeartbeatMs.clear();
    for (const id of image.brokers.keys()) this.#lastHeartbeatMs.set(id, nowMs);
  }

  /**
   * Moves every broker's session forward by `gapMs`: time during which this
   * controller itself was not running. A controller that was SIGSTOPped,
   * starved of CPU or in a long pause heard no heartbeats meanwhile through
   * no fault of the brokers, and on waking would fence every one of them
   * (itself included) at once — the chaos suite saw exactly that leave
   * partitions with a single ISR member. The shell calls this when its
   * periodic check notices such a gap (see `controller_service.ts`); a
   * broker that really died during the stall is fenced one session timeout
   * after the controller woke.
   */
  extendSessions(gapMs: number): void {
    for (const [id, heardMs] of this.#lastHeartbeatMs) {
      this.#lastHeartbeatMs.set(id, heardMs + gapMs);
    }
  }

  registerBroker(
    image: MetadataImage,
    req: RegisterBrokerRequest,
    nowMs: number,
  ): ControllerResult<{ brokerEpoch: number }> {
    const existing = image.brokers.get(req.brokerId);
    if (existing && existing.incarnationId === req.incarnationId) {
      // A retried registration: answer as before, write nothing.
      this.#lastHeartbeatMs.set(req.brokerId, nowMs);
      return { records: [], response: { brokerEpoch: existing.epoch } };
    }
    // A voter must come back with its directory; a broker-only node may come back empty
    // (like a Kafka broker with a new log dir, it re-replicates what it hosts).
    const voter = image.quorumNodes.get(req.brokerId);
    if (voter?.voter && voter.directoryId !== req.directoryId) {
      throw new StromError(
        "INCONSISTENT_VOTER_SET",
        wipedDirectoryMessage(req.brokerId, req.directoryId, voter.directoryId),
      );
    }
    if (existing && !existing.fenced && this.#alive(existing.id, nowMs)) {
      throw new StromError(
        "DUPLICATE_BROKER_REGISTRATION",
        `broker ${req.brokerId} is registered and alive with another incarnation; two nodes may share node id ${req.brokerId} — give each node its own id`,
      );
    }
    this.#lastHeartbeatMs.set(req.brokerId, nowMs);
    const brokerEpoch = image.nextBrokerEpoch;
    const records: MetadataRecord[] = [{
      type: "RegisterBroker",
      brokerId: req.brokerId,
      incarnationId: req.incarnationId,
      directoryId: req.directoryId,
      brokerEpoch,
      clientUrl: req.clientUrl,
      internalUrl: req.internalUrl,
      rack: req.rack,
    }];
    // A re-registering broker is fenced from now on: move what it led. One whose data dir is
    // new holds none of its replicas' data: it leaves every ISR, even as the last member.
    if (existing) {
      const dataLost = existing.directoryId !== req.directoryId;
      records.push(...this.#removeBrokerFromPartitions(image, req.brokerId, dataLost));
    }
    return { records, response: { brokerEpoch } };
  }

  heartbeat(
    image: MetadataImage,
    req: HeartbeatRequest,
    nowMs: number,
  ): ControllerResult<HeartbeatResponse> {
    const b = this.#checkBrokerEpoch(image, req.brokerId, req.brokerEpoch);
    this.#lastHeartbeatMs.set(req.brokerId, nowMs);
    const records: MetadataRecord[] = [];
    let fenced = b.fenced;
    let inControlledShutdown = b.inControlledShutdown;
    if (req.wantShutdown) {
      if (!inControlledShutdown) {
        records.push({ type: "BrokerControlledShutdown", brokerId: b.id, brokerEpoch: b.epoch });
        records.push(...this.#removeBrokerFromPartitions(image, b.id));
        inControlledShutdown = true;
      }
      const stillLeads = records.length > 1 ? true : leadsMovablePartition(image, b.id);
      if (!stillLeads && !fenced) {
        records.push({ type: "FenceBroker", brokerId: b.id, brokerEpoch: b.epoch });
        fenced = true;
      }
      return {
        records,
        response: { fenced, inControlledShutdown, shutdownReady: !stillLeads },
      };
    }
    if (fenced && !inControlledShutdown && req.metadataOffset >= b.registeredAtOffset) {
      records.push({ type: "UnfenceBroker", brokerId: b.id, brokerEpoch: b.epoch });
      fenced = false;
    }
    return { records, response: { fenced, inControlledShutdown, shutdownReady: false } };
  }

  /** Whether some unfenced broker's session expired (what {@link fenceExpiredBrokers} would fence). */
  hasExpiredBrokers(image: MetadataImage, nowMs: number): boolean {
    for (const b of image.brokers.values()) {
      if (!b.fenced && !this.#alive(b.id, nowMs)) return true;
    }
    return false;
  }

  /** Fences brokers whose session expired and moves their leaderships. */
  fenceExpiredBrokers(image: MetadataImage, nowMs: number): ControllerResult<number[]> {
    const records: MetadataRecord[] = [];
    const fenced: number[] = [];
    let working = image;
    for (const b of image.brokers.values()) {
      if (b.fenced || this.#alive(b.id, nowMs)) continue;
      fenced.push(b.id);
      records.push({ type: "FenceBroker", brokerId: b.id, brokerEpoch: b.epoch });
      const step: MetadataRecord[] = [
        { type: "FenceBroker", brokerId: b.id, brokerEpoch: b.epoch },
        ...this.#removeBrokerFromPartitions(working, b.id),
      ];
      records.push(...step.slice(1));
      // Decide the next broker against the image as it will be after this one.
      working = replay(working, step, working.offset + 1);
    }
    return { records, response: fenced };
  }

  createTopic(
    image: MetadataImage,
    req: CreateTopicRequest,
  ): ControllerResult<{ topicId: string; partitions: number; replicationFactor: number }> {
    const nameProblem = topicNameProblem(req.name);
    if (nameProblem) throw new StromError("INVALID_TOPIC_EXCEPTION", nameProblem);
    if (topicByName(image, req.name)) {
      throw new StromError("TOPIC_ALREADY_EXISTS", `topic '${req.name}' already exists`);
    }
    const clash = [...image.topicIdsByName.keys()].find((n) =>
      collisionKey(n) === collisionKey(req.name)
    );
    if (clash) {
      throw new StromError(
        "INVALID_TOPIC_EXCEPTION",
        `topic '${req.name}' collides with existing topic '${clash}' ('.' and '_' are treated alike); choose another name`,
      );
    }
    const partitions = req.partitions ?? this.config.defaultPartitions;
    checkPartitionCount(partitions);
    const active = activeBrokerIds(image);
    const rf = req.replicationFactor ??
      Math.min(this.config.defaultReplicationFactor, active.length);
    if (!Number.isInteger(rf) || rf < 1 || rf > active.length) {
      throw new StromError(
        "INVALID_REPLICATION_FACTOR",
        `replication factor must be an integer from 1 to ${active.length} (the number of available brokers); got ${rf}`,
      );
    }
    const configs = req.configs ?? {};
    checkConfigs(configs, rf);
    const topicId = this.newTopicId();
    const assignment = assignReplicas({
      brokers: active.map((id) => ({ id, rack: image.brokers.get(id)!.rack })),
      partitions,
      replicationFactor: rf,
      leaderCounts: leaderCounts(image),
    });
    const records: MetadataRecord[] = [{ type: "Topic", name: req.name, topicId }];
    for (const [key, value] of Object.entries(configs).sort()) {
      records.push({ type: "Config", topicId, key, value });
    }
    assignment.forEach((replicas, partition) =>
      records.push(newPartition(topicId, partition, replicas))
    );
    return { records, response: { topicId, partitions, replicationFactor: rf } };
  }

  deleteTopic(image: MetadataImage, name: string): ControllerResult<{ topicId: string }> {
    const topic = requireTopic(image, name);
    return {
      records: [{ type: "RemoveTopic", topicId: topic.topicId }],
      response: { topicId: topic.topicId },
    };
  }

  /** Increases a topic's partition count to `total` (it can never decrease, as in Kafka). */
  createPartitions(
    image: MetadataImage,
    name: string,
    total: number,
  ): ControllerResult<{ partitions: number }> {
    const topic = requireTopic(image, name);
    checkPartitionCount(total);
    const current = topic.partitions.length;
    if (total <= current) {
      throw new StromError(
        "INVALID_PARTITIONS",
        `topic '${name}' has ${current} partitions; the count can only grow, so ask for more than ${current}`,
      );
    }
    const rf = topic.partitions[0].replicas.length;
    const active = activeBrokerIds(image);
    if (rf > active.length) {
      throw new StromError(
        "INVALID_REPLICATION_FACTOR",
        `topic '${name}' has replication factor ${rf} but only ${active.length} brokers are available`,
      );
    }
    const assignment = assignReplicas({
      brokers: active.map((id) => ({ id, rack: image.brokers.get(id)!.rack })),
      partitions: total - current,
      replicationFactor: rf,
      leaderCounts: leaderCounts(image),
      firstPartition: current,
    });
    const records = assignment.map((replicas, i) =>
      newPartition(topic.topicId, current + i, replicas)
    );
    return { records, response: { partitions: total } };
  }

  /** Sets (string) or removes (null) topic configs. */
  alterConfigs(
    image: MetadataImage,
    name: string,
    changes: Record<string, string | null>,
  ): ControllerResult<Record<string, string>> {
    const topic = requireTopic(image, name);
    const problems = validateTopicConfigs(changes);
    if (problems.length > 0) throw new StromError("INVALID_CONFIG", problems.join("; "));
    const merged: Record<string, string> = { ...topic.configs };
    for (const [k, v] of Object.entries(changes)) {
      if (v === null) delete merged[k];
      else merged[k] = v;
    }
    checkConfigs(merged, topic.partitions[0].replicas.length);
    const records: MetadataRecord[] = Object.entries(changes).sort().map(([key, value]) => ({
      type: "Config",
      topicId: topic.topicId,
      key,
      value,
    }));
    return { records, response: merged };
  }

  alterPartition(
    image: MetadataImage,
    req: AlterPartitionRequest,
  ): ControllerResult<PartitionState> {
    this.#checkBrokerEpoch(image, req.brokerId, req.brokerEpoch);
    const topic = image.topics.get(req.topicId);
    const { change, next } = this.#isrChange(
      req.brokerId,
      topic,
      topic?.partitions[req.partition],
      req,
      new Set(activeBrokerIds(image)),
    );
    return { records: change ? [change] : [], response: next };
  }

  /**
   * Many ISR changes of one partition leader broker in one decision and one
   * metadata entry (see the invariants in the module doc). Each partition is
   * checked like {@link alterPartition} against the image plus the changes
   * decided before it in this batch; a refused partition gets its error in
   * the answer and the others go on.
   */
  alterPartitions(
    image: MetadataImage,
    req: AlterPartitionsRequest,
  ): ControllerResult<AlterPartitionsResponse> {
    this.#checkBrokerEpoch(image, req.brokerId, req.brokerEpoch);
    if (req.partitions.length > ALTER_PARTITIONS_ITEMS_MAX) {
      throw new StromError(
        "INVALID_REQUEST",
        `at most ${ALTER_PARTITIONS_ITEMS_MAX} partitions per ISR change request; got ${req.partitions.length}`,
      );
    }
    const active = new Set(activeBrokerIds(image));
    const decided = new Map<string, PartitionState>();
    const records: MetadataRecord[] = [];
    const partitions = req.partitions.map((item): AlterPartitionsItemResult => {
      const key = `${item.topicId}:${item.partition}`;
      const topic = image.topics.get(item.topicId);
      const current = decided.get(key) ?? topic?.partitions[item.partition];
      try {
        const { change, next } = this.#isrChange(req.brokerId, topic, current, item, active);
        if (change) {
          records.push(change);
          decided.set(key, next);
        }
        return { topicId: item.topicId, partition: item.partition, state: next };
      } catch (e) {
        if (!(e instanceof StromError)) throw e;
        return {
          topicId: item.topicId,
          partition: item.partition,
          error: { code: e.code, message: e.message },
        };
      }
    });
    return { records, response: { partitions } };
  }

  /** One partition's ISR change: the compare-and-set and the checks of the module doc. */
  #isrChange(
    brokerId: number,
    topic: TopicImage | undefined,
    p: PartitionState | undefined,
    req: AlterPartitionsItem,
    active: ReadonlySet<number>,
  ): { change: PartitionChangeRecord | null; next: PartitionState } {
    if (!topic || !p) {
      throw new StromError(
        "UNKNOWN_TOPIC_OR_PARTITION",
        `partition ${req.partition} of topic id ${req.topicId} does not exist`,
      );
    }
    if (p.leader !== brokerId || p.leaderEpoch !== req.leaderEpoch) {
      throw new StromError(
        "FENCED_LEADER_EPOCH",
        `broker ${brokerId} at leader epoch ${req.leaderEpoch} does not lead ${topic.name}-${req.partition} (leader ${p.leader}, epoch ${p.leaderEpoch})`,
      );
    }
    if (p.partitionEpoch !== req.partitionEpoch) {
      throw new StromError(
        "INVALID_UPDATE_VERSION",
        `partition epoch ${req.partitionEpoch} is stale (now ${p.partitionEpoch}); refresh metadata and retry`,
      );
    }
    const isr = [...new Set(req.isr)];
    if (!isr.includes(brokerId) || !isr.every((b) => p.replicas.includes(b))) {
      throw new StromError(
        "INVALID_REQUEST",
        `the new ISR must contain the leader and only replicas of the partition (${p.replicas})`,
      );
    }
    const added = isr.filter((b) => !p.isr.includes(b));
    const ineligible = added.filter((b) => !active.has(b));
    if (ineligible.length > 0) {
      throw new StromError(
        "INELIGIBLE_REPLICA",
        `broker(s) ${ineligible} cannot join the ISR: fenced or shutting down`,
      );
    }
    const ordered = p.replicas.filter((r) => isr.includes(r));
    const change = partitionChange(topic.topicId, req.partition, p, {
      leader: p.leader,
      isr: ordered,
    });
    const next: PartitionState = change
      ? { ...p, isr: change.isr, partitionEpoch: change.partitionEpoch }
      : p;
    return { change, next };
  }

  /** Hands a block of producer ids to a broker. */
  allocateProducerIds(
    image: MetadataImage,
    req: { brokerId: number; brokerEpoch: number },
  ): ControllerResult<{ firstProducerId: number; count: number }> {
    this.#checkBrokerEpoch(image, req.brokerId, req.brokerEpoch);
    const first = image.nextProducerId;
    const count = this.config.producerIdBlockSize;
    return {
      records: [{
        type: "ProducerIds",
        brokerId: req.brokerId,
        brokerEpoch: req.brokerEpoch,
        nextProducerId: first + count,
      }],
      response: { firstProducerId: first, count },
    };
  }

  /**
   * Elects leaders for leaderless partitions whose ISR has an active member
   * again and, with `preferred`, moves leadership back to preferred leaders
   * (the first replica) where it is active and in sync — but only for
   * preferred brokers whose imbalance (partitions they prefer-lead but do
   * not lead, over those they prefer-lead) is above
   * {@link LEADER_IMBALANCE_RATIO_MAX}, as Kafka's auto leader rebalance
   * does: moving thousands of leaderships back the moment a restarted broker
   * is in sync made every client refresh its metadata while it rejoined.
   */
  balanceLeaders(image: MetadataImage, preferred = true): ControllerResult<number> {
    const active = new Set(activeBrokerIds(image));
    const isActive = (id: number) => active.has(id);
    const imbalanced = preferred ? imbalancedBrokers(image) : new Set<number>();
    const records: MetadataRecord[] = [];
    for (const t of image.topics.values()) {
      const unclean = effectiveTopicConfig(t.configs).uncleanLeaderElectionEnable;
      t.partitions.forEach((p, partition) => {
        if (records.length >= CHANGES_PER_OPERATION_MAX) return;
        const first = p.replicas[0];
        let next;
        if (p.leader === NO_LEADER || !isActive(p.leader)) next = electLeader(p, isActive, unclean);
        else if (
          p.leader !== first && imbalanced.has(first) && isActive(first) && p.isr.includes(first)
        ) {
          next = { leader: first, isr: p.isr };
        } else return;
        const change = partitionChange(t.topicId, partition, p, next);
        if (change) records.push(change);
      });
    }
    return { records, response: records.length };
  }

  #alive(brokerId: number, nowMs: number): boolean {
    const last = this.#lastHeartbeatMs.get(brokerId);
    return last !== undefined && nowMs - last <= this.config.sessionTimeoutMs;
  }

  #checkBrokerEpoch(image: MetadataImage, brokerId: number, brokerEpoch: number) {
    const b = image.brokers.get(brokerId);
    if (!b) {
      throw new StromError(
        "BROKER_ID_NOT_REGISTERED",
        `broker ${brokerId} is not registered; register before heartbeating`,
      );
    }
    if (b.epoch !== brokerEpoch) {
      throw new StromError(
        "STALE_BROKER_EPOCH",
        `broker ${brokerId} epoch ${brokerEpoch} is stale (current ${b.epoch}); register again`,
      );
    }
    return b;
  }

  /** Partition changes that take `brokerId` out of leadership and ISRs. */
  #removeBrokerFromPartitions(
    image: MetadataImage,
    brokerId: number,
    dataLost = false,
  ): MetadataRecord[] {
    const active = new Set(activeBrokerIds(image));
    active.delete(brokerId);
    const isActive = (id: number) => active.has(id);
    const records: MetadataRecord[] = [];
    for (const t of image.topics.values()) {
      const unclean = effectiveTopicConfig(t.configs).uncleanLeaderElectionEnable;
      t.partitions.forEach((p, partition) => {
        if (!p.replicas.includes(brokerId)) return;
        const change = partitionChange(
          t.topicId,
          partition,
          p,
          withoutBroker(p, brokerId, isActive, unclean, dataLost),
        );
        if (change) records.push(change);
      });
    }
    return records;
  }
}

/** What an operator reads when a node comes back with a wiped or replaced data dir. */
export function wipedDirectoryMessage(nodeId: number, given: string, known: string): string {
  return wipedVoterMessage(nodeId, given, known);
}

function newPartition(topicId: string, partition: number, replicas: number[]): PartitionRecord {
  return {
    type: "Partition",
    topicId,
    partition,
    replicas,
    isr: replicas,
    leader: replicas[0],
    leaderEpoch: 0,
    partitionEpoch: 0,
  };
}

function requireTopic(image: MetadataImage, name: string): TopicImage {
  const topic = topicByName(image, name);
  if (!topic) {
    throw new StromError("UNKNOWN_TOPIC_OR_PARTITION", `topic '${name}' does not exist`);
  }
  return topic;
}

function checkPartitionCount(partitions: number): void {
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > PARTITIONS_PER_TOPIC_MAX) {
    throw new StromError(
      "INVALID_PARTITIONS",
      `partitions must be an integer from 1 to ${PARTITIONS_PER_TOPIC_MAX}; got ${partitions}`,
    );
  }
}

function checkConfigs(configs: Record<string, string>, replicationFactor: number): void {
  const problems = validateTopicConfigs(configs);
  if (problems.length > 0) throw new StromError("INVALID_CONFIG", problems.join("; "));
  const minIsr = effectiveTopicConfig(configs).minInsyncReplicas;
  if (minIsr > replicationFactor) {
    throw new StromError(
      "INVALID_CONFIG",
      `min.insync.replicas ${minIsr} exceeds the replication factor ${replicationFactor}, so acks=all writes could never succeed; lower min.insync.replicas or raise the replication factor`,
    );
  }
}

function leaderCounts(image: MetadataImage): Map<number, number> {
  const counts = new Map<number, number>();
  for (const t of image.topics.values()) {
    for (const p of t.partitions) counts.set(p.replicas[0], (counts.get(p.replicas[0]) ?? 0) + 1);
  }
  return counts;
}

function leadsMovablePartition(image: MetadataImage, brokerId: number): boolean {
  for (const t of image.topics.values()) {
    for (const p of t.partitions) {
      if (p.leader === brokerId && p.isr.some((b) => b !== brokerId)) return true;
    }
  }
  return false;
}

/**
 * Brokers whose share of not-led preferred partitions is above
 * {@link LEADER_IMBALANCE_RATIO_MAX}.
 */
function imbalancedBrokers(image: MetadataImage): Set<number> {
  const preferredOf = new Map<number, { total: number; notLed: number }>();
  for (const t of image.topics.values()) {
    for (const p of t.partitions) {
      const first = p.replicas[0];
      if (first === undefined) continue;
      const counts = preferredOf.get(first) ?? { total: 0, notLed: 0 };
      counts.total++;
      if (p.leader !== first) counts.notLed++;
      preferredOf.set(first, counts);
    }
  }
  const out = new Set<number>();
  for (const [broker, { total, notLed }] of preferredOf) {
    if (notLed / total > LEADER_IMBALANCE_RATIO_MAX) out.add(broker);
  }
  return out;
}
