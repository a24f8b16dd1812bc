import assert from "node:assert/strict";
import { createLogger } from "../log.ts";
import type { FollowerFetchRequest } from "../replica/follower_state.ts";
import { REPLICA_FETCH_PARTITIONS_MAX } from "./config.ts";
import type {
  ReplicaFetchPartitionResult,
  ReplicaFetchRequest,
  ReplicaFetchResponse,
} from "./fetch_wire.ts";
import type { PartitionReplica } from "./partition_replica.ts";
import { COLD_ROUNDS_SPARE, ReplicaFetcher } from "./replica_fetcher.ts";

const LEADER = 2;
const WAIT_MS = 40;

/** The part of a replica the fetcher uses: one fetch in flight, answers counted. */
class FakeReplica {
  readonly topic = "t";
  readonly label: string;
  followedLeaderId: number | undefined = LEADER;
  followerOutOfIsr = false;
  highWatermark = 0;
  inFlight: FollowerFetchRequest | undefined;
  answers = 0;
  records = 0;
  /** While set, applying an answer waits for it (a replica queue busy with something else). */
  hold: Promise<void> | undefined;
  #next = 1;
  constructor(readonly partition: number) {
    this.label = `t-${partition}`;
  }
  nextFollowerFetch(): FollowerFetchRequest | undefined {
    if (this.inFlight !== undefined) return undefined;
    this.inFlight = {
      requestId: this.#next++,
      leaderId: LEADER,
      replicaId: 1,
      currentLeaderEpoch: 0,
      fetchOffset: this.records,
      lastFetchedEpoch: -1,
    };
    return this.inFlight;
  }
  abandonFollowerFetch(req: FollowerFetchRequest): void {
    if (this.inFlight === req) this.inFlight = undefined;
  }
  async applyFollowerFetch(req: FollowerFetchRequest, r: ReplicaFetchPartitionResult) {
    assert.equal(this.inFlight, req, `${this.label}: an answer to the fetch in flight`);
    await this.hold;
    this.inFlight = undefined;
    this.answers++;
    this.records += r.batches.length;
  }
}

/** A leader that parks each request until one of its partitions has records, or WAIT_MS. */
class FakeLeader {
  /**
   * `answersAborted`: a cancelled request is answered (with what there is)
   * instead of failing, as when the answer races the cancel.
   */
  constructor(private readonly answersAborted = false) {}
  readonly requests: ReplicaFetchRequest[] = [];
  maxInFlight = 0;
  #inFlight = 0;
  get inFlight(): number {
    return this.#inFlight;
  }
  /** Records waiting per partition. */
  readonly pending = new Map<number, number>();
  readonly #wakers = new Set<() => void>();

