/**
 * The admin part of the chaos workload: now and then create a topic or raise
 * a topic's partition count, recording each operation's outcome precisely
 * enough for {@link checkAdminOps}. Requests go out one at a time as plain
 * HTTP (not through the client's retry helper), so the run knows how many
 * attempts an operation took and whether an earlier attempt may have applied
 * it: only a validation error on the first attempt is a definite failure.
 * Also reads each node's topic list at the end.
 *
 * @module
 */

import { requestJson } from "../_harness/http.ts";
import type { AdminFinalView, AdminOp, AdminOutcome } from "./admin_checker.ts";
import { sleep } from "./cluster_view.ts";

/** An admin operation every this many ms. */
export const ADMIN_EVERY_MS = 7_000;
/** Most admin operations remembered (a 30-minute run makes about 260). */
export const ADMIN_OPS_MAX = 1_000;
/** Attempts per operation, each on the next node. */
export const ADMIN_ATTEMPTS_MAX = 4;
/** Timeout of one attempt: above the broker's own 15 s admin write timeout, so it answers first. */
export const ADMIN_ATTEMPT_TIMEOUT_MS = 20_000;
/** Pause between attempts. */
export const ADMIN_RETRY_BACKOFF_MS = 500;
/** How long the final views may take to agree (metadata propagates asynchronously). */
export const ADMIN_FINAL_SETTLE_MS = 15_000;

/** The side topics' names: `chaos-admin-N`. */
export const ADMIN_TOPIC_PREFIX = "chaos-admin-";

/**
 * Error codes that mean the cluster rejected the request without applying
 * it (validation). Anything else — a timeout, a lost connection, a
 * retriable error, a server error — may have been applied.
 */
export const ADMIN_REJECTION_CODES: ReadonlySet<string> = new Set([
  "INVALID_REQUEST",
  "INVALID_CONFIG",
  "INVALID_TOPIC_EXCEPTION",
  "INVALID_PARTITIONS",
  "INVALID_REPLICATION_FACTOR",
  "UNKNOWN_TOPIC_OR_PARTITION",
]);

/** One request of an admin operation, as the workload sends it. */
export interface AdminRequest {
  readonly kind: AdminOp["kind"];
  readonly topic: string;
  readonly partitions: number;
}

/** What one attempt got back: a status (0: no answer) and the error code, if any. */
export interface AttemptAnswer {
  readonly status: number;
  readonly code?: string;
  readonly message?: string;
}

/**
 * The outcome of an operation from its attempts' answers, in order: ok if
 * the last succeeded; a definite failure only if every attempt was a
 * rejection (so none can have applied it); otherwise unknown.
 */
export function classifyAttempts(answers: readonly AttemptAnswer[]): AdminOutcome {
  const last = answers[answers.length - 1];
  if (last && last.status >= 200 && last.status < 300) return "ok";
  const allRejected = answers.length > 0 &&
    answers.every((a) => a.code !== undefined && ADMIN_REJECTION_CODES.has(a.code));
  return allRejected ? "fail" : "unknown";
}

function isFinal(answer: AttemptAnswer): boolean {
  if (answer.status >= 200 && answer.status < 300) return true;
  // A rejection will not change on another node; a topic that already exists neither.
  return answer.code !== undefined &&
    (ADMIN_REJECTION_CODES.has(answer.code) || answer.code === "TOPIC_ALREADY_EXISTS");
}

async function attempt(url: string, request: AdminRequest): Promise<AttemptAnswer> {
  const answer = request.kind === "create"
    ? await requestJson(`${url}/v1/topics`, {
      body: { name: request.topic, partitions: request.partitions, replicationFactor: 3 },
      timeoutMs: ADMIN_ATTEMPT_TIMEOUT_MS,
    })
    : await requestJson(`${url}/v1/topics/${encodeURIComponent(request.topic)}/partitions`, {
      body: { partitions: request.partitions },
      timeoutMs: ADMIN_ATTEMPT_TIMEOUT_MS,
    });
  const error = answer.body?.error;
  return {
    status: answer.status,
    ...(typeof error?.code === "string" ? { code: error.code } : {}),
    ...(typeof error?.message === "string" ? { message: error.message } : {}),
  };
}

