import assert from "node:assert/strict";
import { decodeRecordBatches, readBatchHeader } from "@strom/client";
import type { ReplicaManager } from "./replica_manager.ts";
import type { StromError } from "@strom/client";
import {
  makeImage,
  partitionState,
  TestCluster,
  textBatch,
  waitFor,
  withCluster,
} from "./_test_cluster.ts";
import { ReplicaManager as Manager } from "./replica_manager.ts";
import { SimDisk } from "../storage/sim_disk.ts";
import type { Disk } from "../storage/disk.ts";
import { createLogger } from "../log.ts";
import {
  HW_CHECKPOINT_FILE,
  LOG_OPENS_CONCURRENT_MAX,
  PRODUCER_SNAPSHOT_FILE,
  SEQUENCE_GAP_WAIT_MS_MAX,
  SEQUENCE_GAP_WAITERS_MAX,
} from "./config.ts";
import { concatBytes } from "../concat_bytes.ts";

const TOPIC = "orders";

function rf3Image(configs: Record<string, string> = {}, isr?: number[]) {
  return makeImage(1, [1, 2, 3], [{
    name: TOPIC,
    configs: { "min.insync.replicas": "2", ...configs },
    partitions: [partitionState([1, 2, 3], 1, 0, { isr })],
  }]);
}

/** Reads partition 0 of {@link TOPIC} from offset 0 on `manager`, without waiting. */
function readFromStart(manager: ReplicaManager) {
  return manager.fetch({
    topic: TOPIC,
    partition: 0,
    offset: 0,
    maxBytes: 1 << 20,
    maxWaitMs: 0,
    minBytes: 1,
  });
}

async function valuesOf(bytes: Uint8Array): Promise<string[]> {
  const out: string[] = [];
  for (const b of await decodeRecordBatches(bytes)) {
    for (const r of b.records) out.push(new TextDecoder().decode(r.value!));
  }
  return out;
}

async function checksums(cluster: TestCluster, upTo = Number.MAX_SAFE_INTEGER) {
  const out: { id: number; leo: number; hw: number; crc: number }[] = [];
  for (const [id, m] of cluster.managers) {
    const { replicas } = await m.replicaDiagnostics(upTo);
    const r = replicas[0] as {
      logEndOffset: number;
      highWatermark: number;
      checksum: { crc32c: number };
    };
    out.push({ id, leo: r.logEndOffset, hw: r.highWatermark, crc: r.checksum.crc32c });
  }
  return out;
}

Deno.test("reconciliation opens a leader and two followers, and acks=all completes once followers fetch", async () => {
  await withCluster([1, 2, 3], rf3Image(), async (cluster) => {
    const [leader, f2, f3] = [1, 2, 3].map((id) => cluster.managers.get(id)!);
    assert.equal(leader.replica(TOPIC, 0)?.role, "leader");
    assert.equal(f2.replica(TOPIC, 0)?.role, "follower");
    assert.equal(f3.replica(TOPIC, 0)?.role, "follower");
    const result = await leader.produce({
      topic: TOPIC,
      partition: 0,
      batches: textBatch(["a", "b", "c"]),
      acks: "all",
      timeoutMs: 5_000,
    });
    assert.deepEqual(
      { base: result.baseOffset, last: result.lastOffset, count: result.count },
      { base: 0, last: 2, count: 3 },
    );
    assert.ok(leader.replica(TOPIC, 0)!.highWatermark >= 3, "acks=all answered below the HW");
    const fetched = await readFromStart(leader);
    assert.deepEqual(await valuesOf(fetched.batches), ["a", "b", "c"]);
    await waitFor("followers to learn the HW", async () => {
      const sums = await checksums(cluster);
      return sums.every((s) => s.hw === 3 && s.crc === sums[0].crc);
    });
  });
});

Deno.test("a follower fetch with omitUnchanged leaves out partitions with nothing new, and only those", async () => {
  await withCluster([1, 2, 3], rf3Image(), async (cluster) => {
    const leader = cluster.managers.get(1)!;
    await leader.produce({
      topic: TOPIC,
      partition: 0,
      batches: textBatch(["a", "b", "c"]),
      acks: "all",
      timeoutMs: 5_000,
    });
    const epoch = leader.replica(TOPIC, 0)!.leaderEpoch;
    await waitFor(
      "the HW at 3",
      () => Promise.resolve(leader.replica(TOPIC, 0)!.highWatermark === 3),
    );
    const fetch = (p: { fetchOffset: number; highWatermark: number }, omitUnchanged?: boolean) =>
      leader.handleReplicaFetch({
        replicaId: 2,
        maxWaitMs: 0,
        ...(omitUnchanged === undefined ? {} : { omitUnchanged }),
        partitions: [
          { topic: TOPIC, partition: 0, currentLeaderEpoch: epoch, lastFetchedEpoch: epoch, ...p },
          // Unknown here: an error is news, never left out.
          {
            topic: "gone",
            partition: 0,
            currentLeaderEpoch: 0,
            lastFetchedEpoch: -1,
            fetchOffset: 0,
            highWatermark: 0,
          },
        ],
      });
    const caughtUp = { fetchOffset: 3, highWatermark: 3 };
    const idle = await fetch(caughtUp, true);
    assert.deepEqual(idle.partitions.map((p) => [p.topic, p.kind]), [["gone", "error"]]);
    // Without the flag (an older follower) every partition is answered.
    const all = await fetch(caughtUp);
    assert.deepEqual(all.partitions.map((p) => [p.topic, p.kind]), [
      [TOPIC, "read"],
      ["gone", "error"],
    ]);
    // A newer HW, or records past the fetch offset, are news.
    const staleHw = await fetch({ fetchOffset: 3, highWatermark: 2 }, true);
    assert.deepEqual(staleHw.partitions.map((p) => [p.topic, p.highWatermark]), [
      [TOPIC, 3],
      ["gone", -1],
    ]);
    const behind = await fetch({ fetchOffset: 0, highWatermark: 3 }, true);
    assert.equal(behind.partitions[0].topic, TOPIC);
    assert.deepEqual(await valuesOf(concatBytes(behind.partitions[0].batches as Uint8Array[])), [
      "a",
      "b",
      "c",
    ]);
  });
});

