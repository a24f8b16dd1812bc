/**
 * The two group answers that need partitions' offsets besides the
 * coordinator's state: a description with lag (high watermark − committed
 * offset per partition) and the resolution of an offsets reset (earliest,
 * latest, timestamp or explicit offset, per partition, on its leader).
 *
 * @module
 */

import { StromError } from "@strom/client";
import type { MetadataImage } from "../metadata/image.ts";
import { topicByName } from "../metadata/image.ts";
import type { GroupDescription, OffsetToCommit } from "../groups/mod.ts";
import type { CoordinatorShard } from "../group_coordinator/coordinator_shard.ts";
import { LAG_LOOKUPS_CONCURRENT_MAX } from "../group_coordinator/config.ts";
import type { ListOffsetResult, OffsetSpec } from "./data_plane.ts";
import type { ResetRequest } from "./group_bodies.ts";

/** Looks up an offset on a partition's leader. */
export type ListOffsetFn = (
  topic: string,
  partition: number,
  at: OffsetSpec,
) => Promise<ListOffsetResult>;

/** One partition of a described group. */
export interface GroupPartitionView {
  readonly topic: string;
  readonly partition: number;
  /** The member that holds it (assigned or revoking), or null. */
  readonly memberId: string | null;
  /** The committed offset, or null when none. */
  readonly committedOffset: number | null;
  /** null when the leader could not be asked. */
  readonly highWatermark: number | null;
  /** highWatermark − committedOffset (the whole HW minus log start when nothing is committed is not lag: null). */
  readonly lag: number | null;
}

/** `GET /v1/groups/{group}`: the coordinator's description plus a per-partition view with lag. */
export async function describeWithLag(
  shard: CoordinatorShard,
  group: string,
  listOffset: ListOffsetFn,
): Promise<GroupDescription & { partitions: GroupPartitionView[] }> {
  const d = await shard.read((co) => co.describeGroup(group));
  if (d.state === "dead") {
    throw new StromError(
      "GROUP_ID_NOT_FOUND",
      `group '${group}' does not exist; list groups with GET /v1/groups`,
    );
  }
  const rows = new Map<string, { topic: string; partition: number; memberId: string | null }>();
  const add = (topic: string, partition: number, memberId: string | null) => {
    const key = `${topic}\u0000${partition}`;
    const row = rows.get(key);
    if (!row || (row.memberId === null && memberId !== null)) {
      rows.set(key, { topic, partition, memberId });
    }
  };
  for (const o of d.offsets) add(o.topic, o.partition, null);
  for (const m of d.members) {
    for (const tp of [...m.assigned, ...m.pendingRevocation]) {
      for (const p of tp.partitions) add(tp.topic, p, m.memberId);
    }
  }
  const committed = new Map(d.offsets.map((o) => [`${o.topic}\u0000${o.partition}`, o.offset]));
  const sorted = [...rows.values()].sort((a, b) =>
    a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1
  );
  const partitions = await mapBounded(sorted, LAG_LOOKUPS_CONCURRENT_MAX, async (r) => {
    const committedOffset = committed.get(`${r.topic}\u0000${r.partition}`) ?? null;
    let highWatermark: number | null = null;
    try {
      highWatermark = (await listOffset(r.topic, r.partition, "latest")).offset;
    } catch { /* the leader is away: no lag for this partition now */ }
    const lag = highWatermark === null || committedOffset === null
      ? null
      : Math.max(0, highWatermark - committedOffset);
    return { ...r, committedOffset, highWatermark, lag };
  });
  return { ...d, partitions };
}

/** The explicit offsets a reset writes (the coordinator refuses it if the group has members). */
export async function resolveReset(
  deps: { readonly image: () => MetadataImage },
  shard: CoordinatorShard,
  group: string,
  req: ResetRequest,
  listOffset: ListOffsetFn,
): Promise<OffsetToCommit[]> {
  let targets: { topic: string; partition: number }[];
  if (req.topic !== undefined) {
    const t = topicByName(deps.image(), req.topic);
    if (!t) {
      throw new StromError("UNKNOWN_TOPIC_OR_PARTITION", `topic '${req.topic}' does not exist`);
    }
    targets = t.partitions.map((_, partition) => ({ topic: req.topic!, partition }));
  } else {
    const existing = await shard.read((co) => co.fetchOffsets(group));
    targets = existing.map((o) => ({ topic: o.topic, partition: o.partition }));
    if (targets.length === 0) {
      throw new StromError(
        "INVALID_REQUEST",
        `group '${group}' has no committed offsets to reset; name a topic ("topic": "...")`,
      );
    }
  }
  return await mapBounded(targets, LAG_LOOKUPS_CONCURRENT_MAX, async ({ topic, partition }) => {
    const to = req.to;
    let offset: number;
    if (to === "earliest" || to === "latest") {
      offset = (await listOffset(topic, partition, to)).offset ?? 0;
    } else if ("timestampMs" in to) {
      const found = await listOffset(topic, partition, { timestampMs: to.timestampMs });
      // No record at or after the timestamp: the end, as Kafka's --to-datetime does.
      offset = found.offset ?? (await listOffset(topic, partition, "latest")).offset ?? 0;
    } else {
      const earliest = (await listOffset(topic, partition, "earliest")).offset ?? 0;
      const latest = (await listOffset(topic, partition, "latest")).offset ?? earliest;
      offset = Math.min(Math.max(to.offset, earliest), latest);
    }
    return { topic, partition, offset };
  });
}

async function mapBounded<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return out;
}
