/**
 * Topic administration and cluster description, answerable by any node.
 *
 * Reads come from this node's metadata image. Writes go to the active
 * controller (wherever it is) and are answered only once this node's image
 * includes them, so a client that creates a topic and then describes it on
 * the same node always sees it.
 *
 * @module
 */

import { StromError } from "@strom/client";
import type { H2Client, TopicDescription } from "@strom/client";
import type { NodeConfig } from "../config/node_config.ts";
import type { ControllerClient } from "../controller/controller_client.ts";
import type { ControllerService } from "../controller/controller_service.ts";
import type { MetadataImage, TopicImage } from "../metadata/image.ts";
import { imageHash, topicByName } from "../metadata/image.ts";
import type { MetadataQuorum } from "../metadata/metadata_quorum.ts";

/** How long an admin write waits for the controller and for the local image. */
export const ADMIN_WRITE_TIMEOUT_MS = 15_000;

// The wire shapes of a described topic belong to the client package, which
// owns the HTTP contract; the broker answers with exactly those types.
export type { PartitionDescription, TopicDescription } from "@strom/client";

/** One quorum member, like a row of `kafka-metadata-quorum describe --replication`. */
export interface QuorumMemberDescription {
  readonly id: number;
  /** The member's data directory id as the metadata log records it (null until it announced itself). */
  readonly directoryId: string | null;
  readonly logEndOffset: number | null;
  /** Entries behind the leader's log end. */
  readonly lag: number | null;
}

/** Quorum status like `kafka-metadata-quorum describe --status`. */
export interface QuorumDescription {
  readonly leaderId: number;
  readonly epoch: number;
  readonly highWatermark: number;
  readonly voters: readonly QuorumMemberDescription[];
  /** Raft learners: broker-only nodes, and controllers waiting for `add-voter`. */
  readonly observers: readonly QuorumMemberDescription[];
}

/** Admin operations of one node. */
export class AdminService {
  constructor(
    private readonly config: NodeConfig,
    private readonly quorum: MetadataQuorum,
    private readonly service: ControllerService,
    private readonly controller: ControllerClient,
    private readonly http: H2Client,
  ) {}