Deno.test("a parked follower fetch is answered as soon as the ISR changes, not after its whole wait", async () => {
  // The leader takes a follower back into the ISR only when it fetches: a caught-up follower that
  // the controller dropped (its broker fenced for silence) must not wait out an idle long poll.
  const cluster = await TestCluster.start([1, 2, 3], rf3Image());
  const stopWaiting = new AbortController();
  try {
    const leader = cluster.managers.get(1)!;
    const epoch = leader.replica(TOPIC, 0)!.leaderEpoch;
    let answered = false;
    const parked = leader.handleReplicaFetch({
      replicaId: 3,
      maxWaitMs: 30_000,
      omitUnchanged: true,
      partitions: [{
        topic: TOPIC,
        partition: 0,
        currentLeaderEpoch: epoch,
        lastFetchedEpoch: -1,
        fetchOffset: 0,
        highWatermark: 0,
      }],
    }, stopWaiting.signal).finally(() => answered = true);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(answered, false, "an idle fetch at the log end stays parked");
    const state = cluster.state(TOPIC, 0);
    cluster.changeWithoutPublishing(TOPIC, 0, {
      ...state,
      isr: [1, 2],
      partitionEpoch: state.partitionEpoch + 1,
    });
    await cluster.publish({ ...cluster.image, offset: cluster.image.offset + 1 });
    await waitFor("the parked fetch to be answered", () => answered);
    // Nothing new to read: the partition is left out, and the follower simply fetches again.
    assert.deepEqual((await parked).partitions, []);
  } finally {
    stopWaiting.abort();
    await cluster.stop();
  }
});

Deno.test("acks=all is refused with NOT_ENOUGH_REPLICAS when the ISR is below min.insync.replicas, appending nothing", async () => {
  // Paused from the start: a fetch before the pause would let the leader propose adding them back.
  await withCluster([1, 2, 3], rf3Image({}, [1]), { paused: [2, 3] }, async (cluster) => {
    const leader = cluster.managers.get(1)!;
    await assert.rejects(
      leader.produce({
        topic: TOPIC,
        partition: 0,
        batches: textBatch(["x"]),
        acks: "all",
        timeoutMs: 1_000,
      }),
      (e: StromError) => e.code === "NOT_ENOUGH_REPLICAS",
    );
    assert.equal(leader.replica(TOPIC, 0)!.log.logEndOffset, 0);
    const one = await leader.produce({
      topic: TOPIC,
      partition: 0,
      batches: textBatch(["y"]),
      acks: "1",
      timeoutMs: 1_000,
    });
    assert.equal(one.baseOffset, 0, "acks=1 still works with a short ISR");
  });
});

Deno.test("a follower refuses produce with NOT_LEADER_OR_FOLLOWER and names the leader", async () => {
  await withCluster([1, 2, 3], rf3Image(), async (cluster) => {
    await assert.rejects(
      cluster.managers.get(2)!.produce({
        topic: TOPIC,
        partition: 0,
        batches: textBatch(["x"]),
        acks: "1",
        timeoutMs: 1_000,
      }),
      (e: StromError) =>
        e.code === "NOT_LEADER_OR_FOLLOWER" && e.leader?.id === 1 &&
        e.leader.url === "http://127.0.0.1:9092" &&
        // An answer, built by the thousand while leaders move: no stack captured.
        !/\n\s+at /.test(e.stack ?? ""),
    );
    await assert.rejects(
      cluster.managers.get(1)!.produce({
        topic: "nope",
        partition: 0,
        batches: textBatch(["x"]),
        acks: "1",
        timeoutMs: 1_000,
      }),
      (e: StromError) => e.code === "UNKNOWN_TOPIC_OR_PARTITION",
    );
  });
});

