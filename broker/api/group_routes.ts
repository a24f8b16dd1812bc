/**
 * The consumer group routes of the client API (`/v1/groups/...`). Any
 * broker answers: a request reaching a broker that does not coordinate the
 * group is forwarded once, over the broker's shared HTTP/2 client, to the
 * leader of the group's `__consumer_offsets` partition (marked with
 * {@link FORWARDED_HEADER}); a forwarded request that still misses the
 * coordinator (leadership just moved) gets NOT_COORDINATOR with the leader
 * hint, and the client retries. The contract is in `./README.md` (Groups).
 *
 * @module
 */

import type { Context, Hono } from "hono";
import { StromError } from "@strom/client";
import type { H2Client, LeaderHint } from "@strom/client";
import type { MetadataImage } from "../metadata/image.ts";
import { topicByName } from "../metadata/image.ts";
import { NO_LEADER } from "../metadata/records.ts";
import type { GroupListing } from "../groups/mod.ts";
import { GROUP_METADATA_TOPIC, ID_LENGTH_MAX } from "../groups/mod.ts";
import type { CoordinatorShard } from "../group_coordinator/coordinator_shard.ts";
import type { GroupCoordinatorRuntime } from "../group_coordinator/group_runtime.ts";
import { GROUP_FORWARD_TIMEOUT_MS } from "../group_coordinator/config.ts";
import { readBodyBytes } from "./body_bytes.ts";
import type { DataPlane, ListOffsetResult, OffsetSpec } from "./data_plane.ts";
import { parseCommit, parseHeartbeat, parseReset } from "./group_bodies.ts";
import { describeWithLag, resolveReset } from "./group_views.ts";
import { JSON_BODY_BYTES_MAX, parseJsonBytes } from "./json_body.ts";

/** Marks a request one broker forwarded to the coordinator; it is not forwarded again. */
export const FORWARDED_HEADER = "x-strom-forwarded-by";
/** Largest group request body (a commit of OFFSETS_PER_COMMIT_MAX offsets with metadata fits). */
export const GROUP_BODY_BYTES_MAX = 8 * JSON_BODY_BYTES_MAX;

/** What the group routes need from the node. */
export interface GroupRouteDeps {
  readonly nodeId: number;
  readonly groups: GroupCoordinatorRuntime;
  readonly image: () => MetadataImage;
  readonly http: Pick<H2Client, "request">;
  readonly dataPlane: Pick<DataPlane, "listOffset">;
}

type Handler = (shard: CoordinatorShard, body: unknown, group: string) => Promise<unknown>;

/** Mounts the group routes on the client app. */
export function mountGroupRoutes(app: Hono, deps: GroupRouteDeps): void {
  app.get("/v1/groups", async (c) => {
    const local = await deps.groups.listLocalGroups();
    if (c.req.query("local") === "true") return c.json({ groups: local });
    return c.json(await listEverywhere(deps, local));
  });

  app.post(
    "/v1/groups/:group/heartbeat",
    (c) =>
      onCoordinator(c, deps, async (shard, body, group) => {
        const req = parseHeartbeat(group, body);
        const topics = deps.groups.topicsView();
        return await shard.run((co, nowMs) => co.heartbeat(req, { nowMs, topics }));
      }),
  );

  app.delete(
    "/v1/groups/:group/members/:member",
    (c) =>
      onCoordinator(c, deps, async (shard, _body, group) => {
        const member = c.req.param("member");
        return await shard.run((co, nowMs) => co.leaveGroup(group, member, nowMs));
      }),
  );

  app.post(
    "/v1/groups/:group/offsets",
    (c) =>
      onCoordinator(c, deps, async (shard, body, group) => {
        const req = parseCommit(group, body);
        return await shard.run((co, nowMs) => co.commitOffsets(req, nowMs));
      }),
  );

  app.get(
    "/v1/groups/:group/offsets",
    (c) =>
      onCoordinator(c, deps, async (shard, _body, group) => {
        const topic = c.req.query("topic");
        let partitions = null;
        if (topic !== undefined) {
          const t = topicByName(deps.image(), topic);
          const count = t?.partitions.length ?? 0;
          partitions = [{ topic, partitions: Array.from({ length: count }, (_, i) => i) }];
        }
        const offsets = await shard.read((co) => co.fetchOffsets(group, partitions));
        return { groupId: group, offsets };
      }),
  );

  app.post(
    "/v1/groups/:group/offsets/reset",
    (c) =>
      onCoordinator(c, deps, async (shard, body, group) => {
        const req = parseReset(body);
        const offsets = await resolveReset(deps, shard, group, req, listOffsetOnLeader(deps));
        await shard.run((co, nowMs) => co.resetOffsets(group, offsets, nowMs));
        return { groupId: group, offsets };
      }),
  );

  app.get("/v1/groups/:group", (c) =>
    onCoordinator(
      c,
      deps,
      (shard, _body, group) => describeWithLag(shard, group, listOffsetOnLeader(deps)),
    ));

  app.delete("/v1/groups/:group", (c) =>
    onCoordinator(c, deps, async (shard, _body, group) => {
      const r = await shard.run((co) => co.deleteGroup(group));
      return { deleted: group, deletedOffsets: r.deletedOffsets };
    }));
}

