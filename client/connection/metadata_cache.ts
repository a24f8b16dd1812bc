/**
 * Cached cluster metadata: which broker leads each partition and at which
 * client URL each broker listens. Producers and consumers ask it on every
 * request; it goes to a broker only when an entry is missing, older than
 * `maxAgeMs`, or was invalidated by an answer like NOT_LEADER_OR_FOLLOWER.
 * Concurrent refreshes of the same entry share one request.
 *
 * @module
 */

import { StromError } from "../errors.ts";
import type { LeaderHint } from "../errors.ts";
import type { PartitionDescription } from "../admin/admin.ts";

/** One partition as the metadata cache knows it: the admin API's description of it. */
export type PartitionMetadata = PartitionDescription;

/** A topic as the metadata cache knows it. */
export interface TopicMetadata {
  readonly name: string;
  readonly partitions: readonly PartitionMetadata[];
}

/** Where a partition's leader is. */
export interface LeaderLocation {
  readonly id: number;
  readonly url: string;
  readonly leaderEpoch: number;
}

/** How the cache reaches the cluster: a JSON GET against any broker. */
export type MetadataFetch = (path: string, signal?: AbortSignal) => Promise<unknown>;

interface TopicEntry {
  topic: TopicMetadata;
  loadedAtMs: number;
  /** Leaders learned from hints since the load, by partition. */
  hinted: Map<number, number>;
}

/**
 * Topic and broker metadata with merged refreshes.
 *
 * @example
 * ```ts ignore
 * import { MetadataCache } from "@strom/client";
 * const cache = new MetadataCache((path) => fetch(`http://127.0.0.1:9092${path}`).then((r) => r.json()));
 * const leader = await cache.leader("orders", 0);
 * console.log(leader.url);
 * ```
 */
export class MetadataCache {
  readonly #fetch: MetadataFetch;
  readonly #maxAgeMs: number;
  readonly #topics = new Map<string, TopicEntry>();
  readonly #topicLoads = new Map<string, Promise<TopicEntry>>();
  readonly #brokers = new Map<number, string>();
  #brokersLoad: Promise<void> | undefined;
  #loads = 0;

  constructor(fetchJson: MetadataFetch, options: { maxAgeMs?: number } = {}) {
    this.#fetch = fetchJson;
    this.#maxAgeMs = options.maxAgeMs ?? 300_000;
  }

  /** How many topic loads went to a broker (merged refreshes count once). */
  get loads(): number {
    return this.#loads;
  }

  /** Client URLs of every broker seen so far. */
  knownBrokerUrls(): string[] {
    return [...this.#brokers.values()];
  }

  /** The topic's metadata, from the cache unless missing, stale or `refresh` is set. */
  async topic(
    name: string,
    options: { refresh?: boolean; signal?: AbortSignal } = {},
  ): Promise<TopicMetadata> {
    const entry = this.#topics.get(name);
    if (entry && !options.refresh && Date.now() - entry.loadedAtMs < this.#maxAgeMs) {
      return entry.topic;
    }
    return (await raceSignal(this.#loadTopic(name), options.signal)).topic;
  }

  /** The number of partitions of `topic`. */
  async partitionCount(topic: string, options: { signal?: AbortSignal } = {}): Promise<number> {
    return (await this.topic(topic, options)).partitions.length;
  }

  /** The partition count of `topic` if cached, without asking a broker. */
  partitionCountCached(topic: string): number | undefined {
    return this.#topics.get(topic)?.topic.partitions.length;
  }

  /**
   * Where the leader of `topic`/`partition` is. Throws LEADER_NOT_AVAILABLE
   * (retriable) when it has none, UNKNOWN_TOPIC_OR_PARTITION when the topic
   * has no such partition.
   */
  async leader(
    topic: string,
    partition: number,
    options: { refresh?: boolean; signal?: AbortSignal } = {},
  ): Promise<LeaderLocation> {
    const meta = await this.topic(topic, options);
    const p = meta.partitions[partition];
    if (!p) {
      throw new StromError(
        "UNKNOWN_TOPIC_OR_PARTITION",
        `topic '${topic}' has ${meta.partitions.length} partition(s); partition ${partition} does not exist`,
      );
    }
    const id = this.#topics.get(topic)?.hinted.get(partition) ?? p.leader;
    if (id < 0) {
      throw new StromError(
        "LEADER_NOT_AVAILABLE",
        `partition ${topic}-${partition} has no leader right now; retry shortly`,
      );
    }
    let url = this.#brokers.get(id);
    if (url === undefined) {
      await raceSignal(this.#loadBrokers(), options.signal);
      url = this.#brokers.get(id);
    }
    if (url === undefined) {
      throw new StromError(
        "LEADER_NOT_AVAILABLE",
        `broker ${id} leads ${topic}-${partition} but the cluster does not list its URL`,
      );
    }
    return { id, url, leaderEpoch: p.leaderEpoch };
  }

  /** Records a leader hint from a NOT_LEADER_OR_FOLLOWER answer, so the next request goes there. */
  noteLeader(topic: string, partition: number, hint: LeaderHint): void {
    this.#brokers.set(hint.id, hint.url.replace(/\/+$/, ""));
    this.#topics.get(topic)?.hinted.set(partition, hint.id);
  }

  /** Forgets `topic` so that the next lookup asks a broker. */
  invalidate(topic: string): void {
    this.#topics.delete(topic);
  }

  /** Records broker URLs from a `/v1/cluster` answer. */
  noteBrokers(brokers: readonly { id: number; url: string }[]): void {
    for (const b of brokers) this.#brokers.set(b.id, b.url.replace(/\/+$/, ""));
  }

  #loadTopic(name: string): Promise<TopicEntry> {
    let load = this.#topicLoads.get(name);
    if (load) return load;
    this.#loads++;
    load = (async () => {
      const body = await this.#fetch(`/v1/topics/${encodeURIComponent(name)}`) as {
        name: string;
        partitions: PartitionMetadata[];
      };
      const entry: TopicEntry = {
        topic: { name: body.name ?? name, partitions: body.partitions ?? [] },
        loadedAtMs: Date.now(),
        hinted: new Map(),
      };
      this.#topics.set(name, entry);
      return entry;
    })().finally(() => this.#topicLoads.delete(name));
    this.#topicLoads.set(name, load);
    return load;
  }

  #loadBrokers(): Promise<void> {
    this.#brokersLoad ??= (async () => {
      const body = await this.#fetch("/v1/cluster") as {
        brokers?: { id: number; url: string }[];
        nodes?: { id: number; url: string }[];
      };
      this.noteBrokers(body.nodes ?? []);
      this.noteBrokers(body.brokers ?? []);
    })().finally(() => {
      this.#brokersLoad = undefined;
    });
    return this.#brokersLoad;
  }
}

/** `promise`, or the signal's reason as soon as it aborts; the shared promise keeps running. */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