Deno.test("acks=all records survive a leader change, a diverged old leader truncates, and replicas converge", async () => {
  await withCluster([1, 2, 3], rf3Image(), async (cluster) => {
    const m = (id: number) => cluster.managers.get(id)!;
    const acked: string[] = [];
    for (let i = 0; i < 5; i++) {
      await m(1).produce({
        topic: TOPIC,
        partition: 0,
        batches: textBatch([`v${i}`]),
        acks: "all",
        timeoutMs: 5_000,
      });
      acked.push(`v${i}`);
    }
    // The leader is cut off; it still takes acks=1 writes no follower ever sees.
    cluster.paused.add(1);
    await new Promise((r) => setTimeout(r, 150));
    await m(1).produce({
      topic: TOPIC,
      partition: 0,
      batches: textBatch(["lost1", "lost2"]),
      acks: "1",
      timeoutMs: 1_000,
    });
    assert.equal(m(1).replica(TOPIC, 0)!.log.logEndOffset, 7);
    await cluster.elect(TOPIC, 0, 2, [2, 3]);
    assert.equal(m(2).replica(TOPIC, 0)!.role, "leader");
    assert.equal(m(1).replica(TOPIC, 0)!.role, "follower");
    for (let i = 5; i < 8; i++) {
      await m(2).produce({
        topic: TOPIC,
        partition: 0,
        batches: textBatch([`v${i}`]),
        acks: "all",
        timeoutMs: 5_000,
      });
      acked.push(`v${i}`);
    }
    cluster.paused.delete(1);
    await waitFor("the old leader to truncate, catch up and rejoin the ISR", () => {
      return cluster.state(TOPIC, 0).isr.includes(1) &&
        m(1).replica(TOPIC, 0)!.log.logEndOffset === 8;
    });
    const fetched = await readFromStart(m(2));
    assert.deepEqual(await valuesOf(fetched.batches), acked);
    await waitFor("all replicas to agree up to the HW", async () => {
      const sums = await checksums(cluster);
      return sums.every((s) => s.leo === 8 && s.hw === 8 && s.crc === sums[0].crc);
    });
  });
});

Deno.test("a follower that stops fetching leaves the ISR after the lag time and rejoins once caught up", async () => {
  await withCluster([1, 2, 3], rf3Image(), { replicaLagTimeMaxMs: 300 }, async (cluster) => {
    const leader = cluster.managers.get(1)!;
    cluster.paused.add(3);
    const produced = leader.produce({
      topic: TOPIC,
      partition: 0,
      batches: textBatch(["a"]),
      acks: "all",
      timeoutMs: 5_000,
    });
    await waitFor("broker 3 to leave the ISR", () => !cluster.state(TOPIC, 0).isr.includes(3));
    assert.equal((await produced).baseOffset, 0, "acks=all completes once the ISR shrank");
    assert.deepEqual(cluster.alterRequests[0].isr, [1, 2]);
    cluster.paused.delete(3);
    await waitFor("broker 3 to rejoin", () => cluster.state(TOPIC, 0).isr.includes(3));
    assert.deepEqual(cluster.state(TOPIC, 0).isr, [1, 2, 3]);
  });
});

Deno.test("ISR changes of many partitions go to the controller in few batched requests; a stale one fails alone", async () => {
  const count = 40;
  const image = makeImage(1, [1, 2, 3], [{
    name: TOPIC,
    partitions: Array.from({ length: count }, () => partitionState([1, 2, 3], 1, 0)),
  }]);
  await withCluster([1, 2, 3], image, { replicaLagTimeMaxMs: 300 }, async (cluster) => {
    const leader = cluster.managers.get(1)!;
    // Partition 5's partition epoch moved on at the controller, unknown to the brokers.
    const stale = cluster.state(TOPIC, 5);
    cluster.changeWithoutPublishing(TOPIC, 5, { ...stale, partitionEpoch: 1 });
    cluster.paused.add(3);
    // All at once: one after another, on a loaded machine, the appends could
    // spread over many ISR checks (every 30 ms here) and so over many requests.
    await Promise.all(Array.from({ length: count }, (_, p) =>
      leader.produce({
        topic: TOPIC,
        partition: p,
        batches: textBatch([`r${p}`]),
        acks: "1",
        timeoutMs: 5_000,
      })));
    const others = Array.from({ length: count }, (_, p) => p).filter((p) => p !== 5);
    await waitFor(
      "broker 3 to leave every ISR but partition 5's",
      () => others.every((p) => !cluster.state(TOPIC, p).isr.includes(3)),
    );
    assert.ok(cluster.state(TOPIC, 5).isr.includes(3), "the stale change was refused");
    const batches = cluster.alterBatches.length;
    assert.ok(batches <= 8, `${batches} requests for ${count} partitions: ${cluster.alterBatches}`);
    assert.ok(cluster.alterBatches.some((n) => n > 1), `batches: ${cluster.alterBatches}`);
    assert.equal(leader.alterPartitionBatchesSent, batches);
    // Once the brokers learn partition 5's epoch, its leader proposes again and it shrinks too.
    await cluster.publish(cluster.image);
    await waitFor("partition 5 to shrink", () => !cluster.state(TOPIC, 5).isr.includes(3));
    cluster.paused.delete(3);
    const before = cluster.alterBatches.length;
    await waitFor(
      "broker 3 to rejoin every ISR",
      () =>
        Array.from({ length: count }, (_, p) => cluster.state(TOPIC, p).isr.includes(3)).every(
          Boolean,
        ),
    );
    const rejoin = cluster.alterBatches.slice(before);
    assert.ok(rejoin.length <= 8, `${rejoin.length} requests to rejoin ${count} ISRs: ${rejoin}`);
  });
});