  transport = async (
    leaderId: number,
    request: ReplicaFetchRequest,
    signal: AbortSignal,
  ): Promise<ReplicaFetchResponse> => {
    assert.equal(leaderId, LEADER);
    this.requests.push(request);
    this.#inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.#inFlight);
    try {
      const hasNews = () =>
        request.partitions.some((p) => (this.pending.get(p.partition) ?? 0) > 0);
      if (!hasNews()) {
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            this.#wakers.delete(check);
            signal.removeEventListener("abort", done);
            resolve();
          };
          const check = () => hasNews() && done();
          const timer = setTimeout(done, request.maxWaitMs);
          this.#wakers.add(check);
          signal.addEventListener("abort", done);
        });
      }
      if (signal.aborted && !this.answersAborted) throw new Error("aborted");
      return {
        partitions: request.partitions.map((p) => {
          const n = this.pending.get(p.partition) ?? 0;
          this.pending.delete(p.partition);
          return {
            topic: p.topic,
            partition: p.partition,
            kind: "read" as const,
            highWatermark: 0,
            logStartOffset: 0,
            batches: new Uint8Array(n),
          };
        }),
      };
    } finally {
      this.#inFlight--;
    }
  };

  /** Appends `n` records to a partition: a parked request holding it answers at once. */
  append(partition: number, n = 1): void {
    this.pending.set(partition, (this.pending.get(partition) ?? 0) + n);
    for (const check of [...this.#wakers]) check();
  }
}

function setup(count: number, hotKeepMs = 100, coldFetchWaitMs?: number, answersAborted = false) {
  const replicas = Array.from({ length: count }, (_, i) => new FakeReplica(i));
  const leader = new FakeLeader(answersAborted);
  const fetcher = new ReplicaFetcher(LEADER, {
    localBrokerId: 1,
    transport: leader.transport,
    replicas: () => replicas as unknown as PartitionReplica[],
    fetchWaitMs: WAIT_MS,
    ...(coldFetchWaitMs === undefined ? {} : { coldFetchWaitMs }),
    hotKeepMs,
    logger: createLogger({ sink: () => {} }),
  });
  return { replicas, leader, fetcher };
}

async function until(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

Deno.test("ReplicaFetcher keeps every partition parked on the leader, past 1,000 per request", async () => {
  const { replicas, leader, fetcher } = setup(2_500);
  fetcher.start();
  try {
    await until("every partition answered twice", () => replicas.every((r) => r.answers >= 2));
    assert.ok(
      leader.requests.every((r) => r.partitions.length <= REPLICA_FETCH_PARTITIONS_MAX),
      "no request is over the limit",
    );
    assert.ok(leader.maxInFlight >= 3, `${leader.maxInFlight} requests parked at once`);
    // The first requests cover all partitions once each.
    const first = leader.requests.slice(0, 3).flatMap((r) => r.partitions.map((p) => p.partition));
    assert.equal(new Set(first).size, 2_500);
    assert.equal(first.length, 2_500);
    // So a record for any partition, the last one included, is fetched right away.
    const before = leader.requests.length;
    leader.append(2_499);
    await until("the record of the last partition", () => replicas[2_499].records === 1);
    assert.ok(leader.requests.length - before <= 4, "no scan through the other partitions first");
  } finally {
    await fetcher.stop();
  }
});

Deno.test("ReplicaFetcher: a busy partition travels in rounds of its own", async () => {
  const { replicas, leader, fetcher } = setup(1_500, 60_000);
  fetcher.start();
  try {
    await until("every partition answered", () => replicas.every((r) => r.answers >= 1));
    for (let n = 1; n <= 5; n++) {
      leader.append(7);
      await until(`record ${n}`, () => replicas[7].records === n);
    }
    // After its first record, partition 7 is hot: its requests carry it alone.
    const withSeven = leader.requests.filter((r) => r.partitions.some((p) => p.partition === 7));
    const sizes = withSeven.slice(-4).map((r) => r.partitions.length);
    assert.deepEqual(sizes, [1, 1, 1, 1], `sizes of the last requests carrying partition 7`);
  } finally {
    await fetcher.stop();
  }
});

Deno.test("ReplicaFetcher: partitions that go quiet again share rounds instead of adding rounds", async () => {
  const { replicas, leader, fetcher } = setup(1_500);
  fetcher.start();
  try {
    await until("every partition answered", () => replicas.every((r) => r.answers >= 1));
    // Fifty partitions get a record each, then all go quiet.
    for (let i = 0; i < 50; i++) leader.append(i * 30);
    await until("the records", () => replicas.every((r, i) => r.records === (i % 30 ? 0 : 1)));
    const answered = replicas.map((r) => r.answers);
    await until(
      "every partition answered twice more",
      () => replicas.every((r, i) => r.answers >= answered[i] + 2),
    );
    // Quiet past the hot period, all are cold: at most COLD_ROUNDS_SPARE rounds more than full
    // ones need (2 for 1,500), however they went quiet.
    await new Promise((r) => setTimeout(r, 150));
    const answeredAgain = replicas.map((r) => r.answers);
    await until(
      "another answer each",
      () => replicas.every((r, i) => r.answers > answeredAgain[i]),
    );
    const parked: number[] = [];
    for (let i = 0; i < 20; i++) {
      parked.push(leader.inFlight);
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.ok(Math.max(...parked) <= 2 + COLD_ROUNDS_SPARE, `requests parked at once: ${parked}`);
  } finally {
    await fetcher.stop();
  }
  assert.ok(replicas.every((r) => r.inFlight === undefined));
});

for (const answersAborted of [false, true]) {
  Deno.test(
    `ReplicaFetcher: idle partitions that arrived one by one end up in few full cold rounds, not in hot ones${
      answersAborted ? " (cancelled requests answered, not failed)" : ""
    }`,
    async () => {
      // As when a broker opens 10,000 logs 16 at a time: the fetcher used to start a small cold round
      // for each handful, ran out of cold rounds, and left the rest cycling through hot rounds (the
      // short wait) for good, fetching idle partitions several times as often as the cold wait allows.
      const COLD_WAIT_MS = 400;
      // Merging cancels a parked round. A cancelled request that is answered anyway used to leave its
      // partitions applying when the merged round started; they came back to no room and cancelled
      // that one in turn, without end (CI ran out of memory).
      const { replicas, leader, fetcher } = setup(3_000, 20, COLD_WAIT_MS, answersAborted);
      const all = replicas.splice(0);
      fetcher.start();
      try {
        for (let i = 0; i < all.length; i += 50) {
          replicas.push(...all.slice(i, i + 50));
          fetcher.wake();
          await new Promise((r) => setTimeout(r, 3));
        }
        // Let every partition go cold and the rounds settle for two cold waits.
        await until("every partition answered", () => replicas.every((r) => r.answers >= 1));
        await new Promise((r) => setTimeout(r, 2 * COLD_WAIT_MS));
        const from = leader.requests.length;
        const answered = replicas.map((r) => r.answers);
        await new Promise((r) => setTimeout(r, 2 * COLD_WAIT_MS));
        const window = leader.requests.slice(from);
        const inHot = window.filter((r) => r.maxWaitMs === WAIT_MS)
          .reduce((n, r) => n + r.partitions.length, 0);
        assert.equal(inHot, 0, "idle partitions fetched in hot rounds");
        const perPartition = replicas.map((r, i) => r.answers - answered[i]);
        assert.ok(
          Math.max(...perPartition) <= 3,
          `answers per partition in two cold waits: up to ${Math.max(...perPartition)}`,
        );
        // Every partition is still asked for (parked on the leader), none starves.
        assert.ok(Math.min(...perPartition) >= 1, `some partition had no answer in two cold waits`);
        const parked: number[] = [];
        for (let i = 0; i < 10; i++) {
          parked.push(leader.inFlight);
          await new Promise((r) => setTimeout(r, 10));
        }
        assert.ok(
          Math.max(...parked) <= 3 + COLD_ROUNDS_SPARE,
          `requests parked at once: ${parked}`,
        );
      } finally {
        await fetcher.stop();
      }
      assert.ok(replicas.every((r) => r.inFlight === undefined));
    },
  );
}

Deno.test("ReplicaFetcher: an idle partition outside the ISR keeps the short wait", async () => {
  // The leader takes a follower back into the ISR only when it fetches: an idle one in a cold
  // round would be seen caught up a whole cold wait late.
  const COLD_WAIT_MS = 2_000;
  const { replicas, leader, fetcher } = setup(20, 20, COLD_WAIT_MS);
  replicas[3].followerOutOfIsr = true;
  fetcher.start();
  try {
    await until("every partition answered", () => replicas.every((r) => r.answers >= 1));
    // Past the hot period the others are cold; partition 3 stays in short-wait rounds.
    await new Promise((r) => setTimeout(r, 100));
    const from = leader.requests.length;
    const answered = replicas.map((r) => r.answers);
    await until(
      "partition 3 answered four more times",
      () => replicas[3].answers >= answered[3] + 4,
    );
    const carrying3 = leader.requests.slice(from).filter((r) =>
      r.partitions.some((p) => p.partition === 3)
    );
    assert.ok(carrying3.length >= 4);
    assert.ok(carrying3.every((r) => r.maxWaitMs === WAIT_MS), "partition 3 in short-wait rounds");
    assert.ok(
      carrying3.every((r) => r.partitions.length === 1),
      "the cold partitions do not travel with it",
    );
    assert.ok(
      replicas.every((r, i) => i === 3 || r.answers === answered[i]),
      "the other partitions wait out the cold wait",
    );
    // Back in the ISR, it goes cold with the others.
    replicas[3].followerOutOfIsr = false;
    await new Promise((r) => setTimeout(r, 3 * WAIT_MS));
    const settled = replicas[3].answers;
    await new Promise((r) => setTimeout(r, 4 * WAIT_MS));
    assert.ok(replicas[3].answers <= settled + 1, "parked in a cold round again");
  } finally {
    await fetcher.stop();
  }
});

Deno.test("ReplicaFetcher: partitions beyond the first 1,000 are fetched in every cycle", async () => {
  // The fetcher used to pick the first 1,000 followed partitions of every round: the rest were
  // never fetched, so their leaders dropped this broker from their ISRs and never took it back.
  const { replicas, fetcher } = setup(3_000);
  fetcher.start();
  try {
    for (let cycle = 1; cycle <= 3; cycle++) {
      await until(`cycle ${cycle}`, () => replicas.every((r) => r.answers >= cycle));
    }
    const counts = replicas.map((r) => r.answers);
    assert.ok(
      Math.max(...counts) - Math.min(...counts) <= 2,
      `answers per partition between ${Math.min(...counts)} and ${Math.max(...counts)}`,
    );
  } finally {
    await fetcher.stop();
  }
});

Deno.test("ReplicaFetcher follows membership changes and stops cleanly", async () => {
  const { replicas, leader, fetcher } = setup(10);
  fetcher.start();
  try {
    await until("the first answers", () => replicas.every((r) => r.answers >= 1));
    for (const r of replicas.slice(5)) r.followedLeaderId = 3; // moved to another leader
    fetcher.wake();
    await until(
      "a request without them",
      () => leader.requests.at(-1)!.partitions.every((p) => p.partition < 5),
    );
    const seen = leader.requests.length;
    await until("two more requests", () => leader.requests.length >= seen + 2);
    for (const r of leader.requests.slice(seen)) {
      assert.ok(r.partitions.every((p) => p.partition < 5), "moved partitions are not fetched");
    }
  } finally {
    await fetcher.stop();
  }
  assert.equal(fetcher.roundsInFlight, 0);
  assert.ok(replicas.every((r) => r.inFlight === undefined), "stop abandons every fetch");
});

Deno.test("ReplicaFetcher: a partition fetches again as soon as its own answer is applied", async () => {
  // After a leadership change the replicas of a round may be busy (their queues hold role
  // changes); a busy partition in the same round must not wait for them.
  const { replicas, leader, fetcher } = setup(50, 60_000);
  let release!: () => void;
  replicas[3].hold = new Promise<void>((r) => (release = r));
  fetcher.start();
  try {
    leader.append(7);
    await until("record 1 of partition 7", () => replicas[7].records === 1);
    for (let n = 2; n <= 4; n++) {
      leader.append(7);
      await until(`record ${n} of partition 7`, () => replicas[7].records === n);
    }
    assert.equal(replicas[3].answers, 0, "partition 3's first answer is still being applied");
    release();
    await until("partition 3 answered", () => replicas[3].answers >= 1);
  } finally {
    release();
    await fetcher.stop();
  }
});
