/**
 * ISR replication on real processes (issue 6): acks=all writes from several
 * idempotent producers while the partition leader is SIGKILLed again and
 * again, then read back exactly once at dense offsets; followers SIGSTOPped
 * out of the ISR and back; replicas identical up to the high watermark; and
 * the time from a leader's SIGKILL to the next acknowledged write.
 *
 * Every wait and loop is bounded; every process started is stopped by pid.
 */

import assert from "node:assert/strict";
import { encodeRecordBatchSync, H2Client } from "@strom/client";
import { launchCluster } from "./_harness/launcher.ts";
import type { LaunchedCluster } from "./_harness/launcher.ts";
import { requestJson } from "./_harness/http.ts";
import { ClusterNodes } from "./_harness/nodes.ts";
import { eventually } from "./_harness/process.ts";

const BATCH = "application/vnd.strom.batch";
const text = new TextEncoder();

/** One partition as `GET /v1/topics/{t}` describes it. */
interface PartitionView {
  partition: number;
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
}

/** A record the cluster acknowledged: where it said the record is. */
interface Acked {
  value: string;
  partition: number;
  offset: number;
}

/**
 * The client URL of the running node whose metadata image is newest. A node
 * restarted a moment ago answers from the image it had on disk, so tests must
 * not take its word for who leads.
 */
async function freshestUrl(nodes: ClusterNodes): Promise<string | undefined> {
  const answers = await Promise.all(
    nodes.liveUrls().map(async (url) => {
      const r = await requestJson(`${url}/v1/diagnostics/metadata`, { timeoutMs: 2_000 });
      return { url, offset: r.status === 200 ? r.body.offset as number : -1 };
    }),
  );
  const best = answers.sort((a, b) => b.offset - a.offset)[0];
  return best && best.offset >= 0 ? best.url : undefined;
}

/** The topic's partitions as the node with the newest metadata describes them. */
async function describe(nodes: ClusterNodes, topic: string): Promise<PartitionView[] | undefined> {
  const url = await freshestUrl(nodes);
  if (!url) return undefined;
  const r = await requestJson(`${url}/v1/topics/${topic}`, { timeoutMs: 2_000 });
  return r.status === 200 ? r.body.partitions : undefined;
}

/** Node `id`'s broker registration as the node with the newest metadata sees it. */
async function brokerState(
  nodes: ClusterNodes,
  id: number,
): Promise<{ epoch: number; fenced: boolean } | undefined> {
  const url = await freshestUrl(nodes);
  if (!url) return undefined;
  const c = await requestJson(`${url}/v1/cluster`, { timeoutMs: 2_000 });
  return c.body?.brokers?.find((b: { id: number }) => b.id === id);
}

async function partitionWhere(
  nodes: ClusterNodes,
  topic: string,
  partition: number,
  check: (p: PartitionView) => boolean,
  timeoutMs: number,
  what: string,
): Promise<PartitionView> {
  let found: PartitionView | undefined;
  await eventually(
    async () => {
      const p = (await describe(nodes, topic))?.[partition];
      if (p && check(p)) found = p;
      return found !== undefined;
    },
    timeoutMs,
    what,
  );
  return found!;
}