/** Runs one admin operation over `urls` (starting at `first`), retrying on the next node. */
export async function runAdminOp(
  urls: readonly string[],
  first: number,
  request: AdminRequest,
  runStartMs: number,
): Promise<AdminOp> {
  const invokeMs = Date.now() - runStartMs;
  const answers: AttemptAnswer[] = [];
  for (let i = 0; i < ADMIN_ATTEMPTS_MAX; i++) {
    const answer = await attempt(urls[(first + i) % urls.length], request);
    answers.push(answer);
    if (isFinal(answer)) break;
    await sleep(ADMIN_RETRY_BACKOFF_MS);
  }
  const outcome = classifyAttempts(answers);
  const last = answers[answers.length - 1];
  return {
    ...request,
    invokeMs,
    completeMs: Date.now() - runStartMs,
    outcome,
    attempts: answers.length,
    ...(outcome === "ok" ? {} : {
      error: `${last.code ?? `HTTP ${last.status}`}: ${last.message ?? "no answer"}`,
    }),
  };
}

/**
 * Until `signal` aborts: every {@link ADMIN_EVERY_MS}, alternately creates
 * `chaos-admin-N` (1 partition, RF 3) and raises `chaos-admin-0`'s partition
 * count by one, appending each operation to `ops` (at most {@link ADMIN_OPS_MAX}).
 */
export async function adminOperations(
  urls: readonly string[],
  signal: AbortSignal,
  ops: AdminOp[],
  runStartMs: number,
): Promise<void> {
  let n = 0;
  // The count the next add-partitions asks for: one more than the most ever asked for, so
  // an unknown outcome is never followed by a request it may already have satisfied.
  let sidePartitions = 1;
  while (!signal.aborted && ops.length < ADMIN_OPS_MAX) {
    await sleep(ADMIN_EVERY_MS);
    if (signal.aborted) break;
    const create = n % 2 === 0;
    const request: AdminRequest = create
      ? { kind: "create", topic: `${ADMIN_TOPIC_PREFIX}${n}`, partitions: 1 }
      : { kind: "add-partitions", topic: `${ADMIN_TOPIC_PREFIX}0`, partitions: sidePartitions + 1 };
    const op = await runAdminOp(urls, n, request, runStartMs);
    if (!create && op.outcome !== "fail") sidePartitions++;
    ops.push(op);
    n++;
  }
}

/**
 * Each node's topics (name → partition count) from `GET /v1/topics`, asked
 * until the nodes agree or {@link ADMIN_FINAL_SETTLE_MS} passes. Nodes that
 * never answered are left out and named in `unanswered`.
 */
export async function readAdminFinalViews(
  nodes: ReadonlyMap<number, string>,
): Promise<{ views: AdminFinalView[]; unanswered: number[] }> {
  const deadline = Date.now() + ADMIN_FINAL_SETTLE_MS;
  while (true) {
    const views: AdminFinalView[] = [];
    const unanswered: number[] = [];
    for (const [node, url] of nodes) {
      const answer = await requestJson(`${url}/v1/topics`, { timeoutMs: 5_000 });
      const topics = answer.body?.topics;
      if (answer.status !== 200 || !Array.isArray(topics)) {
        unanswered.push(node);
        continue;
      }
      views.push({
        node,
        topics: new Map(
          topics.map((t: { name: string; partitions: number }) => [t.name, t.partitions]),
        ),
      });
    }
    const signatures = new Set(
      views.map((v) => JSON.stringify([...v.topics].sort(([a], [b]) => a < b ? -1 : 1))),
    );
    if ((unanswered.length === 0 && signatures.size <= 1) || Date.now() >= deadline) {
      return { views, unanswered };
    }
    await sleep(500);
  }
}
