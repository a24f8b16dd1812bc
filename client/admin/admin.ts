/**
 * Topic and cluster administration: the calls behind `kafka-topics.sh` and
 * `kafka-metadata-quorum.sh`. Any broker answers them (writes are forwarded
 * to the active controller), so each call fails over across brokers.
 *
 * @module
 */

import type { CallOptions, Connection } from "../connection/connection.ts";
import { partitionPath, topicPath, withLeader } from "../connection/leader_request.ts";

/** What {@link Admin.createTopic} takes. */
export interface NewTopic {
  readonly name: string;
  /** Default 1. */
  readonly partitions?: number;
  /** Default 3, or the number of brokers if fewer. */
  readonly replicationFactor?: number;
  /** Topic configs such as `retention.ms`. */
  readonly configs?: Readonly<Record<string, string>>;
}

/** One partition of a described topic. */
export interface PartitionDescription {
  readonly partition: number;
  /** -1 when the partition has no leader. */
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
}

/** A described topic. */
export interface TopicDescription {
  readonly name: string;
  readonly topicId: string;
  readonly replicationFactor: number;
  readonly configs: Readonly<Record<string, string>>;
  readonly partitions: readonly PartitionDescription[];
}

/** A topic in {@link Admin.listTopics}. */
export interface TopicListing {
  readonly name: string;
  readonly topicId: string;
  readonly partitions: number;
}

/** Quorum status, like `kafka-metadata-quorum describe --status`. */
export interface QuorumDescription {
  readonly leaderId: number;
  readonly epoch: number;
  readonly highWatermark: number;
  readonly voters: readonly { id: number; logEndOffset: number | null; lag: number | null }[];
  readonly observers: readonly { id: number; logEndOffset: number | null; lag: number | null }[];
}

/** A broker as the cluster describes it. */
export interface BrokerDescription {
  readonly id: number;
  readonly url: string;
  readonly epoch?: number;
  readonly fenced?: boolean;
  readonly inControlledShutdown?: boolean;
  readonly rack?: string | null;
}

/** The answer of `GET /v1/cluster`. */
export interface ClusterDescription {
  readonly clusterId: string;
  /** The node that answered. */
  readonly nodeId: number;
  /** Configured nodes (the voters). */
  readonly nodes: readonly { id: number; url: string }[];
  readonly brokers?: readonly BrokerDescription[];
  readonly controller?: { id: number; url: string } | null;
  readonly metadataOffset?: number;
  readonly quorum?: QuorumDescription;
}

/** Which offset {@link Admin.listOffsets} looks up: earliest, latest, or the first at a time. */
export type OffsetSpec = "earliest" | "latest" | { readonly timestampMs: number };

/** One partition's answer in {@link Admin.listOffsets}. */
export interface PartitionOffset {
  readonly partition: number;
  /** null when no record is at or after the timestamp asked for. */
  readonly offset: number | null;
  readonly timestamp: number | null;
  readonly leaderEpoch: number;
}

/**
 * Administration of topics and the cluster. Get one from `strom.admin()`.
 *
 * @example
 * ```ts ignore
 * import { Strom } from "@strom/client";
 * const strom = new Strom({ brokers: "http://127.0.0.1:9092" });
 * const admin = strom.admin();
 * await admin.createTopic({ name: "orders", partitions: 6 });
 * console.log((await admin.describeTopic("orders")).partitions.length); // 6
 * console.log(await admin.listOffsets("orders", "latest"));
 * await strom.close();
 * ```
 */
export class Admin {
  readonly #conn: Connection;

  constructor(connection: Connection) {
    this.#conn = connection;
  }

