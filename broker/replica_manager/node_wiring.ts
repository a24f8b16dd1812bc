/**
 * How a broker node builds its replica manager: follower fetches over the
 * node's shared HTTP/2 client to the leaders' internal listeners, ISR
 * changes batched through the controller's "alter-partitions" operation, and the
 * metadata image from the quorum. Kept here so that `broker/node.ts` (shared
 * by several subsystems) only needs one call.
 *
 * @module
 */

import { isErrorCode, StromError } from "@strom/client";
import type { ControllerClient } from "../controller/controller_client.ts";
import type { Logger } from "../log.ts";
import type { AlterPartitionsResponse } from "../controller/quorum_controller.ts";
import type { MetadataImage } from "../metadata/image.ts";
import type { MetadataQuorum } from "../metadata/metadata_quorum.ts";
import { ALTER_PARTITION_TIMEOUT_MS } from "./config.ts";
import type { ReplicaFetchHttpClient } from "./replica_http.ts";
import { ReplicaManager } from "./replica_manager.ts";

/** What {@link startReplicaManager} needs from the node. */
export interface ReplicaManagerWiring {
  readonly nodeId: number;
  /** The node's data directory; partition directories go directly inside it. */
  readonly dataDir: string;
  readonly quorum: Pick<MetadataQuorum, "image" | "onImage">;
  readonly controller: Pick<ControllerClient, "call">;
  /** This broker's epoch once registered (AlterPartition carries it). */
  readonly brokerEpoch: () => number | undefined;
  /** Follower fetches go over it (the node closes it after the manager has stopped). */
  readonly replicaHttp: ReplicaFetchHttpClient;
  readonly logger: Logger;
  /** `replica.lag.time.max.ms`; defaults to the replica manager's. */
  readonly replicaLagTimeMaxMs?: number;
}

/**
 * Creates the replica manager (no I/O yet): follower fetches go over `replicaHttp`,
 * ISR changes to the controller. Start it with {@link startNodeReplicaManager}.
 */
export function createNodeReplicaManager(w: ReplicaManagerWiring): ReplicaManager {
  return new ReplicaManager({
    localBrokerId: w.nodeId,
    dataDir: w.dataDir,
    logger: w.logger,
    transport: w.replicaHttp.transport(() => w.quorum.image),
    ...(w.replicaLagTimeMaxMs === undefined ? {} : { replicaLagTimeMaxMs: w.replicaLagTimeMaxMs }),
    alterPartitions: async (requests) => {
      const brokerEpoch = w.brokerEpoch();
      if (brokerEpoch === undefined) {
        throw new StromError("NOT_READY", "this broker is not registered with the controller yet");
      }
      const { response } = await w.controller.call<AlterPartitionsResponse>("alter-partitions", {
        brokerId: w.nodeId,
        brokerEpoch,
        partitions: requests.map((r) => ({
          topicId: r.topicId,
          partition: r.partition,
          leaderEpoch: r.leaderEpoch,
          partitionEpoch: r.partitionEpoch,
          isr: [...r.isr],
        })),
      }, ALTER_PARTITION_TIMEOUT_MS);
      return response.partitions.map((p) =>
        p.error === undefined ? { ok: true as const, state: p.state! } : {
          ok: false as const,
          error: new StromError(
            isErrorCode(p.error.code) ? p.error.code : "UNKNOWN_SERVER_ERROR",
            p.error.message,
          ),
        }
      );
    },
  });
}

/**
 * Starts the manager (HW checkpoint, timers) and feeds it every metadata
 * image, the current one at once. Stop it with `ReplicaManager.stop()` after
 * the controlled shutdown and before the quorum closes.
 */
export async function startNodeReplicaManager(
  manager: ReplicaManager,
  quorum: Pick<MetadataQuorum, "image" | "onImage">,
  logger: Logger,
  isCurrent: (image: MetadataImage) => boolean = () => true,
): Promise<void> {
  await manager.start();
  let waitingLogged = false;
  const apply = (image: MetadataImage) => {
    // A restarted broker's local image says what it led before it died; the
    // controller has since moved those leaderships (on its re-registration at
    // the latest). Acting on that image would make it a stale leader that
    // accepts acks=1 writes doomed to truncation, so images are applied only
    // once they include this incarnation's registration.
    if (!isCurrent(image)) {
      if (!waitingLogged) {
        logger.info("replicas wait for this broker's registration in the metadata log", {
          metadataOffset: image.offset,
        });
        waitingLogged = true;
      }
      return;
    }
    manager.applyImage(image).catch((e) =>
      logger.error("applying a metadata image to the replicas failed", {
        error: (e as Error).message,
      })
    );
  };
  quorum.onImage(apply);
  apply(quorum.image);
}
