/**
 * Gets a produce request to a partition's leader from whichever broker
 * received it: appends through the local {@link DataPlane} when this broker
 * leads the partition, otherwise forwards the batches to the leader's
 * partition-level produce route over the shared HTTP/2 client. A
 * NOT_LEADER_OR_FOLLOWER answer with a leader hint is followed once, since
 * this broker's metadata image may lag the leader change by a moment; a
 * second redirect is returned to the caller, who retries with backoff.
 *
 * @module
 */

import { StromError } from "@strom/client";
import type { H2Client, LeaderHint } from "@strom/client";
import type { MetadataImage } from "../metadata/image.ts";
import { topicByName } from "../metadata/image.ts";
import { NO_LEADER } from "../metadata/records.ts";
import { BATCH_MEDIA_TYPE, FORWARD_TIMEOUT_MARGIN_MS } from "./data_limits.ts";
import type { DataPlane, ProduceRequest, ProduceResult } from "./data_plane.ts";

/** What routing needs from the node. */
export interface ProduceRouterDeps {
  readonly nodeId: number;
  readonly dataPlane: DataPlane;
  /** The node's current metadata image. */
  readonly image: () => MetadataImage;
  /** The node's shared HTTP/2 client (one session per peer). */
  readonly http: Pick<H2Client, "request">;
}

/** Appends `request` on the partition's leader, wherever it is. */
export async function produceOnLeader(
  deps: ProduceRouterDeps,
  request: ProduceRequest,
): Promise<ProduceResult> {
  const first = leaderOf(deps, request.topic, request.partition);
  try {
    return await produceAt(deps, first, request);
  } catch (e) {
    const hint = e instanceof StromError && e.code === "NOT_LEADER_OR_FOLLOWER" ? e.leader : null;
    if (!hint || hint.id === first.id) throw e;
    return await produceAt(deps, hint, request);
  }
}

function leaderOf(deps: ProduceRouterDeps, topic: string, partition: number): LeaderHint {
  const image = deps.image();
  const t = topicByName(image, topic);
  const p = t?.partitions[partition];
  if (!t || !p) {
    throw new StromError(
      "UNKNOWN_TOPIC_OR_PARTITION",
      t
        ? `topic '${topic}' has ${t.partitions.length} partitions; ${partition} is not one of them`
        : `topic '${topic}' does not exist; list topics with GET /v1/topics`,
    );
  }
  const broker = p.leader === NO_LEADER ? undefined : image.brokers.get(p.leader);
  if (!broker) {
    throw new StromError(
      "LEADER_NOT_AVAILABLE",
      `partition ${topic}-${partition} has no leader right now (its in-sync replicas are down); retry shortly`,
    );
  }
  return { id: broker.id, url: broker.clientUrl };
}

async function produceAt(
  deps: ProduceRouterDeps,
  leader: LeaderHint,
  request: ProduceRequest,
): Promise<ProduceResult> {
  if (leader.id === deps.nodeId) return await deps.dataPlane.produce(request);
  const query = `acks=${request.acks}&timeoutMs=${request.timeoutMs}`;
  const res = await deps.http.request(leader.url, {
    method: "POST",
    path: `/v1/topics/${
      encodeURIComponent(request.topic)
    }/partitions/${request.partition}/records?${query}`,
    headers: { "content-type": BATCH_MEDIA_TYPE },
    body: request.batches,
    timeoutMs: request.timeoutMs + FORWARD_TIMEOUT_MARGIN_MS,
  });
  let body: unknown = null;
  try {
    body = JSON.parse(new TextDecoder().decode(res.body));
  } catch {
    // Not JSON: reported below as the leader's error.
  }
  if (res.status < 200 || res.status >= 300) throw StromError.fromBody(body, res.status);
  const r = body as Partial<ProduceResult> | null;
  if (typeof r?.baseOffset !== "number" || typeof r.count !== "number") {
    throw new StromError(
      "UNKNOWN_SERVER_ERROR",
      `broker ${leader.id} answered the forwarded produce without offsets`,
    );
  }
  return {
    baseOffset: r.baseOffset,
    lastOffset: r.lastOffset ?? -1,
    count: r.count,
    logAppendTime: r.logAppendTime ?? -1,
    duplicate: r.duplicate === true,
  };
}