Deno.test("acks=all times out with REQUEST_TIMED_OUT and an unknown outcome when followers never fetch", async () => {
  await withCluster([1, 2, 3], rf3Image(), { replicaLagTimeMaxMs: 60_000 }, async (cluster) => {
    cluster.paused.add(2).add(3);
    await assert.rejects(
      cluster.managers.get(1)!.produce({
        topic: TOPIC,
        partition: 0,
        batches: textBatch(["a"]),
        acks: "all",
        timeoutMs: 150,
      }),
      (e: StromError) => e.code === "REQUEST_TIMED_OUT" && e.details?.outcome === "unknown",
    );
  });
});

Deno.test("a leader that loses leadership fails its waiting acks=all requests with NOT_LEADER_OR_FOLLOWER", async () => {
  await withCluster([1, 2, 3], rf3Image(), { replicaLagTimeMaxMs: 60_000 }, async (cluster) => {
    cluster.paused.add(2).add(3);
    const waiting = cluster.managers.get(1)!.produce({
      topic: TOPIC,
      partition: 0,
      batches: textBatch(["a"]),
      acks: "all",
      timeoutMs: 10_000,
    });
    const outcome = assert.rejects(
      waiting,
      (e: StromError) => e.code === "NOT_LEADER_OR_FOLLOWER",
    );
    await cluster.elect(TOPIC, 0, 2, [2, 3]);
    await outcome;
  });
});

function rf1Image(configs: Record<string, string> = {}) {
  return makeImage(1, [1], [{
    name: TOPIC,
    configs: { "min.insync.replicas": "1", ...configs },
    partitions: [partitionState([1], 1, 0)],
  }]);
}

const produce = (
  m: ReplicaManager,
  batches: Uint8Array,
  acks: "0" | "1" | "all" = "all",
) => m.produce({ topic: TOPIC, partition: 0, batches, acks, timeoutMs: 5_000 });

Deno.test("an idempotent retry of one of the last batches answers its original offsets; a gap is OUT_OF_ORDER_SEQUENCE_NUMBER", async () => {
  await withCluster([1], rf1Image(), async (cluster) => {
    const m = cluster.managers.get(1)!;
    const p = (seq: number, values: string[]) =>
      textBatch(values, { producerId: 42, producerEpoch: 0, baseSequence: seq });
    const first = await produce(m, p(0, ["a", "b"]));
    await produce(m, p(2, ["c"]));
    const retry = await produce(m, p(0, ["a", "b"]));
    assert.deepEqual(
      [retry.baseOffset, retry.lastOffset, retry.duplicate],
      [first.baseOffset, first.lastOffset, true],
    );
    assert.equal(m.replica(TOPIC, 0)!.log.logEndOffset, 3, "the retry appended nothing");
    await assert.rejects(
      produce(m, p(5, ["z"])),
      (e: StromError) => e.code === "OUT_OF_ORDER_SEQUENCE_NUMBER",
    );
    await assert.rejects(
      produce(m, textBatch(["old"], { producerId: 42, producerEpoch: -2, baseSequence: 3 })),
    );
  });
});

Deno.test("an idempotent batch that overtakes the one before it waits for it and lands after it", async () => {
  await withCluster([1], rf1Image(), async (cluster) => {
    const m = cluster.managers.get(1)!;
    const log = () => m.replica(TOPIC, 0)!.log;
    const p = (seq: number, values: string[]) =>
      textBatch(values, { producerId: 42, producerEpoch: 0, baseSequence: seq });
    await produce(m, p(0, ["a"]));
    // Two in-flight requests of one producer, the second (sequence 2) reaching the leader first,
    // as concurrent HTTP/2 streams can.
    const second = produce(m, p(2, ["c"]));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(log().logEndOffset, 1, "the overtaking batch waits for sequence 1");
    const first = await produce(m, p(1, ["b"]));
    const overtook = await second;
    assert.deepEqual([first.baseOffset, overtook.baseOffset, overtook.duplicate], [1, 2, false]);
    const fetched = await readFromStart(m);
    assert.deepEqual(await valuesOf(fetched.batches), ["a", "b", "c"]);
    // A predecessor that never comes: refused after the bounded wait, nothing appended.
    const started = Date.now();
    await assert.rejects(
      produce(m, p(9, ["z"])),
      (e: StromError) => e.code === "OUT_OF_ORDER_SEQUENCE_NUMBER",
    );
    assert.ok(Date.now() - started >= SEQUENCE_GAP_WAIT_MS_MAX - 50, "refused without waiting");
    assert.equal(log().logEndOffset, 3);
    // Batches that can never fit (behind the expected sequence) are refused at once.
    const quick = Date.now();
    await assert.rejects(
      produce(m, p(1, ["b", "x"])),
      (e: StromError) => e.code === "OUT_OF_ORDER_SEQUENCE_NUMBER",
    );
    assert.ok(Date.now() - quick < SEQUENCE_GAP_WAIT_MS_MAX, "a stale batch waited for nothing");
  });
});

