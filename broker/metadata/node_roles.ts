/**
 * What a node's roles mean for the metadata quorum, and how a node finds
 * its place in it at start.
 *
 * - `["broker", "controller"]` (combined, the local cluster's default) and
 *   `["controller"]`: a voter, listed in `voters`; it may become the active
 *   controller. A controller-only node never registers as a broker and never
 *   hosts partitions.
 * - `["broker"]`: an observer. Like a KRaft observer it only needs to reach
 *   the quorum: at start it announces itself (directory id and URLs) to the
 *   active controller, which records it in the metadata log and makes it a
 *   Raft learner; from then on the leader replicates the log to it. It never
 *   votes, never campaigns, and never becomes the controller.
 *
 * A node whose metadata log is empty (new, or wiped) first asks the
 * configured voters what they know about it:
 * - recorded as a voter with another directory id: its disk was wiped; it
 *   refuses to start, naming the commands that re-add it;
 * - not a voter in the quorum's current membership (removed by an operator,
 *   or a controller being added to a running cluster): it starts as an
 *   observer, from that membership, and waits for `add-voter`.
 *
 * @module
 */

import type { H2Client } from "@strom/client";
import { StromError } from "@strom/client";
import type { ClusterConfig } from "@strom/raft";
import type { NodeConfig } from "../config/node_config.ts";
import type { ControllerClient } from "../controller/controller_client.ts";
import { wipedVoterMessage } from "../controller/quorum_membership.ts";
import type { Logger } from "../log.ts";
import type { QuorumNodeRegistration } from "./image.ts";
import type { MetadataQuorum } from "./metadata_quorum.ts";

/** Whether the node registers as a broker and hosts partitions (data path runs only then). */
export function hasBrokerRole(config: Pick<NodeConfig, "roles">): boolean {
  return config.roles.includes("broker");
}

/** Whether the node is a voter of the metadata quorum and may become the active controller. */
export function hasControllerRole(config: Pick<NodeConfig, "roles">): boolean {
  return config.roles.includes("controller");
}

/** The internal route a starting node asks its peers on. */
export const QUORUM_NODE_PATH = "/internal/quorum/nodes";

/** What a peer answers about node `id` on {@link QUORUM_NODE_PATH}. */
export interface QuorumNodeView {
  /** The peer's Raft view: its membership, log end and known leader. */
  readonly raft: {
    readonly voters: readonly number[];
    readonly learners: readonly number[];
    readonly lastIndex: number;
    readonly leaderId: number;
  };
  /** What the peer's metadata image records about the node, or null. */
  readonly node: QuorumNodeRegistration | null;
}

/** The answer of {@link QUORUM_NODE_PATH} from this node's quorum. */
export function quorumNodeView(quorum: MetadataQuorum, id: number): QuorumNodeView {
  const s = quorum.status();
  return {
    raft: {
      voters: s.config.voters,
      learners: s.config.learners,
      lastIndex: s.lastIndex,
      leaderId: s.leaderId,
    },
    node: quorum.image.quorumNodes.get(id) ?? null,
  };
}

/** The node was a voter with another data directory: its disk was wiped or replaced. */
export class WipedVoterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WipedVoterError";
  }
}

/** How long a starting node waits for each peer's answer. */
export const PEER_QUESTION_TIMEOUT_MS = 2_000;

/**
 * Called only when this node's metadata log is empty: the membership its
 * log starts from, or `undefined` for the configured voters. Throws
 * {@link WipedVoterError} for a wiped voter that was not removed.
 */
export async function startMembership(options: {
  readonly config: NodeConfig;
  readonly directoryId: string;
  readonly http: H2Client;
  readonly logger: Logger;
}): Promise<ClusterConfig | undefined> {
  const { config, directoryId, http, logger } = options;
  const peers = config.voters.filter((v) => v.id !== config.nodeId);
  const answers = (await Promise.all(
    peers.map((p) =>
      http.json<QuorumNodeView>(p.internalUrl, {
        path: `${QUORUM_NODE_PATH}/${config.nodeId}`,
        timeoutMs: PEER_QUESTION_TIMEOUT_MS,
      }).catch(() => undefined)
    ),
  )).filter((a): a is QuorumNodeView => a !== undefined);
  const wiped = answers.find((a) =>
    a.node?.voter === true && a.node.directoryId !== directoryId &&
    a.raft.voters.includes(config.nodeId)
  );
  if (wiped?.node) {
    throw new WipedVoterError(
      wipedVoterMessage(config.nodeId, directoryId, wiped.node.directoryId),
    );
  }
  // Trust only peers whose log holds something: a fresh cluster's peers still show the bootstrap voters.
  const informed = answers.filter((a) => a.raft.lastIndex > 0)
    .sort((a, b) => b.raft.lastIndex - a.raft.lastIndex)[0];
  if (!informed || !hasControllerRole(config)) return undefined;
  if (informed.raft.voters.includes(config.nodeId)) return undefined;
  logger.info(
    "this node is not a voter of the running quorum: starting as an observer until an operator adds it",
    { voters: informed.raft.voters.join(","), command: `quorum add-voter --id ${config.nodeId}` },
  );
  return { voters: informed.raft.voters, learners: [] };
}

/** Pause between announcements while the controller cannot be reached. */
export const ANNOUNCE_RETRY_MS = 500;
/** How often a node checks that the quorum still knows it (re-announcing if not). */
export const ANNOUNCE_CHECK_MS = 5_000;

/**
 * Announces this node to the active controller (directory id and URLs) until
 * it is recorded, then checks now and then that the leader still replicates
 * to it. A refusal (the node is a voter with another directory) is fatal.
 */
export class QuorumAnnouncer {
  #stopped = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #announced = false;

  constructor(
    private readonly options: {
      readonly nodeId: number;
      readonly directoryId: string;
      readonly internalUrl: string;
      readonly clientUrl: string;
    },
    private readonly controller: ControllerClient,
    private readonly quorum: MetadataQuorum,
    private readonly logger: Logger,
    private readonly onRefused: (e: StromError) => void,
  ) {}

  /** Whether the controller has recorded this node (since this process started). */
  get announced(): boolean {
    return this.#announced;
  }

  start(): void {
    this.#schedule(0);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => this.#tick(), ms);
  }

  async #tick(): Promise<void> {
    const s = this.quorum.status();
    const member = s.config.voters.includes(this.options.nodeId) ||
      s.config.learners.includes(this.options.nodeId);
    // Announced and replicated to: nothing to do until the next check.
    if (this.#announced && member && s.leaderId !== 0) {
      this.#schedule(ANNOUNCE_CHECK_MS);
      return;
    }
    try {
      const { response } = await this.controller.call<{ voter: boolean }>(
        "register-quorum-node",
        this.options,
        ANNOUNCE_RETRY_MS * 4,
      );
      if (!this.#announced) {
        this.logger.info("announced to the metadata quorum", {
          as: response.voter ? "voter" : "observer",
        });
      }
      this.#announced = true;
      this.#schedule(ANNOUNCE_CHECK_MS);
    } catch (e) {
      if (e instanceof StromError && e.code === "INCONSISTENT_VOTER_SET") {
        this.onRefused(e);
        return;
      }
      this.logger.debug("announcement to the quorum failed; retrying", {
        error: (e as Error).message,
      });
      this.#schedule(ANNOUNCE_RETRY_MS);
    }
  }
}
