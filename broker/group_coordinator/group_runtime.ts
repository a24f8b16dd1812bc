/**
 * The group coordinator runtime of one broker: it creates
 * `__consumer_offsets` on first use, keeps one {@link CoordinatorShard} per
 * partition of it this broker leads (watching the replicas for leadership
 * changes), runs the shards' timers, and tells callers where a group's
 * coordinator is: here (a shard) or on another broker (a leader hint).
 *
 * @module
 */

import { StromError } from "@strom/client";
import type { LeaderHint } from "@strom/client";
import type { Logger } from "../log.ts";
import type { MetadataImage, TopicImage } from "../metadata/image.ts";
import { topicByName } from "../metadata/image.ts";
import { NO_LEADER } from "../metadata/records.ts";
import type { GroupListing, TopicsView } from "../groups/mod.ts";
import { GROUP_METADATA_TOPIC, groupCoordinatorPartition } from "../groups/mod.ts";
import type { GroupRuntimeConfig } from "./config.ts";
import {
  EXPIRE_MEMBERS_INTERVAL_MS,
  LEADERSHIP_POLL_MS,
  OFFSETS_TOPIC_REPLICATION_FACTOR,
} from "./config.ts";
import { CoordinatorShard } from "./coordinator_shard.ts";
import type { ShardLog } from "./coordinator_shard.ts";
import type { ShardReplicas } from "./replica_shard_log.ts";
import { replicaShardLog } from "./replica_shard_log.ts";

/** What the runtime needs from the node. */
export interface GroupRuntimeDeps {
  readonly nodeId: number;
  readonly image: () => MetadataImage;
  readonly replicas: ShardReplicas;
  /** Creates a topic through the controller (AdminService.createTopic); resolves once it is in the local image. */
  readonly createTopic: (body: {
    name: string;
    partitions: number;
    replicationFactor: number;
    configs: Record<string, string>;
  }) => Promise<unknown>;
  readonly logger: Logger;
  readonly config: GroupRuntimeConfig;
  readonly clock?: () => number;
  /** Leadership poll and timer period; 0 disables both (tests call {@link GroupCoordinatorRuntime.sync}). */
  readonly pollMs?: number;
  /** Builds a shard's log; defaults to the local replica ({@link replicaShardLog}). */
  readonly shardLog?: (partition: number, leaderEpoch: number) => ShardLog;
}

/** Where a group's coordinator is. */
export type CoordinatorLocation =
  | { readonly kind: "local"; readonly partition: number; readonly shard: CoordinatorShard }
  | { readonly kind: "remote"; readonly partition: number; readonly leader: LeaderHint };

/** Longest a request waits for this broker to load a partition the image says it leads. */
const LOCAL_LOAD_WAIT_MS_MAX = 3_000;
const LOCAL_LOAD_POLL_MS = 25;
/** A failed partition is reloaded no sooner than this after it failed. */
const RELOAD_BACKOFF_MS = 500;

/** See the module doc. */
export class GroupCoordinatorRuntime {
  readonly #deps: GroupRuntimeDeps;
  readonly #clock: () => number;
  readonly #shards = new Map<number, CoordinatorShard>();
  readonly #failedAtMs = new Map<number, number>();
  #creating: Promise<void> | undefined;
  #syncing: Promise<void> | undefined;
  #pollTimer: ReturnType<typeof setInterval> | undefined;
  #tickTimer: ReturnType<typeof setInterval> | undefined;
  #stopped = false;

  constructor(deps: GroupRuntimeDeps) {
    this.#deps = deps;
    this.#clock = deps.clock ?? Date.now;
  }

  /** The coordinator settings every shard uses. */
  get config(): GroupRuntimeConfig {
    return this.#deps.config;
  }

  /** Starts watching leadership and running the timers. */
  start(): void {
    const pollMs = this.#deps.pollMs ?? LEADERSHIP_POLL_MS;
    if (pollMs <= 0) return;
    this.#pollTimer = setInterval(() => void this.sync(), pollMs);
    this.#tickTimer = setInterval(() => this.tick(), EXPIRE_MEMBERS_INTERVAL_MS);
  }

