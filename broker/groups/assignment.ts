/**
 * Sets of topic partitions, the currency of assignment and reconciliation.
 *
 * Invariant of every {@link Assignment} built here: each topic's partition
 * list is sorted ascending without duplicates, and no topic maps to an empty
 * list — so two equal sets have one representation, and records and state
 * digests are deterministic.
 *
 * @module
 */

/** Partitions per topic (see the module invariant). */
export type Assignment = ReadonlyMap<string, readonly number[]>;

/** One topic's partitions, as records and responses carry them. */
export interface TopicPartitions {
  readonly topic: string;
  readonly partitions: readonly number[];
}

/** The empty set. */
export const EMPTY_ASSIGNMENT: Assignment = new Map();

/** Normalises a list (any order, duplicates allowed) into an {@link Assignment}. */
export function assignmentFromList(list: readonly TopicPartitions[]): Assignment {
  const sets = new Map<string, Set<number>>();
  for (const { topic, partitions } of list) {
    let set = sets.get(topic);
    if (!set) sets.set(topic, set = new Set());
    for (const p of partitions) set.add(p);
  }
  return fromSets(sets);
}

/** The list form, topics in name order. */
export function assignmentToList(a: Assignment): TopicPartitions[] {
  return [...a.keys()].sort().map((topic) => ({ topic, partitions: [...a.get(topic)!] }));
}

/** Builds an assignment from per-topic sets, normalising. */
export function fromSets(sets: ReadonlyMap<string, ReadonlySet<number>>): Assignment {
  const out = new Map<string, number[]>();
  for (const topic of [...sets.keys()].sort()) {
    const ps = [...sets.get(topic)!].sort((x, y) => x - y);
    if (ps.length > 0) out.set(topic, ps);
  }
  return out;
}

/** Whether partition `p` of `topic` is in `a`. */
export function hasPartition(a: Assignment, topic: string, p: number): boolean {
  return a.get(topic)?.includes(p) ?? false;
}

/** Number of partitions in `a`. */
export function partitionCount(a: Assignment): number {
  let n = 0;
  for (const ps of a.values()) n += ps.length;
  return n;
}

/** `a ∪ b`. */
export function union(a: Assignment, b: Assignment): Assignment {
  return combine(a, b, (inA, inB) => inA || inB);
}

/** `a − b`. */
export function difference(a: Assignment, b: Assignment): Assignment {
  return combine(a, b, (inA, inB) => inA && !inB);
}

/** `a ∩ b`. */
export function intersection(a: Assignment, b: Assignment): Assignment {
  return combine(a, b, (inA, inB) => inA && inB);
}

/** Whether `a ⊆ b`. */
export function isSubset(a: Assignment, b: Assignment): boolean {
  for (const [topic, ps] of a) {
    const inB = b.get(topic);
    if (!inB) return false;
    const set = new Set(inB);
    if (!ps.every((p) => set.has(p))) return false;
  }
  return true;
}

/** Whether `a` and `b` hold the same partitions. */
export function assignmentEquals(a: Assignment, b: Assignment): boolean {
  return partitionCount(a) === partitionCount(b) && isSubset(a, b);
}

/** Whether `a` and `b` share a partition. */
export function intersects(a: Assignment, b: Assignment): boolean {
  return partitionCount(intersection(a, b)) > 0;
}

/** `topic-p` for every partition of `a`, for logs and ownership maps. */
export function partitionKeys(a: Assignment): string[] {
  const out: string[] = [];
  for (const [topic, ps] of a) for (const p of ps) out.push(partitionKey(topic, p));
  return out;
}

/** A map key for one partition. */
export function partitionKey(topic: string, p: number): string {
  return `${topic}-${p}`;
}

function combine(
  a: Assignment,
  b: Assignment,
  keep: (inA: boolean, inB: boolean) => boolean,
): Assignment {
  const sets = new Map<string, Set<number>>();
  for (const topic of new Set([...a.keys(), ...b.keys()])) {
    const sa = new Set(a.get(topic) ?? []);
    const sb = new Set(b.get(topic) ?? []);
    const kept = new Set<number>();
    for (const p of new Set([...sa, ...sb])) if (keep(sa.has(p), sb.has(p))) kept.add(p);
    sets.set(topic, kept);
  }
  return fromSets(sets);
}
