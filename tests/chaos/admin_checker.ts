/**
 * The admin half of the chaos checker: from the admin operations a run made
 * (create a topic, raise a topic's partition count) and each node's list of
 * topics at the end, finds metadata changes that were lost or that happened
 * although the cluster said they failed. Pure: no I/O, no clock.
 *
 * ## Definitions
 *
 * An operation's `partitions` is the partition count it asked for (a
 * creation's count, or the new total of an add-partitions). Outcomes are as
 * for writes: `ok` (acknowledged), `fail` (a definite failure: the cluster
 * rejected the request with a validation error on the only attempt, so
 * nothing could have applied it), or `unknown` (timeout, connection lost, a
 * retriable error, or a rejection after an attempt whose fate is unknown).
 *
 * - **admin-lost**: a topic whose creation or add-partitions was acknowledged
 *   is missing on a node at the end, or has fewer partitions than the largest
 *   acknowledged count.
 * - **admin-failed-applied**: a topic all of whose creations definitely
 *   failed exists at the end; or a topic has at least `N` partitions although
 *   every request for `N` or more definitely failed (or none asked for that
 *   many).
 *
 * Every finding is a violation. Nodes are checked one by one, so a node whose
 * metadata never caught up is reported too.
 *
 * @module
 */

/** The admin operation kinds the chaos workload makes. */
export type AdminOpKind = "create" | "add-partitions";

/** How an admin operation ended (see the module doc). */
export type AdminOutcome = "ok" | "fail" | "unknown";

/** One admin operation and its outcome. */
export interface AdminOp {
  readonly kind: AdminOpKind;
  readonly topic: string;
  /** The partition count asked for: a creation's count, or add-partitions' new total. */
  readonly partitions: number;
  /** ms since the run started, when the operation was sent and when its outcome was known. */
  readonly invokeMs: number;
  readonly completeMs: number;
  readonly outcome: AdminOutcome;
  /** Requests sent for it (retries on other nodes included). */
  readonly attempts: number;
  /** The last error, `CODE: message`, when it did not succeed. */
  readonly error?: string;
}

/** One node's view at the end: topic name → partition count (absent topics left out). */
export interface AdminFinalView {
  readonly node: number;
  readonly topics: ReadonlyMap<string, number>;
}

/** The admin anomaly kinds, in report order. */
export const ADMIN_ANOMALY_KINDS = ["admin-lost", "admin-failed-applied"] as const;

/** One of {@link ADMIN_ANOMALY_KINDS}. */
export type AdminAnomalyKind = (typeof ADMIN_ANOMALY_KINDS)[number];

/** Examples kept per admin anomaly kind. */
export const ADMIN_EXAMPLES_MAX = 10;

/** What the admin check found. */
export interface AdminCheckResult {
  readonly ops: { readonly ok: number; readonly failed: number; readonly unknown: number };
  readonly violations: number;
  readonly counts: Readonly<Record<AdminAnomalyKind, number>>;
  /** A few sentences per kind (kinds with none are left out). */
  readonly examples: Partial<Record<AdminAnomalyKind, readonly string[]>>;
}

/** What the operations on one topic promise about its end state. */
interface TopicExpectation {
  /** Largest acknowledged partition count (0: nothing acknowledged). */
  ackedMin: number;
  /** Largest count an ok or unknown operation asked for (0: none). */
  mayReach: number;
  /** Some creation was not a definite failure. */
  mayExist: boolean;
}

function expectations(ops: readonly AdminOp[]): Map<string, TopicExpectation> {
  const byTopic = new Map<string, TopicExpectation>();
  for (const op of ops) {
    let topic = byTopic.get(op.topic);
    if (!topic) {
      topic = { ackedMin: 0, mayReach: 0, mayExist: false };
      byTopic.set(op.topic, topic);
    }
    if (op.outcome === "ok") topic.ackedMin = Math.max(topic.ackedMin, op.partitions);
    if (op.outcome !== "fail") topic.mayReach = Math.max(topic.mayReach, op.partitions);
    if (op.kind === "create" && op.outcome !== "fail") topic.mayExist = true;
  }
  return byTopic;
}

/** Checks the admin operations against every node's final view; see the module doc. */
export function checkAdminOps(
  ops: readonly AdminOp[],
  views: readonly AdminFinalView[],
  examplesMax = ADMIN_EXAMPLES_MAX,
): AdminCheckResult {
  const counts: Record<AdminAnomalyKind, number> = { "admin-lost": 0, "admin-failed-applied": 0 };
  const examples: Partial<Record<AdminAnomalyKind, string[]>> = {};
  const add = (kind: AdminAnomalyKind, sentence: string) => {
    counts[kind]++;
    const list = examples[kind] ??= [];
    if (list.length < examplesMax) list.push(sentence);
  };
  for (const [name, topic] of expectations(ops)) {
    for (const view of views) {
      const count = view.topics.get(name);
      const where = `node ${view.node}`;
      if (topic.ackedMin > 0 && (count === undefined || count < topic.ackedMin)) {
        add(
          "admin-lost",
          `${name}: acknowledged with ${topic.ackedMin} partition(s), but ${where} has ${
            count === undefined ? "no such topic" : `${count}`
          }`,
        );
      }
      if (count === undefined) continue;
      if (!topic.mayExist) {
        add(
          "admin-failed-applied",
          `${name}: every creation definitely failed, yet ${where} has it`,
        );
        continue;
      }
      // More than any request that may have succeeded asked for: a failed one took effect.
      if (count > topic.mayReach) {
        add(
          "admin-failed-applied",
          `${name}: ${where} has ${count} partition(s); the most any request not definitely failed asked for is ${topic.mayReach}`,
        );
      }
    }
  }
  let ok = 0, failed = 0, unknown = 0;
  for (const op of ops) {
    if (op.outcome === "ok") ok++;
    else if (op.outcome === "fail") failed++;
    else unknown++;
  }
  return {
    ops: { ok, failed, unknown },
    violations: counts["admin-lost"] + counts["admin-failed-applied"],
    counts,
    examples,
  };
}
