/**
 * "All in-sync replicas identical up to the HW": once the cluster is healed
 * and quiet, asks every node for its replicas of the topic
 * (`GET /v1/diagnostics/replicas`), then for each partition compares the
 * replicas' checksums up to the smallest high watermark among them.
 *
 * @module
 */

import { requestJson } from "../_harness/http.ts";
import type { ExtraCheck } from "./report.ts";

interface ReplicaView {
  topic: string;
  partition: number;
  highWatermark: number;
  logEndOffset: number;
  checksum: { upTo: number; crc32c: number | string };
}

async function replicasOf(url: string, upTo?: number): Promise<ReplicaView[]> {
  const query = upTo === undefined ? "" : `?upTo=${upTo}`;
  const answer = await requestJson(`${url}/v1/diagnostics/replicas${query}`, { timeoutMs: 10_000 });
  if (answer.status !== 200) {
    throw new Error(
      `${url}/v1/diagnostics/replicas: HTTP ${answer.status} ${JSON.stringify(answer.body)}`,
    );
  }
  return answer.body.replicas as ReplicaView[];
}

/** Compares every partition's replicas of `topic` across `nodes` (id → client URL). */
export async function checkReplicasIdentical(
  nodes: ReadonlyMap<number, string>,
  topic: string,
): Promise<ExtraCheck> {
  const byPartition = new Map<number, Array<{ node: number; view: ReplicaView }>>();
  for (const [node, url] of nodes) {
    for (const view of await replicasOf(url)) {
      if (view.topic !== topic) continue;
      const list = byPartition.get(view.partition) ?? [];
      list.push({ node, view });
      byPartition.set(view.partition, list);
    }
  }
  const examples: string[] = [];
  let violations = 0;
  for (const [partition, replicas] of [...byPartition].sort((a, b) => a[0] - b[0])) {
    const upTo = Math.min(...replicas.map((r) => r.view.highWatermark));
    const sums = await Promise.all(replicas.map(async ({ node }) => {
      const view = (await replicasOf(nodes.get(node)!, upTo))
        .find((v) => v.topic === topic && v.partition === partition);
      return { node, crc: view?.checksum.crc32c, upTo: view?.checksum.upTo };
    }));
    if (new Set(sums.map((s) => `${s.upTo}:${s.crc}`)).size > 1) {
      violations++;
      examples.push(
        `${topic}/${partition} up to ${upTo}: ${
          sums.map((s) => `node ${s.node} crc ${s.crc} (upTo ${s.upTo})`).join(", ")
        }`,
      );
    }
  }
  return { name: "replicas differing below the HW", violations, examples: examples.slice(0, 10) };
}