/** Runs `handler` on the coordinator: here, or forwarded once to the broker that is. */
async function onCoordinator(
  c: Context,
  deps: GroupRouteDeps,
  handler: Handler,
): Promise<Response> {
  const group = c.req.param("group") ?? "";
  if (group.length === 0 || group.length > ID_LENGTH_MAX) {
    throw new StromError(
      "INVALID_GROUP_ID",
      `a group id is 1 to ${ID_LENGTH_MAX} characters; got ${group.length}`,
    );
  }
  const hasBody = c.req.method === "POST";
  const bytes = hasBody ? await readBodyBytes(c.req.raw, GROUP_BODY_BYTES_MAX) : undefined;
  const where = await deps.groups.locate(group);
  if (where.kind === "local") {
    const body = bytes === undefined ? undefined : parseJsonBytes(bytes);
    return c.json(await handler(where.shard, body, group));
  }
  if (c.req.header(FORWARDED_HEADER) !== undefined) {
    throw new StromError(
      "NOT_COORDINATOR",
      `broker ${deps.nodeId} does not coordinate group '${group}' (${GROUP_METADATA_TOPIC}-${where.partition}): broker ${where.leader.id} does`,
      { leader: where.leader },
    );
  }
  return await forward(deps, where.leader, c, bytes);
}

async function forward(
  deps: GroupRouteDeps,
  leader: LeaderHint,
  c: Context,
  body: Uint8Array | undefined,
): Promise<Response> {
  const url = new URL(c.req.url);
  let res;
  try {
    res = await deps.http.request(leader.url, {
      method: c.req.method,
      path: url.pathname + url.search,
      headers: {
        [FORWARDED_HEADER]: String(deps.nodeId),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body }),
      timeoutMs: GROUP_FORWARD_TIMEOUT_MS,
    });
  } catch (e) {
    throw new StromError(
      "COORDINATOR_NOT_AVAILABLE",
      `the group coordinator (broker ${leader.id}) cannot be reached from broker ${deps.nodeId}: ${
        (e as Error).message
      }; retry shortly`,
      { leader, cause: e },
    );
  }
  return new Response(res.body as Uint8Array<ArrayBuffer>, {
    status: res.status,
    headers: { "content-type": res.headers["content-type"] ?? "application/json" },
  });
}

/** `GET /v1/groups`: this broker's groups plus every other coordinator's (`?local=true` on each). */
async function listEverywhere(
  deps: GroupRouteDeps,
  local: GroupListing[],
): Promise<{ groups: GroupListing[]; unavailable: number[] }> {
  const image = deps.image();
  const topic = topicByName(image, GROUP_METADATA_TOPIC);
  const leaders = new Set<number>();
  for (const p of topic?.partitions ?? []) {
    if (p.leader !== NO_LEADER && p.leader !== deps.nodeId) leaders.add(p.leader);
  }
  const unavailable: number[] = [];
  const remote = await Promise.all([...leaders].map(async (id) => {
    const broker = image.brokers.get(id);
    try {
      if (!broker) throw new Error("unknown broker");
      const res = await deps.http.request(broker.clientUrl, {
        method: "GET",
        path: "/v1/groups?local=true",
        headers: { [FORWARDED_HEADER]: String(deps.nodeId) },
        timeoutMs: GROUP_FORWARD_TIMEOUT_MS,
      });
      if (res.status !== 200) throw new Error(`status ${res.status}`);
      return (JSON.parse(new TextDecoder().decode(res.body)) as { groups: GroupListing[] }).groups;
    } catch {
      unavailable.push(id);
      return [];
    }
  }));
  const byId = new Map<string, GroupListing>();
  for (const g of [...local, ...remote.flat()]) byId.set(g.groupId, g);
  const groups = [...byId.values()].sort((a, b) => a.groupId < b.groupId ? -1 : 1);
  return { groups, unavailable: unavailable.sort((a, b) => a - b) };
}

/** Lists an offset on the partition's leader: through the local data plane, or over HTTP/2. */
export function listOffsetOnLeader(
  deps: GroupRouteDeps,
): (topic: string, partition: number, at: OffsetSpec) => Promise<ListOffsetResult> {
  return async (topic, partition, at) => {
    const image = deps.image();
    const leader = topicByName(image, topic)?.partitions[partition]?.leader ?? NO_LEADER;
    if (leader === deps.nodeId) return await deps.dataPlane.listOffset(topic, partition, at);
    const broker = leader === NO_LEADER ? undefined : image.brokers.get(leader);
    if (!broker) {
      throw new StromError("LEADER_NOT_AVAILABLE", `${topic}-${partition} has no leader right now`);
    }
    const spec = typeof at === "string" ? at : String(at.timestampMs);
    const res = await deps.http.request(broker.clientUrl, {
      method: "GET",
      path: `/v1/topics/${encodeURIComponent(topic)}/partitions/${partition}/offsets?at=${spec}`,
      timeoutMs: GROUP_FORWARD_TIMEOUT_MS,
    });
    let body: unknown = null;
    try {
      body = JSON.parse(new TextDecoder().decode(res.body));
    } catch { /* reported below */ }
    if (res.status !== 200) throw StromError.fromBody(body, res.status);
    return body as ListOffsetResult;
  };
}
