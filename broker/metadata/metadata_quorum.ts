/**
 * The metadata quorum on one node: the Raft driver (the shell around the
 * pure `@strom/raft` core) and the metadata image it builds.
 *
 * The driver follows the Ready contract: persist (one fsynced save), send,
 * apply, advance — one Ready at a time, while ticks and incoming messages
 * keep stepping the core. Committed entries are replayed into the image in
 * log order; the image offset is the Raft index of the last applied entry,
 * so two nodes at the same offset have the same image.
 *
 * Once `snapshotEveryEntries` entries or `snapshotEveryBytes` bytes of entry
 * data have been applied since the last snapshot, whichever comes first, the
 * image is written as a Raft snapshot and the log before it is compacted; a
 * lagging or new node gets that snapshot instead of the whole log.
 *
 * Why both triggers: the file storage keeps every entry after the snapshot
 * in memory, on every node, and a restarted node replays them all. With a
 * few partitions an entry is a few hundred bytes and the count bounds both;
 * with 10,000 partitions one entry (a broker fenced, an ISR batch) is
 * 0.3-1.7 MB, and 5,000 of them would be gigabytes. The byte trigger bounds
 * the applied log kept in memory at `snapshotEveryBytes` plus the last batch
 * applied (the check runs once per Ready); Kafka bounds its metadata log the
 * same way (`metadata.log.max.record.bytes.between.snapshots`).
 *
 * @module
 */

import { StromError } from "@strom/client";
import { createPrng, RaftError, RawNode } from "@strom/raft";
import type {
  ClusterConfig,
  ConfigChange,
  Entry,
  Message,
  RaftStatus,
  Ready,
  Snapshot,
} from "@strom/raft";
import { FileStorage } from "@strom/raft/file_storage";
import { HttpTransport } from "@strom/raft/http_transport";
import { createRaftHandler } from "@strom/raft/http_transport_handler";
import type { VoterConfig } from "../config/node_config.ts";
import type { Logger } from "../log.ts";
import type { MetadataImage } from "./image.ts";
import { decodeImageSnapshot, EMPTY_IMAGE, encodeImageSnapshot, replay } from "./image.ts";
import type { MetadataRecord } from "./records.ts";
import { decodeRecords, encodeRecords } from "./records.ts";

/** Options of {@link MetadataQuorum.open}. */
export interface MetadataQuorumOptions {
  readonly nodeId: number;
  readonly voters: readonly VoterConfig[];
  /** Directory of the Raft log, hard state and snapshots. */
  readonly dir: string;
  readonly secret: string;
  /** Length of one Raft tick. */
  readonly tickMs: number;
  /** Election timeout, in ms (randomized by the core up to twice this). */
  readonly electionTimeoutMs: number;
  readonly logger: Logger;
  /** Applied entries between snapshots (default {@link SNAPSHOT_EVERY_ENTRIES_DEFAULT}). */
  readonly snapshotEveryEntries?: number;
  /** Applied entry bytes between snapshots (default {@link SNAPSHOT_EVERY_BYTES_DEFAULT}). */
  readonly snapshotEveryBytes?: number;
  /**
   * Called only when the log is empty (a new or wiped node): the membership
   * the log starts from, or `undefined` for `voters`. A node that must join
   * as an observer (a wiped voter the operator removed, a controller being
   * added) starts from a membership without itself among the voters, so it
   * never campaigns before it is added. May throw to refuse the start.
   */
  readonly initialConfigIfEmpty?: () => Promise<ClusterConfig | undefined>;
  /** Test hook (chaos network partitions): Raft messages to these peers are dropped. */
  readonly peerBlocked?: (peer: number) => boolean;
}

/** Where a quorum member is reached. */
export interface NodeEndpoints {
  readonly internalUrl: string;
  readonly clientUrl: string;
}

/** Default entries between metadata snapshots. */
export const SNAPSHOT_EVERY_ENTRIES_DEFAULT = 5_000;
/**
 * Default bytes of applied entry data between metadata snapshots (4 MiB).
 * Kafka's default is 20 MiB, but Kafka reads its metadata log from disk;
 * here it is held in memory on every node, so the bound is kept smaller.
 */