Deno.test("a new producer's later batch that overtakes its batch 0 waits for it; without batch 0 it is accepted after the wait", async () => {
  await withCluster([1], rf1Image(), async (cluster) => {
    const m = cluster.managers.get(1)!;
    const p = (producerId: number, seq: number, values: string[]) =>
      textBatch(values, { producerId, producerEpoch: 0, baseSequence: seq });
    const second = produce(m, p(42, 1, ["b"]));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(m.replica(TOPIC, 0)!.log.logEndOffset, 0, "held for batch 0");
    const first = await produce(m, p(42, 0, ["a"]));
    assert.deepEqual([first.baseOffset, (await second).baseOffset], [0, 1]);
    // A producer whose earlier state expired (Kafka's KIP-360 rule): accepted after the wait.
    const started = Date.now();
    const expired = await produce(m, p(43, 17, ["z"]));
    assert.equal(expired.baseOffset, 2);
    assert.ok(Date.now() - started >= SEQUENCE_GAP_WAIT_MS_MAX - 50, "accepted without waiting");
  });
});

Deno.test("past SEQUENCE_GAP_WAITERS_MAX waiting requests a batch ahead is refused at once, not appended out of order", async () => {
  await withCluster([1], rf1Image(), async (cluster) => {
    const m = cluster.managers.get(1)!;
    const ahead = (producerId: number) =>
      produce(m, textBatch(["later"], { producerId, producerEpoch: 0, baseSequence: 1 }));
    const waiting = Array.from({ length: SEQUENCE_GAP_WAITERS_MAX }, (_, i) => ahead(100 + i));
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await assert.rejects(ahead(999), (e: StromError) => e.code === "OUT_OF_ORDER_SEQUENCE_NUMBER");
    assert.ok(
      Date.now() - started < SEQUENCE_GAP_WAIT_MS_MAX,
      "it waited although the set is full",
    );
    assert.equal(m.replica(TOPIC, 0)!.log.logEndOffset, 0, "nothing appended ahead of batch 0");
    // The waiting ones, after the wait, fall back to Kafka's rule for unknown producers.
    const done = await Promise.all(waiting);
    assert.equal(done.length, SEQUENCE_GAP_WAITERS_MAX);
    assert.equal(m.replica(TOPIC, 0)!.log.logEndOffset, SEQUENCE_GAP_WAITERS_MAX);
  });
});

Deno.test("producer state survives a leader change: the new leader recognises a retry", async () => {
  await withCluster([1, 2, 3], rf3Image(), async (cluster) => {
    const batch = () => textBatch(["once"], { producerId: 7, producerEpoch: 0, baseSequence: 0 });
    const first = await produce(cluster.managers.get(1)!, batch());
    await waitFor(
      "followers to replicate",
      () => cluster.managers.get(2)!.replica(TOPIC, 0)!.log.logEndOffset === 1,
    );
    await cluster.elect(TOPIC, 0, 2);
    const retry = await produce(cluster.managers.get(2)!, batch());
    assert.equal(retry.duplicate, true);
    assert.equal(retry.baseOffset, first.baseOffset);
    assert.equal(cluster.managers.get(2)!.replica(TOPIC, 0)!.log.logEndOffset, 1);
  });
});

Deno.test("a retry older than the last five batches is acknowledged as a duplicate, never appended again", async () => {
  // The chaos suite's duplicates: a producer's batch reached the old leader (and the new one by
  // replication) unacknowledged; five later batches went to the new leader; the retry of the
  // first must not be refused as out of order (the producer then re-sent it under a new id).
  await withCluster([1], rf1Image(), async (cluster) => {
    const m = cluster.managers.get(1)!;
    const p = (seq: number) =>
      textBatch([`v${seq}`], { producerId: 42, producerEpoch: 0, baseSequence: seq });
    for (let seq = 0; seq < 7; seq++) await produce(m, p(seq));
    const retry = await produce(m, p(1));
    assert.deepEqual([retry.baseOffset, retry.lastOffset, retry.duplicate], [-1, -1, true]);
    assert.equal(m.replica(TOPIC, 0)!.log.logEndOffset, 7, "the retry appended nothing");
  });
});

