/**
 * Test support: several {@link ReplicaManager}s in one process, connected by
 * an in-memory follower fetch (through the real wire encoding), with a fake
 * controller that commits ISR changes into hand-made metadata images.
 *
 * @module
 */

import { encodeRecordBatchSync, StromError } from "@strom/client";
import type { RecordInput } from "@strom/client";
import { createLogger } from "../log.ts";
import type {
  BrokerRegistration,
  MetadataImage,
  PartitionState,
  TopicImage,
} from "../metadata/image.ts";
import { EMPTY_IMAGE } from "../metadata/image.ts";
import { decodeReplicaFetchResponse, encodeReplicaFetchResponse } from "./fetch_wire.ts";
import type { AlterPartitionRequest, AlterPartitionResult } from "./replica_manager.ts";
import { ReplicaManager } from "./replica_manager.ts";

/** One topic of a hand-made image. */
export interface TestTopic {
  readonly name: string;
  readonly topicId?: string;
  readonly configs?: Record<string, string>;
  readonly partitions: readonly PartitionState[];
}

/** A metadata image with brokers `ids` (all unfenced) and `topics`. */
export function makeImage(
  offset: number,
  ids: readonly number[],
  topics: readonly TestTopic[],
): MetadataImage {
  const brokers = new Map<number, BrokerRegistration>(ids.map((id) => [id, {
    id,
    incarnationId: `inc-${id}`,
    directoryId: `dir-${id}`,
    epoch: id,
    clientUrl: `http://127.0.0.1:${9091 + id}`,
    internalUrl: `http://127.0.0.1:${9191 + id}`,
    rack: null,
    fenced: false,
    inControlledShutdown: false,
    registeredAtOffset: 1,
  }]));
  const images: TopicImage[] = topics.map((t) => ({
    name: t.name,
    topicId: t.topicId ?? `id-${t.name}`,
    configs: t.configs ?? {},
    partitions: t.partitions,
  }));
  return {
    ...EMPTY_IMAGE,
    offset,
    brokers,
    topics: new Map(images.map((t) => [t.topicId, t])),
    topicIdsByName: new Map(images.map((t) => [t.name, t.topicId])),
    nextProducerId: 0,
    nextBrokerEpoch: 10,
  };
}

/** A partition state. */
export function partitionState(
  replicas: number[],
  leader: number,
  leaderEpoch: number,
  options: { isr?: number[]; partitionEpoch?: number } = {},
): PartitionState {
  return {
    replicas,
    isr: options.isr ?? replicas,
    leader,
    leaderEpoch,
    partitionEpoch: options.partitionEpoch ?? leaderEpoch,
  };
}

/** An uncompressed batch of text values. */
export function textBatch(
  values: readonly string[],
  producer?: { producerId: number; producerEpoch: number; baseSequence: number },
): Uint8Array {
  const records: RecordInput[] = values.map((v) => ({
    value: new TextEncoder().encode(v),
    timestamp: 1_000,
  }));
  return encodeRecordBatchSync({ records, ...producer });
}

/** A quiet logger (warnings and errors only, to stderr). */
export const quietLogger = createLogger({ level: "error" });

/** Options of {@link TestCluster.start}. */
export interface TestClusterOptions {
  /** Passed to every manager (5 s when absent). */
  readonly replicaLagTimeMaxMs?: number;
  /** Data dirs to reuse, one per id in order; fresh temp dirs when absent. */
  readonly dirs?: string[];
  /** Brokers paused from the start, before any fetch. */
  readonly paused?: number[];
}

/**
 * Brokers 1..n sharing a fake controller. `pause(id)` makes fetches from
 * and to broker `id` fail, as a network partition would.
 */
export class TestCluster {
  readonly managers = new Map<number, ReplicaManager>();
  readonly paused = new Set<number>();
  image: MetadataImage;
  readonly alterRequests: AlterPartitionRequest[] = [];
  /** Partitions per AlterPartition request, in order. */
  readonly alterBatches: number[] = [];
  readonly dirs: string[] = [];

  private constructor(readonly ids: readonly number[], image: MetadataImage) {
    this.image = image;
  }

