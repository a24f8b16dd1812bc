/**
 * JSON over HTTP for tests (plain `fetch`, HTTP/1.1: tests check behaviour,
 * the HTTP/2 path has its own tests).
 *
 * @module
 */

import assert from "node:assert/strict";

/** A JSON answer: status and parsed body. */
export interface JsonAnswer {
  readonly status: number;
  // deno-lint-ignore no-explicit-any
  readonly body: any;
}

/** Sends `body` as JSON (if given) and parses the answer; network errors become status 0. */
export async function requestJson(
  url: string,
  options: { method?: string; body?: unknown; timeoutMs?: number } = {},
): Promise<JsonAnswer> {
  try {
    const res = await fetch(url, {
      method: options.method ?? (options.body === undefined ? "GET" : "POST"),
      headers: { "content-type": "application/json" },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 5_000),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  } catch (e) {
    return { status: 0, body: { error: { code: "NETWORK", message: String(e) } } };
  }
}

/** One partition as `GET /v1/topics/{topic}` describes it (the fields tests look at). */
export interface PartitionView {
  leader: number;
  leaderEpoch: number;
  isr: number[];
}

/** The partitions of `topic` as the node at `url` describes them, or undefined if it does not answer. */
export async function describePartitions(
  url: string,
  topic: string,
): Promise<PartitionView[] | undefined> {
  const answer = await requestJson(`${url}/v1/topics/${topic}`).catch(() => undefined);
  if (answer?.status !== 200) return undefined;
  return answer.body?.partitions as PartitionView[] | undefined;
}

/** Creates `name` (RF 3) through the node at `url` and asserts the 201. */
export async function createTopic(url: string, name: string, partitions: number): Promise<void> {
  const created = await requestJson(`${url}/v1/topics`, {
    body: { name, partitions, replicationFactor: 3 },
    timeoutMs: 15_000,
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
}