export const SNAPSHOT_EVERY_BYTES_DEFAULT = 4 * 1024 * 1024;
/** Most proposals waiting for their commit. */
export const PENDING_PROPOSALS_MAX = 10_000;
/** Most callers waiting for an offset to apply. */
export const OFFSET_WAITERS_MAX = 10_000;
/**
 * Largest metadata entry (one controller decision, e.g. creating a topic's
 * partitions). A 10,000-partition topic takes about 1.7 MB; Raft's default of
 * 1 MiB per entry would refuse it.
 */
export const METADATA_ENTRY_BYTES_MAX = 16 * 1024 * 1024;

interface PendingProposal {
  readonly term: number;
  readonly resolve: (offset: number) => void;
  readonly reject: (e: Error) => void;
}

/** Called after every applied batch, with the new image. */
export type ImageListener = (image: MetadataImage) => void;
/** Called when this node's Raft role or known leader changes. */
export type LeadershipListener = (
  state: { leaderId: number; isLeader: boolean; term: number; firstIndexOfTerm: number },
) => void;

/** The Raft-replicated metadata log of one node, and its image. */
export class MetadataQuorum {
  #image: MetadataImage;
  #running = false;
  #again = false;
  #closed = false;
  #started = false;
  #tickTimer: ReturnType<typeof setInterval> | undefined;
  #entriesSinceSnapshot = 0;
  #bytesSinceSnapshot = 0;
  readonly #pending = new Map<number, PendingProposal>();
  readonly #offsetWaiters = new Set<{ offset: number; resolve: () => void }>();
  readonly #imageListeners: ImageListener[] = [];
  readonly #leadershipListeners: LeadershipListener[] = [];
  readonly #snapshotEveryEntries: number;
  readonly #snapshotEveryBytes: number;
  /** Peer URLs handed to the transport, so that unchanged ones are not set again. */
  readonly #peerUrls = new Map<number, string>();
  readonly handleRaftRequest: (req: Request) => Promise<Response>;

  private constructor(
    private readonly options: MetadataQuorumOptions,
    private readonly storage: FileStorage,
    private readonly node: RawNode,
    private readonly transport: HttpTransport,
    image: MetadataImage,
  ) {
    this.#image = image;
    this.#snapshotEveryEntries = options.snapshotEveryEntries ?? SNAPSHOT_EVERY_ENTRIES_DEFAULT;
    this.#snapshotEveryBytes = options.snapshotEveryBytes ?? SNAPSHOT_EVERY_BYTES_DEFAULT;
    for (const v of options.voters) this.#peerUrls.set(v.id, v.internalUrl);
    this.#syncPeers(image);
    this.handleRaftRequest = createRaftHandler({
      secret: options.secret,
      selfId: options.nodeId,
      onMessages: (messages: Message[]) => this.#receive(messages),
    });
  }

  /** Opens (or creates) the Raft storage and rebuilds the image from its snapshot. */
  static async open(options: MetadataQuorumOptions): Promise<MetadataQuorum> {
    const voterIds = options.voters.map((v) => v.id).sort((a, b) => a - b);
    const openStorage = (initialConfig: ClusterConfig) =>
      FileStorage.open(options.dir, {
        initialConfig,
        sync: true,
        onRecoveryIssue: (issue) =>
          options.logger.warn("metadata log repaired on open", {
            kind: issue.kind,
            file: issue.file,
            detail: issue.message,
          }),
      });
    let storage = await openStorage({ voters: voterIds, learners: [] });
    const empty = storage.lastIndex() === 0 && storage.initialState().hardState.term === 0 &&
      storage.snapshot().meta.index === 0;
    if (empty && options.initialConfigIfEmpty) {
      // The membership of an empty log lives only in memory: reopening with another is safe.
      let chosen: ClusterConfig | undefined;
      try {
        chosen = await options.initialConfigIfEmpty();
      } catch (e) {
        await storage.close();
        throw e;
      }
      if (chosen) {
        await storage.close();
        storage = await openStorage(chosen);
      }
    }
    const snapshot = storage.snapshot();
    const image = snapshot.meta.index > 0 ? decodeImageSnapshot(snapshot.data) : EMPTY_IMAGE;
    const seed = crypto.getRandomValues(new Uint32Array(1))[0];
    const node = new RawNode({
      id: options.nodeId,
      random: createPrng(seed),
      electionTimeoutTicks: Math.max(3, Math.round(options.electionTimeoutMs / options.tickMs)),
      heartbeatTicks: 1,
      preVote: true,
      checkQuorum: true,
      maxSizePerMsgBytes: METADATA_ENTRY_BYTES_MAX,
      applied: snapshot.meta.index,
    }, storage);
    const peers: Record<number, string> = {};
    for (const v of options.voters) if (v.id !== options.nodeId) peers[v.id] = v.internalUrl;
    const transport = new HttpTransport({
      selfId: options.nodeId,
      peers,
      secret: options.secret,
      ...(options.peerBlocked ? { peerBlocked: options.peerBlocked } : {}),
    });
    return new MetadataQuorum(options, storage, node, transport, image);
  }