  /** Starts managers on fresh temp dirs (or `dirs`) and applies `image`. */
  static async start(
    ids: readonly number[],
    image: MetadataImage,
    options: TestClusterOptions = {},
  ): Promise<TestCluster> {
    const cluster = new TestCluster(ids, image);
    for (const id of options.paused ?? []) cluster.paused.add(id);
    for (const [i, id] of ids.entries()) {
      const dir = options.dirs?.[i] ?? await Deno.makeTempDir({ prefix: `strom-rm-${id}-` });
      cluster.dirs.push(dir);
      cluster.managers.set(id, cluster.#manager(id, dir, options.replicaLagTimeMaxMs));
    }
    for (const m of cluster.managers.values()) await m.start();
    await cluster.publish(image);
    return cluster;
  }

  #manager(id: number, dataDir: string, replicaLagTimeMaxMs = 5_000): ReplicaManager {
    return new ReplicaManager({
      localBrokerId: id,
      dataDir,
      logger: quietLogger,
      fetchWaitMs: 100,
      tickMs: 20,
      hwCheckpointIntervalMs: 0,
      replicaLagTimeMaxMs,
      transport: async (leaderId, request, signal) => {
        if (this.paused.has(id) || this.paused.has(leaderId)) {
          await new Promise((r) => setTimeout(r, 20));
          throw new StromError("NETWORK_EXCEPTION", `broker ${id} or ${leaderId} is paused`);
        }
        const leader = this.managers.get(leaderId);
        if (!leader) throw new StromError("NETWORK_EXCEPTION", `no broker ${leaderId}`);
        const response = await leader.handleReplicaFetch(
          JSON.parse(JSON.stringify(request)),
          signal,
        );
        return decodeReplicaFetchResponse(encodeReplicaFetchResponse(response));
      },
      alterPartitions: (requests) => Promise.resolve(this.#alterBatch(id, requests)),
    });
  }

  /**
   * The fake controller's batched AlterPartition: each partition a
   * compare-and-set on the partition epoch, refused alone; one image for all.
   */
  #alterBatch(
    brokerId: number,
    requests: readonly AlterPartitionRequest[],
  ): AlterPartitionResult[] {
    this.alterBatches.push(requests.length);
    const results = requests.map((req): AlterPartitionResult => {
      try {
        return { ok: true, state: this.#alter(brokerId, req) };
      } catch (e) {
        if (!(e instanceof StromError)) throw e;
        return { ok: false, error: e };
      }
    });
    if (results.some((r) => r.ok)) this.#publishNow();
    return results;
  }

  /** One partition of {@link #alterBatch}; changes the image without publishing it. */
  #alter(brokerId: number, req: AlterPartitionRequest): PartitionState {
    this.alterRequests.push(req);
    const topic = this.image.topics.get(req.topicId);
    const p = topic?.partitions[req.partition];
    if (!topic || !p) throw new StromError("UNKNOWN_TOPIC_OR_PARTITION", "no such partition");
    if (p.leader !== brokerId || p.leaderEpoch !== req.leaderEpoch) {
      throw new StromError("FENCED_LEADER_EPOCH", "stale leader epoch");
    }
    if (p.partitionEpoch !== req.partitionEpoch) {
      throw new StromError("INVALID_UPDATE_VERSION", "stale partition epoch");
    }
    const next = { ...p, isr: [...req.isr], partitionEpoch: p.partitionEpoch + 1 };
    this.#changePartition(topic.name, req.partition, next);
    return next;
  }

  /** Replaces one partition's state in the image (published by {@link #publishNow}). */
  #changePartition(topic: string, partition: number, state: PartitionState): void {
    const id = this.image.topicIdsByName.get(topic)!;
    const t = this.image.topics.get(id)!;
    const partitions = [...t.partitions];
    partitions[partition] = state;
    const topics = new Map(this.image.topics);
    topics.set(id, { ...t, partitions });
    this.image = { ...this.image, topics };
  }

  /**
   * Changes a partition's state in the fake controller's image without
   * telling any broker (as if their metadata lagged): requests based on the
   * old state are then refused as stale.
   */
  changeWithoutPublishing(topic: string, partition: number, state: PartitionState): void {
    this.#changePartition(topic, partition, state);
  }

  /** Publishes the image at the next offset (without awaiting reconciliation). */
  #publishNow(): void {
    this.image = { ...this.image, offset: this.image.offset + 1 };
    for (const m of this.managers.values()) m.applyImage(this.image);
  }

  /** Replaces one partition's state and publishes the image (without awaiting reconciliation). */
  #setPartition(topic: string, partition: number, state: PartitionState): void {
    this.#changePartition(topic, partition, state);
    this.#publishNow();
  }

  /** Moves leadership: a new leader epoch (and partition epoch). */
  async elect(topic: string, partition: number, leader: number, isr?: number[]): Promise<void> {
    const t = this.image.topics.get(this.image.topicIdsByName.get(topic)!)!;
    const p = t.partitions[partition];
    this.#setPartition(topic, partition, {
      ...p,
      leader,
      isr: isr ?? p.isr,
      leaderEpoch: p.leaderEpoch + 1,
      partitionEpoch: p.partitionEpoch + 1,
    });
    await this.settle();
  }

  /** Publishes an image to every manager and waits for reconciliation. */
  async publish(image: MetadataImage): Promise<void> {
    this.image = image;
    await Promise.all([...this.managers.values()].map((m) => m.applyImage(image)));
  }

  /** Waits for every manager's reconciliation of the current image. */
  async settle(): Promise<void> {
    await Promise.all([...this.managers.values()].map((m) => m.applyImage(this.image)));
  }

  /** The partition's current state in the image. */
  state(topic: string, partition: number): PartitionState {
    return this.image.topics.get(this.image.topicIdsByName.get(topic)!)!.partitions[partition];
  }

  /** Stops every manager and removes the temp dirs (unless `keepDirs`). */
  async stop(options: { keepDirs?: boolean } = {}): Promise<void> {
    await Promise.all([...this.managers.values()].map((m) => m.stop()));
    if (!options.keepDirs) {
      for (const dir of this.dirs) await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }
}

/**
 * Starts a cluster, runs `fn` with it, and stops it (removing its dirs) whatever `fn` does.
 * Every test must stop what it started: a manager left running fails the test sanitizers and
 * leaks its fetch loops and temp dirs into the tests after it.
 */
export function withCluster<T>(
  ids: readonly number[],
  image: MetadataImage,
  fn: (cluster: TestCluster) => Promise<T>,
): Promise<T>;
export function withCluster<T>(
  ids: readonly number[],
  image: MetadataImage,
  options: TestClusterOptions,
  fn: (cluster: TestCluster) => Promise<T>,
): Promise<T>;
export async function withCluster<T>(
  ids: readonly number[],
  image: MetadataImage,
  ...rest:
    | [fn: (cluster: TestCluster) => Promise<T>]
    | [options: TestClusterOptions, fn: (cluster: TestCluster) => Promise<T>]
): Promise<T> {
  const [options, fn] = rest.length === 1 ? [{}, rest[0]] : rest;
  const cluster = await TestCluster.start(ids, image, options);
  try {
    return await fn(cluster);
  } finally {
    await cluster.stop();
  }
}

/** Polls `condition` every 10 ms for at most `timeoutMs`. */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