  /** Creates a topic; resolves to its description. TOPIC_ALREADY_EXISTS if it exists. */
  createTopic(topic: NewTopic, options: CallOptions = {}): Promise<TopicDescription> {
    return this.#conn.anyBroker<TopicDescription>(
      { method: "POST", path: "/v1/topics", body: topic },
      options,
    );
  }

  /** Deletes a topic. UNKNOWN_TOPIC_OR_PARTITION if it does not exist. */
  async deleteTopic(name: string, options: CallOptions = {}): Promise<void> {
    await this.#conn.anyBroker({ method: "DELETE", path: topicPath(name) }, options);
    this.#conn.metadata.invalidate(name);
  }

  /** Describes a topic: per partition its leader, leader epoch, replicas and ISR. */
  describeTopic(name: string, options: CallOptions = {}): Promise<TopicDescription> {
    return this.#conn.anyBroker<TopicDescription>({ path: topicPath(name) }, options);
  }

  /** Lists topics by name. */
  async listTopics(options: CallOptions = {}): Promise<TopicListing[]> {
    const body = await this.#conn.anyBroker<{ topics: TopicListing[] }>(
      { path: "/v1/topics" },
      options,
    );
    return body.topics;
  }

  /** Raises the topic's partition count to `partitions` (it can only grow, as in Kafka). */
  async createPartitions(
    name: string,
    partitions: number,
    options: CallOptions = {},
  ): Promise<TopicDescription> {
    const answer = await this.#conn.anyBroker<TopicDescription>(
      { method: "POST", path: `${topicPath(name)}/partitions`, body: { partitions } },
      options,
    );
    this.#conn.metadata.invalidate(name);
    return answer;
  }

  /** Sets topic configs; a `null` value removes the config (back to the default). */
  alterConfigs(
    name: string,
    configs: Readonly<Record<string, string | null>>,
    options: CallOptions = {},
  ): Promise<TopicDescription> {
    return this.#conn.anyBroker<TopicDescription>(
      { method: "POST", path: `${topicPath(name)}/configs`, body: { configs } },
      options,
    );
  }

  /** The cluster id, nodes, brokers, active controller and quorum status. */
  async describeCluster(options: CallOptions = {}): Promise<ClusterDescription> {
    const cluster = await this.#conn.anyBroker<ClusterDescription>(
      { path: "/v1/cluster" },
      options,
    );
    this.#conn.metadata.noteBrokers(cluster.brokers ?? cluster.nodes ?? []);
    return cluster;
  }

  /** The metadata quorum's status: leader, epoch, high watermark, each voter's lag. */
  async describeQuorum(options: CallOptions = {}): Promise<QuorumDescription> {
    const cluster = await this.describeCluster(options);
    if (!cluster.quorum) throw new Error("the broker's /v1/cluster answer has no quorum status");
    return cluster.quorum;
  }

  /**
   * Each partition's earliest offset (log start), latest offset (high
   * watermark) or first offset at or after a timestamp, asked of its leader.
   */
  async listOffsets(
    topic: string,
    at: OffsetSpec,
    options: CallOptions & { partitions?: readonly number[] } = {},
  ): Promise<PartitionOffset[]> {
    const meta = await this.#conn.metadata.topic(topic, { refresh: true, ...signalOf(options) });
    const partitions = options.partitions ?? meta.partitions.map((p) => p.partition);
    return await Promise.all(
      partitions.map((p) => listPartitionOffset(this.#conn, topic, p, at, options)),
    );
  }
}

/**
 * One partition's offset at `at`, asked of its leader (following leader
 * changes). Shared by the admin client and the consumer.
 *
 * @example
 * ```ts ignore
 * import { Connection, listPartitionOffset } from "@strom/client";
 * const conn = new Connection({ brokers: "http://127.0.0.1:9092" });
 * console.log(await listPartitionOffset(conn, "orders", 0, "earliest"));
 * await conn.close();
 * ```
 */
export async function listPartitionOffset(
  conn: Connection,
  topic: string,
  partition: number,
  at: OffsetSpec,
  options: CallOptions = {},
): Promise<PartitionOffset> {
  const query = typeof at === "string" ? at : String(at.timestampMs);
  const body = await withLeader(
    conn,
    topic,
    partition,
    options,
    (leader, timeoutMs) =>
      conn.http.json<{ offset: number | null; timestamp: number | null; leaderEpoch: number }>(
        leader.url,
        {
          path: `${partitionPath(topic, partition)}/offsets?at=${encodeURIComponent(query)}`,
          timeoutMs,
          ...signalOf(options),
        },
      ),
  );
  return { partition, ...body };
}

function signalOf(options: CallOptions): { signal?: AbortSignal } {
  return options.signal ? { signal: options.signal } : {};
}