  listTopics(): { name: string; topicId: string; partitions: number }[] {
    return [...this.quorum.image.topics.values()]
      .map((t) => ({ name: t.name, topicId: t.topicId, partitions: t.partitions.length }))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  describeTopic(name: string): TopicDescription {
    const t = topicByName(this.quorum.image, name);
    if (!t) throw unknownTopic(name);
    return describe(t);
  }

  async createTopic(body: unknown): Promise<TopicDescription> {
    const name = (body as { name?: unknown })?.name;
    await this.#write("create-topic", body);
    return this.describeTopic(String(name));
  }

  async deleteTopic(name: string): Promise<void> {
    await this.#write("delete-topic", { name });
  }

  async createPartitions(name: string, body: unknown): Promise<TopicDescription> {
    const partitions = (body as { partitions?: unknown })?.partitions;
    await this.#write("create-partitions", { name, partitions });
    return this.describeTopic(name);
  }

  async alterConfigs(name: string, body: unknown): Promise<TopicDescription> {
    const configs = (body as { configs?: unknown })?.configs;
    if (configs === undefined) {
      throw new StromError(
        "INVALID_REQUEST",
        `the body must be {"configs": {"key": "value" | null}}`,
      );
    }
    await this.#write("alter-configs", { name, configs });
    return this.describeTopic(name);
  }

  /** The offset of this node's image and its hash: equal offsets must give equal hashes. */
  async metadataDiagnostics(): Promise<{ offset: number; hash: string }> {
    const image = this.quorum.image;
    return { offset: image.offset, hash: await imageHash(image) };
  }

  /** Cluster id, brokers, the active controller and the quorum's status. */
  async describeCluster(): Promise<unknown> {
    const image = this.quorum.image;
    const status = this.quorum.status();
    const leader = status.leaderId === 0 ? undefined : this.quorum.endpoints(status.leaderId);
    const nodes = new Map(this.config.voters.map((v) => [v.id, v.clientUrl]));
    for (const q of image.quorumNodes.values()) nodes.set(q.id, q.clientUrl);
    return {
      clusterId: this.config.clusterId,
      nodeId: this.config.nodeId,
      nodes: [...nodes].sort(([a], [b]) => a - b).map(([id, url]) => ({ id, url })),
      brokers: brokers(image),
      controller: leader ? { id: status.leaderId, url: leader.clientUrl } : null,
      metadataOffset: image.offset,
      quorum: await this.describeQuorum(),
    };
  }

  /** The quorum as the leader sees it (asked over the internal listener if this node does not lead). */
  async describeQuorum(): Promise<QuorumDescription> {
    if (this.service.active || this.quorum.status().role === "leader") return this.localQuorum();
    const status = this.quorum.status();
    const leader = status.leaderId === 0 ? undefined : this.quorum.endpoints(status.leaderId);
    if (leader) {
      try {
        return await this.http.json<QuorumDescription>(leader.internalUrl, {
          path: "/internal/quorum",
          timeoutMs: 1000,
        });
      } catch {
        // Fall through to what this node knows by itself.
      }
    }
    return {
      leaderId: status.leaderId,
      epoch: status.term,
      highWatermark: status.commit,
      voters: status.config.voters.map((id) => ({
        id,
        directoryId: this.quorum.image.quorumNodes.get(id)?.directoryId ?? null,
        logEndOffset: id === status.id ? status.lastIndex : null,
        lag: null,
      })),
      observers: [],
    };
  }

  /** The quorum status from this node's own Raft state (complete only on the leader). */
  localQuorum(): QuorumDescription {
    const status = this.quorum.status();
    const leo = (id: number) =>
      id === status.id ? status.lastIndex : (status.progress.get(id)?.match ?? null);
    const row = (id: number) => {
      const end = leo(id);
      return {
        id,
        directoryId: this.quorum.image.quorumNodes.get(id)?.directoryId ?? null,
        logEndOffset: end,
        lag: end === null ? null : Math.max(0, status.lastIndex - end),
      };
    };
    return {
      leaderId: status.leaderId,
      epoch: status.term,
      highWatermark: status.commit,
      voters: status.config.voters.map(row),
      observers: status.config.learners.map(row),
    };
  }

  /**
   * KIP-853 `remove-voter`: forgets the voter's directory id, then removes it
   * from the Raft membership. `directoryId`, when given, must match.
   */
  async removeVoter(nodeId: number, directoryId?: string): Promise<QuorumDescription> {
    await this.#write("remove-voter", { nodeId, ...(directoryId ? { directoryId } : {}) });
    return await this.describeQuorum();
  }

  /** KIP-853 `add-voter`: promotes an observer (a caught-up Raft learner) to voter. */
  async addVoter(nodeId: number): Promise<QuorumDescription> {
    await this.#write("add-voter", { nodeId });
    return await this.describeQuorum();
  }

  async #write(
    op:
      | "create-topic"
      | "delete-topic"
      | "create-partitions"
      | "alter-configs"
      | "add-voter"
      | "remove-voter",
    body: unknown,
  ): Promise<void> {
    const { offset } = await this.controller.call(op, body, ADMIN_WRITE_TIMEOUT_MS);
    await this.quorum.waitForOffset(offset, ADMIN_WRITE_TIMEOUT_MS);
  }
}

function describe(t: TopicImage): TopicDescription {
  return {
    name: t.name,
    topicId: t.topicId,
    replicationFactor: t.partitions[0]?.replicas.length ?? 0,
    configs: t.configs,
    partitions: t.partitions.map((p, partition) => ({
      partition,
      leader: p.leader,
      leaderEpoch: p.leaderEpoch,
      replicas: p.replicas,
      isr: p.isr,
    })),
  };
}

function brokers(image: MetadataImage) {
  return [...image.brokers.values()].sort((a, b) => a.id - b.id).map((b) => ({
    id: b.id,
    url: b.clientUrl,
    epoch: b.epoch,
    fenced: b.fenced,
    inControlledShutdown: b.inControlledShutdown,
    rack: b.rack,
  }));
}

function unknownTopic(name: string): StromError {
  return new StromError(
    "UNKNOWN_TOPIC_OR_PARTITION",
    `topic '${name}' does not exist; list topics with GET /v1/topics`,
  );
}