async function createTopic(nodes: ClusterNodes, name: string, partitions: number): Promise<void> {
  const r = await requestJson(`${nodes.liveUrls()[0]}/v1/topics`, {
    body: { name, partitions, replicationFactor: 3 },
    timeoutMs: 15_000,
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  for (let p = 0; p < partitions; p++) {
    await partitionWhere(
      nodes,
      name,
      p,
      (v) => v.leader > 0 && v.isr.length === 3,
      15_000,
      `${name}-${p} to have a leader and a full ISR`,
    );
  }
}

/** Whether node `id` itself says it leads the partition at `leaderEpoch` (diagnostics). */
async function leadsLocally(
  nodes: ClusterNodes,
  id: number,
  topic: string,
  p: PartitionView,
): Promise<boolean> {
  const r = await requestJson(`${nodes.clientUrl(id)}/v1/diagnostics/replicas?upTo=0`);
  return r.body?.replicas?.some((
    x: { topic: string; partition: number; role: string; leaderEpoch: number },
  ) =>
    x.topic === topic && x.partition === p.partition && x.role === "leader" &&
    x.leaderEpoch === p.leaderEpoch
  ) ?? false;
}

/** What one produce attempt got back. */
interface ProduceAnswer {
  status: number;
  // deno-lint-ignore no-explicit-any
  body: any;
}

async function produceBinary(
  http: H2Client,
  url: string,
  topic: string,
  partition: number,
  batch: Uint8Array,
  timeoutMs: number,
): Promise<ProduceAnswer> {
  try {
    const res = await http.request(url, {
      method: "POST",
      path: `/v1/topics/${topic}/partitions/${partition}/records?acks=all&timeoutMs=${timeoutMs}`,
      headers: { "content-type": BATCH },
      body: batch,
      timeoutMs: timeoutMs + 3_000,
    });
    const body = res.body.length ? JSON.parse(new TextDecoder().decode(res.body)) : null;
    return { status: res.status, body };
  } catch (e) {
    return { status: 0, body: { error: { code: "NETWORK", message: String(e) } } };
  }
}

/** Every record of a partition below its high watermark, read from the leader with JSON fetches. */
async function readAll(
  nodes: ClusterNodes,
  topic: string,
  partition: number,
): Promise<{ offset: number; value: string }[]> {
  const out: { offset: number; value: string }[] = [];
  let offset = 0;
  for (let round = 0; round < 1_000; round++) {
    const p = await partitionWhere(
      nodes,
      topic,
      partition,
      (v) => v.leader > 0,
      10_000,
      "a leader",
    );
    const r = await requestJson(
      `${
        nodes.clientUrl(p.leader)
      }/v1/topics/${topic}/partitions/${partition}/records?offset=${offset}&maxWaitMs=0&maxBytes=1048576`,
      { timeoutMs: 5_000 },
    );
    if (r.status !== 200) {
      await new Promise((res) => setTimeout(res, 100));
      continue;
    }
    for (const rec of r.body.records) out.push({ offset: rec.offset, value: rec.value });
    offset = r.body.nextOffset;
    if (offset >= r.body.highWatermark) return out;
  }
  throw new Error(`reading ${topic}-${partition} back did not finish in 1000 fetches`);
}

/** Checks what the cluster kept against what it acknowledged. */
function checkAcknowledged(
  kept: Map<number, { offset: number; value: string }[]>,
  acked: readonly Acked[],
): void {
  const where = new Map<string, { partition: number; offset: number }[]>();
  for (const [partition, records] of kept) {
    records.forEach((r, i) => {
      assert.equal(r.offset, i, `${partition}: offsets are dense from 0 (at index ${i})`);
      const list = where.get(r.value) ?? [];
      list.push({ partition, offset: r.offset });
      where.set(r.value, list);
    });
  }
  for (const [value, list] of where) {
    assert.equal(list.length, 1, `record ${value} is stored once, not at ${JSON.stringify(list)}`);
  }
  for (const a of acked) {
    assert.deepEqual(
      where.get(a.value),
      [{ partition: a.partition, offset: a.offset }],
      `acknowledged record ${a.value} is at partition ${a.partition} offset ${a.offset}`,
    );
  }
}

function summary(samples: number[]): string {
  const s = [...samples].sort((a, b) => a - b);
  const median = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return `min ${s[0].toFixed(0)} ms, median ${median.toFixed(0)} ms, max ${
    s[s.length - 1].toFixed(0)
  } ms (${s.length} samples)`;
}

/** Shared state of the producers and the killer in the leader-kill test. */
interface KillRun {
  readonly nodes: ClusterNodes;
  readonly topic: string;
  readonly partitions: number;
  readonly acked: Acked[];
  /** Believed leader URL per partition. */
  readonly leaders: (string | undefined)[];
  stop: boolean;
  readonly deadline: number;
  /** The current kill: its victim, when, and when the first write after it was acknowledged. */
  kill: { victim: number; atMs: number; firstAckMs?: number } | undefined;
  readonly failures: string[];
  /** Retries the leader recognised as already appended (answered `duplicate: true`). */
  duplicatesRecognised: number;
}

const RECORDS_PER_BATCH = 5;
const PRODUCE_TIMEOUT_MS = 4_000;
/** Attempts of one batch before a producer gives up on it (its outcome then stays unknown). */
const ATTEMPTS_MAX = 150;

async function leaderUrl(run: KillRun, partition: number, refresh: boolean): Promise<string> {
  if (!refresh && run.leaders[partition]) return run.leaders[partition]!;
  const p = (await describe(run.nodes, run.topic))?.[partition];
  const url = p && p.leader > 0 && run.nodes.running(p.leader)
    ? run.nodes.clientUrl(p.leader)
    : run.nodes.liveUrls()[0];
  run.leaders[partition] = url;
  return url;
}

/** One idempotent producer: one batch in flight, retried (same bytes) until acknowledged. */
async function producer(run: KillRun, index: number): Promise<number> {
  const http = new H2Client({ timeoutMs: PRODUCE_TIMEOUT_MS + 3_000 });
  try {
    let producerId = -1;
    for (let attempt = 0; producerId < 0 && attempt < 100; attempt++) {
      const url = run.nodes.liveUrls()[attempt % run.nodes.liveUrls().length];
      const r = await requestJson(`${url}/v1/producers`, { body: {}, timeoutMs: 5_000 });
      if (r.status === 200) producerId = r.body.producerId;
      else await new Promise((res) => setTimeout(res, 100));
    }
    if (producerId < 0) throw new Error(`producer ${index} got no producer id`);
    const sequences = new Array(run.partitions).fill(0);
    let batches = 0;
    while (!run.stop && Date.now() < run.deadline) {
      const partition = (index + batches) % run.partitions;
      const values = Array.from(
        { length: RECORDS_PER_BATCH },
        (_, i) => `p${index}-${partition}-${sequences[partition] + i}`,
      );
      const batch = encodeRecordBatchSync({
        records: values.map((v) => ({ value: text.encode(v) })),
        producerId,
        producerEpoch: 0,
        baseSequence: sequences[partition],
      });
      const baseOffset = await sendUntilAcked(run, http, partition, batch);
      if (baseOffset === undefined) return batches; // Outcome unknown: this producer stops.
      values.forEach((value, i) => run.acked.push({ value, partition, offset: baseOffset + i }));
      sequences[partition] += RECORDS_PER_BATCH;
      batches++;
    }
    return batches;
  } finally {
    await http.close();
  }
}

async function sendUntilAcked(
  run: KillRun,
  http: H2Client,
  partition: number,
  batch: Uint8Array,
): Promise<number | undefined> {
  let refresh = false;
  for (let attempt = 0; attempt < ATTEMPTS_MAX && Date.now() < run.deadline + 20_000; attempt++) {
    const url = await leaderUrl(run, partition, refresh);
    const sentAtMs = performance.now();
    const r = await produceBinary(http, url, run.topic, partition, batch, PRODUCE_TIMEOUT_MS);
    if (r.status === 200) {
      const kill = run.kill;
      if (
        kill && kill.firstAckMs === undefined && partition === 0 && sentAtMs > kill.atMs &&
        run.nodes.idOfUrl(url) !== kill.victim
      ) {
        kill.firstAckMs = performance.now();
      }
      if (r.body.duplicate === true) run.duplicatesRecognised++;
      return r.body.baseOffset;
    }
    const error = r.body?.error ?? { code: `HTTP ${r.status}` };
    const retriable = r.status === 0 || r.status === 421 || r.status === 503 || r.status === 504 ||
      r.status === 502 || error.code === "FENCED_LEADER_EPOCH";
    if (!retriable) {
      run.failures.push(`partition ${partition}: ${error.code}: ${error.message}`);
      return undefined;
    }
    if (error.leader?.url && run.nodes.running(error.leader.id)) {
      run.leaders[partition] = error.leader.url;
      refresh = false;
    } else {
      refresh = true;
    }
    await new Promise((res) => setTimeout(res, 50 + Math.min(attempt, 10) * 20));
  }
  return undefined;
}

Deno.test({
  name:
    "acks=all writes survive repeated leader SIGKILLs: each acknowledged record read back once, offsets dense, no duplicates",
  async fn() {
    const cluster: LaunchedCluster = await launchCluster({ nodes: 3 });
    const nodes = new ClusterNodes(cluster);
    const run: KillRun = {
      nodes,
      topic: "survive",
      partitions: 2,
      acked: [],
      leaders: [],
      stop: false,
      deadline: Date.now() + 90_000,
      kill: undefined,
      failures: [],
      duplicatesRecognised: 0,
    };
    let producers: Promise<number[]> | undefined;
    try {
      await createTopic(nodes, run.topic, run.partitions);
      producers = Promise.all([0, 1, 2].map((i) => producer(run, i)));
      const failoverMs: number[] = [];
      const KILLS = 4;
      for (let k = 0; k < KILLS && Date.now() < run.deadline; k++) {
        const ackedBefore = run.acked.length;
        await eventually(() => run.acked.length >= ackedBefore + 20, 20_000, "writes to flow");
        let p: PartitionView | undefined;
        await eventually(
          async () => {
            p = await partitionWhere(
              nodes,
              run.topic,
              0,
              (v) => v.leader > 0 && v.isr.length === 3,
              30_000,
              "partition 0 to have a full ISR before the next kill",
            );
            // The victim must itself say it leads: the describing node's image may lag a move.
            return await leadsLocally(nodes, p.leader, run.topic, p);
          },
          30_000,
          "the leader of partition 0 to confirm it leads",
        );
        const victim = p!.leader;
        run.kill = { victim, atMs: performance.now() };
        nodes.kill(victim);
        await eventually(
          () => run.kill?.firstAckMs !== undefined,
          30_000,
          `an acknowledged write after SIGKILL of leader ${victim}`,
        );
        failoverMs.push(run.kill.firstAckMs! - run.kill.atMs);
        console.log(
          `killed leader ${victim}: next acknowledged write after ${
            failoverMs.at(-1)!.toFixed(0)
          } ms`,
        );
        const before = await brokerState(nodes, victim);
        nodes.restart(victim);
        await eventually(
          async () => {
            const b = await brokerState(nodes, victim);
            return b !== undefined && !b.fenced && b.epoch > (before?.epoch ?? 0);
          },
          30_000,
          `restarted node ${victim} to be unfenced`,
        );
      }
      run.stop = true;
      const batches = await producers;
      producers = undefined;
      console.log(
        `leader failover (SIGKILL -> first acks=all write acknowledged): ${summary(failoverMs)}`,
      );
      console.log(
        `${run.acked.length} records acknowledged in ${
          batches.reduce((a, b) => a + b, 0)
        } batches by ${batches.length} producers; ${run.duplicatesRecognised} retries answered as duplicates`,
      );
      assert.deepEqual(run.failures, [], "no producer met a non-retriable error");
      assert.equal(failoverMs.length, KILLS);

      const maxAcked = new Map<number, number>();
      for (const a of run.acked) {
        maxAcked.set(a.partition, Math.max(maxAcked.get(a.partition) ?? -1, a.offset));
      }
      const kept = new Map<number, { offset: number; value: string }[]>();
      for (let partition = 0; partition < run.partitions; partition++) {
        // The high watermark covers every acknowledged offset once the new leader established it.
        await eventually(
          async () => {
            const records = await readAll(nodes, run.topic, partition);
            kept.set(partition, records);
            return records.length > (maxAcked.get(partition) ?? -1);
          },
          20_000,
          `the high watermark of partition ${partition} to cover every acknowledged offset`,
        );
      }
      checkAcknowledged(kept, run.acked);
    } catch (e) {
      console.error(
        `launcher output (last 80 lines):\n${cluster.output.lines.slice(-80).join("\n")}`,
      );
      console.error(nodes.restartedLogs());
      throw e;
    } finally {
      run.stop = true;
      await producers?.catch(() => {});
      await nodes.cleanup();
      await cluster.cleanup();
    }
  },
});

Deno.test({
  name:
    "paused followers leave the ISR, NOT_ENOUGH_REPLICAS acknowledges nothing, resumed followers rejoin and replicas converge",
  async fn() {
    // Five voters, so that pausing both followers of a partition leaves the metadata quorum a
    // majority: the controller can then fence them and shrink the ISR to the leader alone.
    const cluster: LaunchedCluster = await launchCluster({ nodes: 5 });
    const nodes = new ClusterNodes(cluster);
    const http = new H2Client({ timeoutMs: 10_000 });
    const topic = "pauses";
    const acked: Acked[] = [];
    const refused: string[] = [];
    let n = 0;
    const write = async (leader: number, timeoutMs = 5_000): Promise<ProduceAnswer> => {
      const value = `r${n++}`;
      const batch = encodeRecordBatchSync({ records: [{ value: text.encode(value) }] });
      const r = await produceBinary(http, nodes.clientUrl(leader), topic, 0, batch, timeoutMs);
      if (r.status === 200) acked.push({ value, partition: 0, offset: r.body.baseOffset });
      if (r.body?.error?.code === "NOT_ENOUGH_REPLICAS") refused.push(value);
      return r;
    };
    try {
      await createTopic(nodes, topic, 1);
      const start = (await describe(nodes, topic))![0];
      const leader = start.leader;
      const [f1, f2] = start.replicas.filter((id) => id !== leader);
      for (let i = 0; i < 10; i++) assert.equal((await write(leader)).status, 200);

      nodes.pause(f1);
      await partitionWhere(
        nodes,
        topic,
        0,
        (p) => !p.isr.includes(f1),
        30_000,
        `${f1} out of the ISR`,
      );
      for (let i = 0; i < 10; i++) {
        const r = await write(leader);
        assert.equal(r.status, 200, `writes continue with two replicas: ${JSON.stringify(r.body)}`);
      }

      nodes.pause(f2);
      await partitionWhere(
        nodes,
        topic,
        0,
        (p) => p.isr.length === 1 && p.isr[0] === leader,
        30_000,
        "the ISR to shrink to the leader",
      );
      // The leader may apply the shrink a moment after the node we asked: until then a write is
      // appended and times out (504, outcome unknown), which acknowledges nothing either.
      await eventually(
        async () => (await write(leader, 1_000)).status === 503,
        15_000,
        "the leader to refuse acks=all writes",
      );
      for (let i = 0; i < 5; i++) {
        const r = await write(leader, 1_000);
        assert.equal(r.status, 503, JSON.stringify(r.body));
        assert.equal(r.body.error.code, "NOT_ENOUGH_REPLICAS");
      }

      nodes.resume(f1);
      nodes.resume(f2);
      await partitionWhere(
        nodes,
        topic,
        0,
        (p) => p.isr.length === 3,
        40_000,
        "both followers to rejoin the ISR",
      );
      for (let i = 0; i < 10; i++) assert.equal((await write(leader)).status, 200);

      const kept = await readAll(nodes, topic, 0);
      checkAcknowledged(new Map([[0, kept]]), acked);
      const keptValues = new Set(kept.map((r) => r.value));
      for (const value of refused) {
        assert.ok(
          !keptValues.has(value),
          `${value} was refused with NOT_ENOUGH_REPLICAS, not stored`,
        );
      }

      // Every replica holds the same bytes up to the high watermark.
      const hw = kept.length;
      let checksums: unknown[] = [];
      await eventually(
        async () => {
          const answers = await Promise.all(
            start.replicas.map((id) =>
              requestJson(`${nodes.clientUrl(id)}/v1/diagnostics/replicas?upTo=${hw}`)
            ),
          );
          const mine = answers.map((a) =>
            a.body?.replicas?.find((r: { topic: string; partition: number }) =>
              r.topic === topic && r.partition === 0
            )
          );
          checksums = mine.map((m) => m?.checksum);
          return mine.every((m) => m && m.logEndOffset >= hw) &&
            new Set(checksums.map((c) => JSON.stringify(c))).size === 1;
        },
        20_000,
        "all replicas to report equal checksums up to the high watermark",
      );
      console.log(`replicas identical up to offset ${hw}: ${JSON.stringify(checksums[0])}`);
    } catch (e) {
      console.error(
        `launcher output (last 80 lines):\n${cluster.output.lines.slice(-80).join("\n")}`,
      );
      throw e;
    } finally {
      await http.close();
      await nodes.cleanup();
      await cluster.cleanup();
    }
  },
});