  /** Starts ticking: elections and heartbeats begin. */
  start(): void {
    this.#started = true;
    this.#tickTimer = setInterval(() => {
      this.node.tick();
      this.#schedule();
    }, this.options.tickMs);
    this.#schedule();
  }

  /** The latest applied image. */
  get image(): MetadataImage {
    return this.#image;
  }

  /** Whether this node's Raft log has never held anything (a new or a wiped node). */
  get empty(): boolean {
    const s = this.node.status();
    return s.lastIndex === 0 && s.term === 0;
  }

  /** The Raft state of this node. */
  status(): RaftStatus {
    return this.node.status();
  }

  onImage(listener: ImageListener): void {
    this.#imageListeners.push(listener);
  }

  onLeadership(listener: LeadershipListener): void {
    this.#leadershipListeners.push(listener);
  }

  /**
   * Proposes one entry of records; resolves with its offset once it is
   * committed and applied here. Throws NOT_CONTROLLER if this node does not
   * lead, or if leadership was lost before the entry committed.
   */
  propose(records: readonly MetadataRecord[]): Promise<number> {
    if (this.#pending.size >= PENDING_PROPOSALS_MAX) {
      return Promise.reject(
        new StromError(
          "NOT_CONTROLLER",
          `${PENDING_PROPOSALS_MAX} metadata proposals pending; retry shortly`,
        ),
      );
    }
    const status = this.node.status();
    if (status.role !== "leader") {
      return Promise.reject(this.notControllerError());
    }
    let result;
    try {
      result = this.node.propose(encodeRecords(records));
    } catch (e) {
      if (e instanceof RaftError && e.code === "MESSAGE_TOO_LARGE") {
        // Not retriable: the same request would be refused again.
        return Promise.reject(
          new StromError(
            "INVALID_REQUEST",
            `the change needs a metadata entry larger than ${METADATA_ENTRY_BYTES_MAX} bytes (${e.message}); split it into smaller requests (e.g. create fewer partitions at once, then add partitions)`,
          ),
        );
      }
      return Promise.reject(
        new StromError("NOT_CONTROLLER", `metadata proposal refused: ${(e as Error).message}`),
      );
    }
    if (result.status !== "appended") return Promise.reject(this.notControllerError());
    const { promise, resolve, reject } = Promise.withResolvers<number>();
    this.#pending.set(result.index, { term: result.term, resolve, reject });
    this.#schedule();
    return promise;
  }

  /** Resolves once the image has reached `offset`; rejects after `timeoutMs`. */
  waitForOffset(offset: number, timeoutMs: number): Promise<void> {
    if (this.#image.offset >= offset) return Promise.resolve();
    if (this.#offsetWaiters.size >= OFFSET_WAITERS_MAX) {
      return Promise.reject(
        new StromError("REQUEST_TIMED_OUT", "too many requests wait for metadata"),
      );
    }
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const waiter = {
      offset,
      resolve: () => {
        clearTimeout(timer);
        resolve();
      },
    };
    const timer = setTimeout(() => {
      this.#offsetWaiters.delete(waiter);
      reject(
        new StromError(
          "REQUEST_TIMED_OUT",
          `metadata did not reach offset ${offset} within ${timeoutMs} ms (at ${this.#image.offset})`,
        ),
      );
    }, timeoutMs);
    this.#offsetWaiters.add(waiter);
    return promise;
  }

  /** The error for "this node is not the controller", with the leader as a hint. */
  notControllerError(): StromError {
    const leaderId = this.node.status().leaderId;
    const leader = leaderId === 0 ? undefined : this.endpoints(leaderId);
    return new StromError(
      "NOT_CONTROLLER",
      leader
        ? `node ${leaderId} is the active controller`
        : "no active controller is known yet; retry shortly",
      leader ? { leader: { id: leaderId, url: leader.clientUrl } } : {},
    );
  }

  /**
   * Where node `id` is reached: every quorum member that announced itself
   * in the metadata image (observers, voters added later), then the
   * configured voters.
   */
  endpoints(id: number): NodeEndpoints | undefined {
    const q = this.#image.quorumNodes.get(id);
    if (q) return { internalUrl: q.internalUrl, clientUrl: q.clientUrl };
    return this.options.voters.find((v) => v.id === id);
  }

  /**
   * Proposes a single-server membership change (leader only); resolves with
   * its offset once committed and applied here. Another change still
   * uncommitted, or a learner not caught up, is REQUEST_TIMED_OUT (retry);
   * an impossible change is INVALID_REQUEST.
   */
  proposeConfigChange(change: ConfigChange): Promise<number> {
    if (this.node.status().role !== "leader") return Promise.reject(this.notControllerError());
    if (this.#pending.size >= PENDING_PROPOSALS_MAX) {
      return Promise.reject(
        new StromError("REQUEST_TIMED_OUT", `${PENDING_PROPOSALS_MAX} metadata proposals pending`),
      );
    }
    let result;
    try {
      result = this.node.proposeConfigChange(change);
    } catch (e) {
      if (!(e instanceof RaftError)) return Promise.reject(e);
      const code = e.code === "NOT_LEADER"
        ? "NOT_CONTROLLER"
        : e.retriable
        ? "REQUEST_TIMED_OUT"
        : "INVALID_REQUEST";
      return Promise.reject(
        new StromError(
          code,
          `membership change ${change.type} of node ${change.nodeId} refused: ${e.message}`,
        ),
      );
    }
    if (result.status !== "appended") return Promise.reject(this.notControllerError());
    const { promise, resolve, reject } = Promise.withResolvers<number>();
    this.#pending.set(result.index, { term: result.term, resolve, reject });
    this.#schedule();
    return promise;
  }

  /** Hands every announced quorum member's URL to the transport (observers have no static config). */
  #syncPeers(image: MetadataImage): void {
    for (const q of image.quorumNodes.values()) {
      if (q.id === this.options.nodeId || this.#peerUrls.get(q.id) === q.internalUrl) continue;
      this.#peerUrls.set(q.id, q.internalUrl);
      this.transport.setPeer(q.id, q.internalUrl);
    }
  }

  /** Stops ticking, waits for the driver, closes the transport and storage. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#tickTimer);
    while (this.#running) await new Promise((r) => setTimeout(r, 5));
    for (const p of this.#pending.values()) {
      p.reject(new StromError("SHUTTING_DOWN", "node is stopping"));
    }
    this.#pending.clear();
    await this.transport.close();
    await this.storage.close();
  }

  #receive(messages: Message[]): void {
    // Before start() the node may not take part: it is still checking that it is who it claims.
    if (this.#closed || !this.#started) return;
    for (const m of messages) {
      try {
        this.node.step(m);
      } catch (e) {
        this.options.logger.warn("dropped a raft message the core refused", {
          type: m.type,
          from: m.from,
          error: (e as Error).message,
        });
      }
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#closed) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    queueMicrotask(() => this.#drive());
  }

  async #drive(): Promise<void> {
    try {
      do {
        this.#again = false;
        while (!this.#closed && this.node.hasReady()) await this.#handle(this.node.ready());
      } while (this.#again && !this.#closed);
    } catch (e) {
      // A failed fsync leaves durability unknown: stopping is the only safe answer.
      this.options.logger.error("metadata quorum driver failed; the node must stop", {
        error: (e as Error).stack ?? String(e),
      });
      this.#closed = true;
      clearInterval(this.#tickTimer);
      queueMicrotask(() => Deno.exit(70));
    } finally {
      this.#running = false;
    }
  }

  async #handle(rd: Ready): Promise<void> {
    this.transport.send(rd.messages);
    if (rd.entries.length > 0 || rd.hardState || rd.snapshot) {
      await this.storage.save({
        entries: rd.entries,
        ...(rd.hardState ? { hardState: rd.hardState } : {}),
        ...(rd.snapshot ? { snapshot: rd.snapshot } : {}),
      });
    }
    this.transport.send(rd.messagesAfterPersist);
    if (rd.snapshot && rd.snapshot.meta.index > this.#image.offset) {
      this.#installSnapshot(rd.snapshot);
    }
    if (rd.committedEntries.length > 0) this.#apply(rd.committedEntries);
    this.node.advance();
    if (rd.softState) {
      const status = this.node.status();
      const state = {
        leaderId: rd.softState.leaderId,
        isLeader: rd.softState.role === "leader",
        term: status.term,
        firstIndexOfTerm: status.lastIndex,
      };
      for (const l of this.#leadershipListeners) l(state);
    }
    if (
      this.#entriesSinceSnapshot >= this.#snapshotEveryEntries ||
      this.#bytesSinceSnapshot >= this.#snapshotEveryBytes
    ) await this.#takeSnapshot();
  }

  #installSnapshot(snapshot: Snapshot): void {
    this.#image = decodeImageSnapshot(snapshot.data);
    this.#syncPeers(this.#image);
    this.#entriesSinceSnapshot = 0;
    this.#bytesSinceSnapshot = 0;
    this.options.logger.info("installed metadata snapshot from the leader", {
      offset: snapshot.meta.index,
    });
  }

  #apply(entries: readonly Entry[]): void {
    let image = this.#image;
    for (const e of entries) {
      if (e.index <= image.offset) continue;
      this.#entriesSinceSnapshot++;
      this.#bytesSinceSnapshot += e.data.length;
      const records = e.kind === "normal" && e.data.length > 0 ? decodeRecords(e.data) : [];
      image = replay(image, records, e.index);
      const pending = this.#pending.get(e.index);
      if (pending) {
        this.#pending.delete(e.index);
        if (pending.term === e.term) pending.resolve(e.index);
        else {pending.reject(
            new StromError(
              "NOT_CONTROLLER",
              "leadership changed before the metadata change committed; retry",
            ),
          );}
      }
    }
    if (image.quorumNodes !== this.#image.quorumNodes) this.#syncPeers(image);
    this.#image = image;
    // Proposals below the applied offset that were not applied as ours are lost.
    for (const [index, p] of this.#pending) {
      if (index <= image.offset) {
        this.#pending.delete(index);
        p.reject(
          new StromError(
            "NOT_CONTROLLER",
            "leadership changed before the metadata change committed; retry",
          ),
        );
      }
    }
    for (const w of this.#offsetWaiters) {
      if (w.offset <= image.offset) {
        this.#offsetWaiters.delete(w);
        w.resolve();
      }
    }
    for (const l of this.#imageListeners) l(image);
  }

  async #takeSnapshot(): Promise<void> {
    const image = this.#image;
    const term = this.node.logTerm(image.offset);
    if (term === undefined) return;
    const snapshot: Snapshot = {
      meta: { index: image.offset, term, config: this.node.status().config },
      data: encodeImageSnapshot(image),
    };
    await this.storage.compact(snapshot);
    this.#entriesSinceSnapshot = 0;
    this.#bytesSinceSnapshot = 0;
    this.options.logger.info("metadata snapshot taken; log compacted", {
      offset: image.offset,
      bytes: snapshot.data.length,
    });
  }
}
