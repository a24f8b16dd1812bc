/**
 * Places the replicas of new partitions on brokers.
 *
 * Goals, in order: the replicas of a partition are distinct brokers; leaders
 * (the first replica, the preferred leader) spread evenly over the brokers,
 * taking the cluster's existing leaders into account; followers spread
 * evenly too; with racks configured, a partition's replicas land on as many
 * different racks as possible.
 *
 * The scheme is Kafka's: brokers are ordered so that racks alternate; the
 * leader of partition p is the broker at `start + p`; follower j sits at a
 * shift from the leader that grows every full round of brokers, so that
 * follower load also rotates. The function is pure and deterministic.
 *
 * @module
 */

/** A broker as placement sees it. */
export interface PlacementBroker {
  readonly id: number;
  readonly rack: string | null;
}

/** Replica lists for partitions `firstPartition ..`, one list per partition. */
export function assignReplicas(options: {
  brokers: readonly PlacementBroker[];
  partitions: number;
  replicationFactor: number;
  /** How many partitions each broker already leads (to continue the spread). */
  leaderCounts?: ReadonlyMap<number, number>;
  /** Index of the first new partition (for increasing a topic's partition count). */
  firstPartition?: number;
}): number[][] {
  const { partitions, replicationFactor } = options;
  const ordered = rackAlternating(options.brokers);
  const n = ordered.length;
  if (replicationFactor < 1 || replicationFactor > n) {
    throw new RangeError(`replication factor ${replicationFactor} needs 1 to ${n} brokers`);
  }
  const counts = options.leaderCounts ?? new Map<number, number>();
  // Start at the broker that leads least, so new topics fill the gaps.
  let start = 0;
  for (let i = 1; i < n; i++) {
    if ((counts.get(ordered[i].id) ?? 0) < (counts.get(ordered[start].id) ?? 0)) start = i;
  }
  const first = options.firstPartition ?? 0;
  const out: number[][] = [];
  for (let k = 0; k < partitions; k++) {
    const p = first + k;
    const leaderIndex = (start + p) % n;
    const shift = n > 1 ? Math.floor(p / n) % (n - 1) : 0;
    const candidates: number[] = [];
    for (let j = 0; j < n - 1; j++) {
      candidates.push((leaderIndex + 1 + ((shift + j) % (n - 1))) % n);
    }
    out.push([
      ordered[leaderIndex].id,
      ...pickFollowers(ordered, leaderIndex, candidates, replicationFactor - 1),
    ]);
  }
  return out;
}

/** Followers in candidate order, preferring racks the partition does not use yet. */
function pickFollowers(
  ordered: readonly PlacementBroker[],
  leaderIndex: number,
  candidates: readonly number[],
  count: number,
): number[] {
  const usedRacks = new Set<string | null>([ordered[leaderIndex].rack]);
  const chosen: number[] = [];
  const remaining = [...candidates];
  while (chosen.length < count) {
    let pick = remaining.findIndex((i) =>
      ordered[i].rack === null || !usedRacks.has(ordered[i].rack)
    );
    if (pick < 0) pick = 0;
    const [index] = remaining.splice(pick, 1);
    chosen.push(ordered[index].id);
    usedRacks.add(ordered[index].rack);
  }
  return chosen;
}

/** Brokers sorted by id within each rack, then interleaved rack by rack. */
export function rackAlternating(brokers: readonly PlacementBroker[]): PlacementBroker[] {
  const byRack = new Map<string | null, PlacementBroker[]>();
  for (const b of [...brokers].sort((a, b) => a.id - b.id)) {
    const list = byRack.get(b.rack) ?? [];
    list.push(b);
    byRack.set(b.rack, list);
  }
  const racks = [...byRack.keys()].sort((a, b) => String(a).localeCompare(String(b)));
  const out: PlacementBroker[] = [];
  for (let i = 0; out.length < brokers.length; i++) {
    for (const rack of racks) {
      const b = byRack.get(rack)![i];
      if (b) out.push(b);
    }
  }
  return out;
}