Deno.test("a consumer fetch at the HW long-polls until a produce arrives, and ends early when aborted", async () => {
  await withCluster([1], rf1Image(), async (cluster) => {
    const m = cluster.managers.get(1)!;
    const started = Date.now();
    const waiting = m.fetch({
      topic: TOPIC,
      partition: 0,
      offset: 0,
      maxBytes: 1 << 20,
      maxWaitMs: 5_000,
      minBytes: 1,
    });
    await new Promise((r) => setTimeout(r, 50));
    await produce(m, textBatch(["late"]), "1");
    const got = await waiting;
    assert.deepEqual(await valuesOf(got.batches), ["late"]);
    assert.equal(got.nextOffset, 1);
    assert.ok(Date.now() - started < 4_000, "answered by the produce, not the deadline");

    const abort = new AbortController();
    const aborted = m.fetch({
      topic: TOPIC,
      partition: 0,
      offset: 1,
      maxBytes: 1 << 20,
      maxWaitMs: 5_000,
      minBytes: 1,
      signal: abort.signal,
    });
    setTimeout(() => abort.abort(), 30);
    assert.equal((await aborted).batches.length, 0);
    assert.ok(Date.now() - started < 4_000, "the abort ended the wait");
  });
});

Deno.test("fetch outside the log is OFFSET_OUT_OF_RANGE with the valid range; listOffset answers earliest, latest and by time", async () => {
  await withCluster([1], rf1Image(), async (cluster) => {
    const m = cluster.managers.get(1)!;
    await produce(m, textBatch(["a", "b"]));
    await assert.rejects(
      m.fetch({ topic: TOPIC, partition: 0, offset: 9, maxBytes: 100, maxWaitMs: 0, minBytes: 1 }),
      (e: StromError) =>
        e.code === "OFFSET_OUT_OF_RANGE" && e.details?.logStartOffset === 0 &&
        e.details?.highWatermark === 2 && e.details?.logEndOffset === 2,
    );
    assert.equal((await m.listOffset(TOPIC, 0, "earliest")).offset, 0);
    assert.equal((await m.listOffset(TOPIC, 0, "latest")).offset, 2);
    assert.equal((await m.listOffset(TOPIC, 0, { timestampMs: 500 })).offset, 0);
    assert.equal((await m.listOffset(TOPIC, 0, { timestampMs: 99_999 })).offset, null);
  });
});

