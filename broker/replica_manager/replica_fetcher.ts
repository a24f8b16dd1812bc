/**
 * The follower side of replication for one source broker (Kafka's
 * `ReplicaFetcherThread`): one loop per leader broker, not per partition,
 * that long-polls the leader with every partition this broker follows from
 * it in one request, applies each partition's answer (append, truncate, back
 * off) and asks again. A partition whose leader changes simply stops being
 * picked by this fetcher and is picked by the new leader's; an answer that
 * arrives for it late is ignored by its core (requests match by identity).
 *
 * @module
 */

import type { Logger } from "../log.ts";
import type { FollowerFetchRequest } from "../replica/follower_state.ts";
import { REPLICA_FETCH_BACKOFF_MS, REPLICA_FETCH_PARTITIONS_MAX } from "./config.ts";
import type { ReplicaFetchRequest, ReplicaFetchResponse } from "./fetch_wire.ts";
import type { PartitionReplica } from "./partition_replica.ts";

/** Sends a follower fetch to broker `leaderId` and returns its decoded answer. */
export type ReplicaFetchTransport = (
  leaderId: number,
  request: ReplicaFetchRequest,
  signal: AbortSignal,
) => Promise<ReplicaFetchResponse>;

/** What a fetcher needs from the replica manager. */
export interface ReplicaFetcherDeps {
  readonly localBrokerId: number;
  readonly transport: ReplicaFetchTransport;
  /** The local replicas (the fetcher picks those that follow its leader). */
  replicas(): Iterable<PartitionReplica>;
  readonly fetchWaitMs: number;
  readonly logger: Logger;
}

/** Fetches every partition led by one broker. */
export class ReplicaFetcher {
  #running = false;
  #loop: Promise<void> | undefined;
  #abort = new AbortController();
  #wake: (() => void) | undefined;
  /** Rounds completed, for tests and metrics. */
  rounds = 0;

  constructor(readonly leaderId: number, private readonly deps: ReplicaFetcherDeps) {}

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Cuts a pause short (a partition was added or its backoff ended). */
  wake(): void {
    this.#wake?.();
  }

  /** Whether any local replica follows this fetcher's leader. */
  hasPartitions(): boolean {
    for (const r of this.deps.replicas()) if (r.followedLeaderId === this.leaderId) return true;
    return false;
  }

  /** Stops the loop, aborting the fetch in flight. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#abort.abort();
    this.#wake?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    while (this.#running) {
      try {
        const waitMs = await this.#round();
        if (waitMs > 0) await this.#sleep(waitMs);
      } catch (e) {
        this.deps.logger.warn("replica fetcher round failed", {
          leaderId: this.leaderId,
          error: (e as Error).message,
        });
        await this.#sleep(REPLICA_FETCH_BACKOFF_MS);
      }
    }
  }

  /** One fetch round; returns how long to pause before the next. */
  async #round(): Promise<number> {
    const picked: { replica: PartitionReplica; fetch: FollowerFetchRequest }[] = [];
    for (const replica of this.deps.replicas()) {
      if (picked.length >= REPLICA_FETCH_PARTITIONS_MAX) break;
      if (replica.followedLeaderId !== this.leaderId) continue;
      const fetch = replica.nextFollowerFetch();
      if (fetch !== undefined) picked.push({ replica, fetch });
    }
    if (picked.length === 0) return REPLICA_FETCH_BACKOFF_MS / 2;
    const request: ReplicaFetchRequest = {
      replicaId: this.deps.localBrokerId,
      maxWaitMs: this.deps.fetchWaitMs,
      partitions: picked.map(({ replica, fetch }) => ({
        topic: replica.topic,
        partition: replica.partition,
        currentLeaderEpoch: fetch.currentLeaderEpoch,
        fetchOffset: fetch.fetchOffset,
        lastFetchedEpoch: fetch.lastFetchedEpoch,
        highWatermark: replica.highWatermark,
      })),
    };
    let response: ReplicaFetchResponse;
    try {
      response = await this.deps.transport(this.leaderId, request, this.#abort.signal);
    } catch (e) {
      for (const { replica, fetch } of picked) replica.abandonFollowerFetch(fetch);
      if (this.#running) {
        this.deps.logger.debug("replica fetch failed", {
          leaderId: this.leaderId,
          error: (e as Error).message,
        });
      }
      return REPLICA_FETCH_BACKOFF_MS;
    }
    const byKey = new Map(response.partitions.map((p) => [`${p.topic}-${p.partition}`, p]));
    await Promise.all(picked.map(async ({ replica, fetch }) => {
      const result = byKey.get(replica.label);
      if (result === undefined) {
        replica.abandonFollowerFetch(fetch);
        return;
      }
      try {
        await replica.applyFollowerFetch(fetch, result);
      } catch (e) {
        replica.abandonFollowerFetch(fetch);
        this.deps.logger.warn("applying a replica fetch failed", {
          partition: replica.label,
          error: (e as Error).message,
        });
      }
    }));
    this.rounds++;
    return 0;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.#wake === done) this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }
}