  /** Stops the timers and every shard (queued operations fail with NOT_COORDINATOR). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#pollTimer);
    clearInterval(this.#tickTimer);
    await this.#syncing?.catch(() => {});
    const shards = [...this.#shards.values()];
    this.#shards.clear();
    await Promise.all(shards.map((s) => s.close()));
  }

  /** Runs every shard's timers. */
  tick(): void {
    const now = this.#clock();
    for (const s of this.#shards.values()) s.tick(now);
  }

  /** Partitions with a shard here, and their status (diagnostics, tests). */
  shards(): { partition: number; leaderEpoch: number; status: string }[] {
    return [...this.#shards.values()].map((s) => ({
      partition: s.partition,
      leaderEpoch: s.leaderEpoch,
      status: s.status,
    }));
  }

  /**
   * Matches shards to leadership: a shard for each partition this broker's
   * replica leads (a new one for a new leader epoch), none for the others.
   */
  sync(): Promise<void> {
    this.#syncing ??= this.#sync().finally(() => this.#syncing = undefined);
    return this.#syncing;
  }

  async #sync(): Promise<void> {
    if (this.#stopped) return;
    const topic = topicByName(this.#deps.image(), GROUP_METADATA_TOPIC);
    const count = topic?.partitions.length ?? 0;
    for (const [p, shard] of this.#shards) {
      const r = this.#deps.replicas.replica(GROUP_METADATA_TOPIC, p);
      const leads = r !== undefined && !r.closed && r.isLeader &&
        r.leaderEpoch === shard.leaderEpoch;
      if (leads && p < count && shard.status !== "failed" && shard.status !== "closed") continue;
      this.#shards.delete(p);
      this.#deps.logger.info("group coordinator partition unloaded", {
        partition: p,
        leaderEpoch: shard.leaderEpoch,
        reason: shard.status === "failed" ? "failed" : "leadership moved",
      });
      await shard.close();
    }
    const now = this.#clock();
    for (let p = 0; p < count && !this.#stopped; p++) {
      if (this.#shards.has(p)) continue;
      const r = this.#deps.replicas.replica(GROUP_METADATA_TOPIC, p);
      if (r === undefined || r.closed || !r.isLeader) continue;
      if (now - (this.#failedAtMs.get(p) ?? -Infinity) < RELOAD_BACKOFF_MS) continue;
      const log = this.#deps.shardLog?.(p, r.leaderEpoch) ??
        replicaShardLog(this.#deps.replicas, p, r.leaderEpoch);
      const shard = new CoordinatorShard({
        log,
        config: this.#deps.config.coordinator,
        logger: this.#deps.logger,
        clock: this.#clock,
        newMemberId: () => crypto.randomUUID(),
        onFailed: (s) => {
          this.#failedAtMs.set(s.partition, this.#clock());
          if (this.#shards.get(s.partition) === s) this.#shards.delete(s.partition);
        },
      });
      this.#shards.set(p, shard);
      void shard.load();
    }
  }

  /** Listings of the groups of every partition loaded here. */
  async listLocalGroups(): Promise<GroupListing[]> {
    const all = await Promise.all(
      [...this.#shards.values()].filter((s) => s.status === "active").map((s) =>
        s.read((c) => c.listGroups()).catch(() => [] as GroupListing[])
      ),
    );
    return all.flat();
  }

  /** Topics that exist, for heartbeats: name → partition count. */
  topicsView(): TopicsView {
    const view = new Map<string, number>();
    for (const t of this.#deps.image().topics.values()) view.set(t.name, t.partitions.length);
    return view;
  }

  /**
   * Where `groupId`'s coordinator is, creating `__consumer_offsets` first
   * when it does not exist yet.
   *
   * @throws {StromError} COORDINATOR_NOT_AVAILABLE (no leader right now),
   *   COORDINATOR_LOAD_IN_PROGRESS (this broker leads but is still loading).
   */
  async locate(groupId: string): Promise<CoordinatorLocation> {
    const topic = await this.#offsetsTopic();
    const partition = groupCoordinatorPartition(groupId, topic.partitions.length);
    const started = this.#clock();
    for (;;) {
      const shard = this.#shards.get(partition);
      if (shard && (shard.status === "active" || shard.status === "loading")) {
        return { kind: "local", partition, shard };
      }
      const image = this.#deps.image();
      const state = topicByName(image, GROUP_METADATA_TOPIC)?.partitions[partition];
      const leaderId = state?.leader ?? NO_LEADER;
      if (leaderId !== this.#deps.nodeId) {
        const broker = leaderId === NO_LEADER ? undefined : image.brokers.get(leaderId);
        if (!broker) {
          throw new StromError(
            "COORDINATOR_NOT_AVAILABLE",
            `the coordinator of group '${groupId}' (${GROUP_METADATA_TOPIC}-${partition}) has no leader right now; retry shortly`,
          );
        }
        return { kind: "remote", partition, leader: { id: broker.id, url: broker.clientUrl } };
      }
      // The image says this broker leads; the replica or the shard is on its way.
      if (this.#clock() - started >= LOCAL_LOAD_WAIT_MS_MAX || this.#stopped) {
        throw new StromError(
          "COORDINATOR_LOAD_IN_PROGRESS",
          `this broker is loading the coordinator of group '${groupId}' (${GROUP_METADATA_TOPIC}-${partition}); retry shortly`,
        );
      }
      await this.sync();
      if (this.#shards.has(partition)) continue;
      await new Promise((resolve) => setTimeout(resolve, LOCAL_LOAD_POLL_MS));
    }
  }

  /** The offsets topic, created through the controller when missing (a race with another broker is fine). */
  async #offsetsTopic(): Promise<TopicImage> {
    const existing = topicByName(this.#deps.image(), GROUP_METADATA_TOPIC);
    if (existing) return existing;
    this.#creating ??= this.#createOffsetsTopic().finally(() => this.#creating = undefined);
    await this.#creating;
    // The create is committed; this broker's image may apply it a moment later.
    const started = this.#clock();
    let created = topicByName(this.#deps.image(), GROUP_METADATA_TOPIC);
    while (!created && this.#clock() - started < LOCAL_LOAD_WAIT_MS_MAX && !this.#stopped) {
      await new Promise((resolve) => setTimeout(resolve, LOCAL_LOAD_POLL_MS));
      created = topicByName(this.#deps.image(), GROUP_METADATA_TOPIC);
    }
    if (!created) {
      throw new StromError(
        "COORDINATOR_NOT_AVAILABLE",
        `${GROUP_METADATA_TOPIC} is being created; retry shortly`,
      );
    }
    return created;
  }

  async #createOffsetsTopic(): Promise<void> {
    const image = this.#deps.image();
    const live = [...image.brokers.values()].filter((b) => !b.fenced).length;
    const replicationFactor = Math.max(1, Math.min(OFFSETS_TOPIC_REPLICATION_FACTOR, live));
    try {
      await this.#deps.createTopic({
        name: GROUP_METADATA_TOPIC,
        partitions: this.#deps.config.offsetsTopicPartitions,
        replicationFactor,
        configs: {
          "cleanup.policy": "compact",
          // Kafka's offsets topic tolerates one lost replica of three.
          "min.insync.replicas": String(Math.min(2, replicationFactor)),
        },
      });
      this.#deps.logger.info("created the group metadata topic", {
        topic: GROUP_METADATA_TOPIC,
        partitions: this.#deps.config.offsetsTopicPartitions,
        replicationFactor,
      });
    } catch (e) {
      if (e instanceof StromError && e.code === "TOPIC_ALREADY_EXISTS") return;
      if (e instanceof StromError && e.retriable) {
        throw new StromError(
          "COORDINATOR_NOT_AVAILABLE",
          `creating ${GROUP_METADATA_TOPIC} failed for now (${e.message}); retry shortly`,
          { cause: e },
        );
      }
      throw e;
    }
  }
}