Deno.test("the HW is checkpointed on stop and reloaded on restart; the leader serves it at once", async () => {
  const first = await TestCluster.start([1], rf1Image());
  const dir = first.dirs[0];
  try {
    await produce(first.managers.get(1)!, textBatch(["a", "b", "c"]));
    await first.stop({ keepDirs: true });
    const again = await TestCluster.start([1], rf1Image(), { dirs: [dir] });
    try {
      const r = again.managers.get(1)!.replica(TOPIC, 0)!;
      assert.equal(r.log.logEndOffset, 3);
      assert.equal(r.highWatermark, 3);
      assert.equal((await again.managers.get(1)!.listOffset(TOPIC, 0, "latest")).offset, 3);
    } finally {
      await again.stop({ keepDirs: true });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkpoint() rewrites the HW checkpoint and producer snapshots only when they changed", async () => {
  await withCluster([1], rf1Image(), async (cluster) => {
    const m = cluster.managers.get(1)!;
    const exists = (path: string) =>
      Deno.stat(path).then(() => true, (e) => {
        if (e instanceof Deno.errors.NotFound) return false;
        throw e;
      });
    const hwFile = `${cluster.dirs[0]}/${HW_CHECKPOINT_FILE}`;
    const snapshotFile = `${m.replica(TOPIC, 0)!.log.dir}/${PRODUCER_SNAPSHOT_FILE}`;
    // An empty partition needs no producer snapshot: a rebuild starts from its log start anyway.
    await m.checkpoint();
    assert.deepEqual([await exists(hwFile), await exists(snapshotFile)], [true, false]);
    await produce(m, textBatch(["a"]));
    await m.checkpoint();
    assert.deepEqual([await exists(hwFile), await exists(snapshotFile)], [true, true]);
    // Removed behind its back: an unchanged checkpoint writes nothing.
    await Deno.remove(hwFile);
    await Deno.remove(snapshotFile);
    await m.checkpoint();
    assert.deepEqual([await exists(hwFile), await exists(snapshotFile)], [false, false]);
    // A new record moves both.
    await produce(m, textBatch(["b"]));
    await m.checkpoint();
    assert.deepEqual([await exists(hwFile), await exists(snapshotFile)], [true, true]);
    assert.match(await Deno.readTextFile(hwFile), new RegExp(`^${TOPIC} 0 2$`, "m"));
  });
});

Deno.test("an empty partition gets no producer snapshot, at checkpoints or at stop; one with records does", async () => {
  const first = await TestCluster.start([1], rf1Image());
  const dir = first.dirs[0];
  const snapshotFile = `${
    first.managers.get(1)!.replica(TOPIC, 0)!.log.dir
  }/${PRODUCER_SNAPSHOT_FILE}`;
  const exists = () => Deno.stat(snapshotFile).then(() => true, () => false);
  try {
    await first.managers.get(1)!.checkpoint();
    await first.stop({ keepDirs: true });
    assert.equal(await exists(), false);
    const again = await TestCluster.start([1], rf1Image(), { dirs: [dir] });
    await produce(again.managers.get(1)!, textBatch(["a"]));
    await again.stop({ keepDirs: true });
    assert.equal(await exists(), true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an unreadable HW checkpoint is replaced at the first checkpoint, even with nothing to change", async () => {
  const dir = await Deno.makeTempDir({ prefix: "strom-rm-1-" });
  await Deno.writeTextFile(`${dir}/${HW_CHECKPOINT_FILE}`, "not a checkpoint\n");
  await withCluster([1], makeImage(1, [1], []), { dirs: [dir] }, async (cluster) => {
    await cluster.managers.get(1)!.checkpoint();
    assert.equal(await Deno.readTextFile(`${dir}/${HW_CHECKPOINT_FILE}`), "0\n0\n");
  });
});

Deno.test("a follower's HW after restart comes from the checkpoint, not zero", async () => {
  const cluster = await TestCluster.start(
    [1, 2],
    makeImage(1, [1, 2], [{
      name: TOPIC,
      configs: { "min.insync.replicas": "2" },
      partitions: [partitionState([1, 2], 1, 0)],
    }]),
  );
  const dirs = cluster.dirs;
  try {
    await produce(cluster.managers.get(1)!, textBatch(["a", "b"]));
    await waitFor(
      "the follower to learn HW 2",
      () => cluster.managers.get(2)!.replica(TOPIC, 0)!.highWatermark === 2,
    );
    await cluster.stop({ keepDirs: true });
    const again = await TestCluster.start([2], cluster.image, { dirs: [dirs[1]] });
    try {
      assert.equal(again.managers.get(2)!.replica(TOPIC, 0)!.highWatermark, 2);
    } finally {
      await again.stop({ keepDirs: true });
    }
  } finally {
    for (const d of dirs) await Deno.remove(d, { recursive: true });
  }
});

Deno.test("deleting the topic closes the replica and removes its directory; a stale image is ignored", async () => {
  await withCluster([1, 2, 3], rf3Image(), async (cluster) => {
    const m2 = cluster.managers.get(2)!;
    const dir = m2.replica(TOPIC, 0)!.log.dir;
    await cluster.elect(TOPIC, 0, 2);
    assert.equal(m2.replica(TOPIC, 0)!.leaderEpoch, 1);
    // An image from before the election must not roll the epoch back.
    await m2.applyImage({ ...rf3Image(), offset: cluster.image.offset + 1 });
    assert.equal(m2.replica(TOPIC, 0)!.leaderEpoch, 1);
    assert.equal(m2.replica(TOPIC, 0)!.role, "leader");
    await cluster.publish(makeImage(cluster.image.offset + 2, [1, 2, 3], []));
    assert.equal(m2.replica(TOPIC, 0), undefined);
    await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
  });
});

Deno.test("a LogAppendTime topic stamps the broker's time and reports it", async () => {
  await withCluster(
    [1],
    rf1Image({ "message.timestamp.type": "LogAppendTime" }),
    async (cluster) => {
      const m = cluster.managers.get(1)!;
      const before = Date.now();
      const r = await produce(m, textBatch(["t"]));
      assert.ok(r.logAppendTime >= before);
      const got = await readFromStart(m);
      assert.equal(readBatchHeader(got.batches).maxTimestamp, r.logAppendTime);
    },
  );
});

Deno.test("enforceRetention() deletes segments past the topic's retention.ms and raises the log start", async () => {
  await withCluster([1], rf1Image({ "retention.ms": "60000" }), async (cluster) => {
    const m = cluster.managers.get(1)!;
    // textBatch() stamps records at t=1000 ms (1970): long past a one-minute retention.
    await produce(m, textBatch(["old1"]));
    await produce(m, textBatch(["old2"]));
    assert.equal((await m.listOffset(TOPIC, 0, "earliest")).offset, 0);
    await m.enforceRetention();
    assert.equal((await m.listOffset(TOPIC, 0, "earliest")).offset, 2);
    assert.equal((await produce(m, textBatch(["new"]))).baseOffset, 2);
  });
});

Deno.test("a newer image is applied before the rest of a long batch of log opens", async () => {
  // Opening 10,000 logs takes seconds; a leadership change arriving meanwhile must not wait for
  // all of them. The disk holds every "slow" partition's open until the gate opens.
  const sim = new SimDisk({ seed: 3 });
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const disk: Disk = {
    open: (path, options) => sim.open(path, options),
    list: (dir) => sim.list(dir),
    mkdirp: async (dir) => {
      if (dir.includes("/slow-")) await gate;
      return sim.mkdirp(dir);
    },
    remove: (path) => sim.remove(path),
    rename: (from, to) => sim.rename(from, to),
    syncDir: (dir) => sim.syncDir(dir),
    sizeOf: (path) => sim.sizeOf(path),
  };
  const lines: string[] = [];
  const manager = new Manager({
    localBrokerId: 1,
    dataDir: "/data",
    disk,
    logger: createLogger({ level: "info", sink: (line) => lines.push(line) }),
    transport: () => Promise.reject(new Error("no other broker in this test")),
    alterPartitions: (requests) =>
      Promise.resolve(
        requests.map(() => ({ ok: false as const, error: new Error("unused") as never })),
      ),
    tickMs: 0,
    hwCheckpointIntervalMs: 0,
    retentionCheckIntervalMs: 0,
  });
  const slowCount = LOG_OPENS_CONCURRENT_MAX * 3;
  const topics = (fastLeader: number, offset: number) =>
    makeImage(offset, [1, 2, 3], [
      { name: "fast", partitions: [partitionState([1, 2, 3], fastLeader, offset - 1)] },
      {
        name: "slow",
        partitions: Array.from({ length: slowCount }, () => partitionState([1, 2, 3], 2, 0)),
      },
    ]);
  try {
    await manager.start();
    const first = manager.applyImage(topics(2, 1));
    await waitFor(
      "fast-0 to follow broker 2",
      () => manager.replica("fast", 0)?.role === "follower",
    );
    const second = manager.applyImage(topics(1, 2));
    release();
    await Promise.all([first, second]);
    assert.equal(manager.replica("fast", 0)?.role, "leader");
    assert.equal(manager.replicas.length, 1 + slowCount, "every log opened in the end");
    const led = lines.findIndex((l) => l.includes("became leader partition=fast-0"));
    const slowOpenedBefore = lines.slice(0, led).filter((l) =>
      l.includes("partition log opened") && l.includes("/slow-")
    ).length;
    assert.ok(
      slowOpenedBefore < slowCount,
      `fast-0 led after ${slowOpenedBefore} of ${slowCount} slow logs opened`,
    );
  } finally {
    await manager.stop();
  }
});

Deno.test("log opens cut short by newer images all happen, and a failed open is retried", async () => {
  // Reconciliation is incremental: a topic counts as done only when all its local partitions are
  // open. Opens left for a newer image, or that failed, must be picked up by the next image.
  const count = 3 * LOG_OPENS_CONCURRENT_MAX * 4;
  await withCluster([1, 2, 3], makeImage(1, [1, 2, 3], []), async (cluster) => {
    const image = makeImage(2, [1, 2, 3], [{
      name: "many",
      partitions: Array.from(
        { length: count },
        (_, i) => partitionState([1, 2, 3], 1 + (i % 3), 0),
      ),
    }]);
    const first = cluster.publish(image);
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 2));
      cluster.image = { ...cluster.image, offset: cluster.image.offset + 1 };
      for (const m of cluster.managers.values()) m.applyImage(cluster.image);
    }
    await first;
    await cluster.settle();
    for (const m of cluster.managers.values()) assert.equal(m.replicas.length, count);
  });

  const sim = new SimDisk({ seed: 5 });
  let failures = 1;
  const disk: Disk = {
    open: (path, options) => sim.open(path, options),
    list: (dir) => sim.list(dir),
    mkdirp: (dir) => {
      if (dir.endsWith("/flaky-0") && failures-- > 0) {
        return Promise.reject(new Error("injected: no space left on device"));
      }
      return sim.mkdirp(dir);
    },
    remove: (path) => sim.remove(path),
    rename: (from, to) => sim.rename(from, to),
    syncDir: (dir) => sim.syncDir(dir),
    sizeOf: (path) => sim.sizeOf(path),
  };
  const manager = new Manager({
    localBrokerId: 1,
    dataDir: "/data",
    disk,
    logger: createLogger({ level: "error", sink: () => {} }),
    transport: () => Promise.reject(new Error("no other broker in this test")),
    alterPartitions: () => Promise.reject(new Error("no controller in this test")),
    tickMs: 0,
    hwCheckpointIntervalMs: 0,
    retentionCheckIntervalMs: 0,
  });
  try {
    await manager.start();
    const flaky = makeImage(1, [1, 2, 3], [{
      name: "flaky",
      partitions: [partitionState([1, 2, 3], 1, 0)],
    }]);
    await manager.applyImage(flaky);
    assert.equal(manager.replica("flaky", 0), undefined, "the first open failed");
    await manager.applyImage({ ...flaky, offset: 2 });
    assert.equal(manager.replica("flaky", 0)?.role, "leader", "retried with the next image");
  } finally {
    await manager.stop();
  }
});

Deno.test("a follower fetch for a partition not hosted here names its leader, also after the leader moves", async () => {
  const image = makeImage(1, [1, 2, 3], [{
    name: TOPIC,
    partitions: [partitionState([2, 3], 2, 0)],
  }]);
  await withCluster([1, 2, 3], image, async (cluster) => {
    const fetchAtBroker1 = () =>
      cluster.managers.get(1)!.handleReplicaFetch({
        replicaId: 3,
        maxWaitMs: 0,
        partitions: [{
          topic: TOPIC,
          partition: 0,
          currentLeaderEpoch: 0,
          lastFetchedEpoch: -1,
          fetchOffset: 0,
          highWatermark: 0,
        }],
      });
    for (let round = 0; round < 2; round++) {
      const text = JSON.stringify(await fetchAtBroker1());
      assert.match(text, /NOT_LEADER_OR_FOLLOWER/);
      assert.match(text, /broker 2 leads it/);
    }
    await cluster.elect(TOPIC, 0, 3);
    const moved = JSON.stringify(await fetchAtBroker1());
    assert.match(moved, /broker 3 leads it/);
  });
});
