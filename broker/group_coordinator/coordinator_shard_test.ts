import assert from "node:assert/strict";
import { StromError } from "@strom/client";
import { createLogger } from "../log.ts";
import type { EncodedGroupRecord } from "../groups/mod.ts";
import { DEFAULT_GROUP_COORDINATOR_CONFIG } from "../groups/mod.ts";
import { CoordinatorShard } from "./coordinator_shard.ts";
import type { ShardLog } from "./coordinator_shard.ts";
import { OPERATIONS_QUEUED_PER_PARTITION_MAX } from "./config.ts";

/**
 * An in-memory partition: appends land in `records` unless `failNext` or
 * `gate` says otherwise; leadership barriers are counted in `barriers` and
 * wait for `barrierGate`.
 */
class MemoryLog implements ShardLog {
  readonly partition = 0;
  readonly leaderEpoch = 1;
  readonly records: EncodedGroupRecord[] = [];
  failNext = false;
  gate: Promise<void> | undefined;
  barriers = 0;
  barriersDone = 0;
  failNextBarrier = false;
  barrierGate: Promise<void> | undefined;
  async confirmLeadership(): Promise<void> {
    this.barriers++;
    await this.barrierGate;
    if (this.failNextBarrier) {
      this.failNextBarrier = false;
      throw new StromError("REQUEST_TIMED_OUT", "the ISR did not acknowledge in time");
    }
    this.barriersDone++;
  }
  read(): AsyncIterable<readonly EncodedGroupRecord[]> {
    const records = [...this.records];
    return (async function* () {
      yield records;
    })();
  }
  async append(records: readonly EncodedGroupRecord[]): Promise<void> {
    await this.gate;
    if (this.failNext) {
      this.failNext = false;
      throw new StromError("NOT_ENOUGH_REPLICAS", "the ISR is too small");
    }
    this.records.push(...records);
  }
}

const quietLogger = createLogger({ sink: () => {} });
const TOPICS = new Map([["orders", 4]]);
let ids = 0;

function shardOver(log: ShardLog, failed: unknown[] = []): CoordinatorShard {
  return new CoordinatorShard({
    log,
    config: DEFAULT_GROUP_COORDINATOR_CONFIG,
    logger: quietLogger,
    clock: () => 1_000,
    newMemberId: () => `m${++ids}`,
    onFailed: (_s, e) => failed.push(e),
  });
}

function join(shard: CoordinatorShard, groupId: string) {
  return shard.run((c, nowMs) =>
    c.heartbeat({ groupId, memberId: "", memberEpoch: 0, subscribedTopicNames: ["orders"] }, {
      nowMs,
      topics: TOPICS,
    })
  );
}

Deno.test("a shard answers a join only after its records were appended, and a new shard rebuilds the group from them", async () => {
  const log = new MemoryLog();
  const shard = shardOver(log);
  await shard.load();
  assert.equal(shard.status, "active");
  const answer = await join(shard, "g");
  assert.equal(answer.memberEpoch, 1);
  assert.ok(log.records.length > 0, "the join wrote records");

  const next = shardOver(log);
  await next.load();
  const described = await next.read((c) => c.describeGroup("g"));
  assert.equal(described.members[0].memberId, answer.memberId);
  assert.deepEqual(described.members[0].assigned, [{ topic: "orders", partitions: [0, 1, 2, 3] }]);
});

Deno.test("a failed append fails the shard: the caller and later callers get NOT_COORDINATOR, nothing was replayed", async () => {
  const log = new MemoryLog();
  const failed: unknown[] = [];
  const shard = shardOver(log, failed);
  await shard.load();
  log.failNext = true;
  await assert.rejects(
    join(shard, "g"),
    (e) => e instanceof StromError && e.code === "NOT_COORDINATOR",
  );
  assert.equal(shard.status, "failed");
  assert.equal(failed.length, 1);
  assert.throws(
    () => join(shard, "g"),
    (e) => e instanceof StromError && e.code === "NOT_COORDINATOR",
  );
  const fresh = shardOver(log);
  await fresh.load();
  assert.equal((await fresh.read((c) => c.describeGroup("g"))).state, "dead");
});

Deno.test("operations run one at a time in order, and the queue is bounded", async () => {
  const log = new MemoryLog();
  const shard = shardOver(log);
  await shard.load();
  let open!: () => void;
  log.gate = new Promise((resolve) => open = resolve);
  const order: string[] = [];
  const first = join(shard, "a").then(() => order.push("a"));
  const second = join(shard, "b").then(() => order.push("b"));
  const queued: Promise<unknown>[] = [];
  for (let i = 2; i < OPERATIONS_QUEUED_PER_PARTITION_MAX; i++) {
    queued.push(shard.read(() => i));
  }
  assert.throws(
    () => shard.read(() => 0),
    (e) => e instanceof StromError && e.code === "COORDINATOR_NOT_AVAILABLE",
  );
  open();
  await Promise.all([first, second, ...queued]);
  assert.deepEqual(order, ["a", "b"]);
});

Deno.test("a closed shard refuses operations with NOT_COORDINATOR", async () => {
  const shard = shardOver(new MemoryLog());
  await shard.load();
  await shard.close();
  assert.equal(shard.status, "closed");
  assert.throws(
    () => join(shard, "g"),
    (e) => e instanceof StromError && e.code === "NOT_COORDINATOR",
  );
});

Deno.test("the member expiry timer removes a silent member and writes its removal", async () => {
  const log = new MemoryLog();
  let now = 1_000;
  const shard = new CoordinatorShard({
    log,
    config: { ...DEFAULT_GROUP_COORDINATOR_CONFIG, sessionTimeoutMs: 1_000 },
    logger: quietLogger,
    clock: () => now,
    newMemberId: () => "m",
    onFailed: () => {},
  });
  await shard.load();
  await join(shard, "g");
  const before = log.records.length;
  now += 5_000;
  shard.tick(now);
  await shard.settled();
  assert.ok(log.records.length > before);
  assert.equal((await shard.read((c) => c.describeGroup("g"))).state, "empty");
});

/** A gate and the function that opens it. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => open = resolve);
  return { promise, open };
}

Deno.test("a read answers only after a leadership barrier that began after it arrived; reads arriving together share one", async () => {
  const log = new MemoryLog();
  const shard = shardOver(log);
  await shard.load();
  const first = gate();
  log.barrierGate = first.promise;
  let answered = 0;
  const together = [1, 2, 3].map((i) => shard.read(() => i).then((v) => (answered++, v)));
  await shard.settled();
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(log.barriers, 1, "the three reads share one barrier");
  assert.equal(answered, 0, "no read answered before its barrier committed");

  // A read arriving while that barrier is appending must wait for a later one.
  const second = gate();
  const late = shard.read(() => 4).then((v) => (answered++, v));
  log.barrierGate = second.promise;
  first.open();
  assert.deepEqual(await Promise.all(together), [1, 2, 3]);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(answered, 3, "the late read waits for its own barrier");
  assert.equal(log.barriers, 2);
  second.open();
  assert.equal(await late, 4);
  assert.equal(log.barriersDone, 2);
});

Deno.test("a failed leadership barrier answers NOT_COORDINATOR and fails the shard, so it reloads from the log", async () => {
  const log = new MemoryLog();
  const failed: unknown[] = [];
  const shard = shardOver(log, failed);
  await shard.load();
  log.failNextBarrier = true;
  await assert.rejects(
    shard.read((c) => c.describeGroup("g")),
    (e) => e instanceof StromError && e.code === "NOT_COORDINATOR",
  );
  assert.equal(shard.status, "failed");
  assert.equal(failed.length, 1);
});

Deno.test("an operation that appended answers without a barrier; one that wrote nothing answers after one; timers take none", async () => {
  const log = new MemoryLog();
  let now = 1_000;
  const shard = new CoordinatorShard({
    log,
    config: DEFAULT_GROUP_COORDINATOR_CONFIG,
    logger: quietLogger,
    clock: () => now,
    newMemberId: () => "m",
    onFailed: () => {},
  });
  await shard.load();
  const joined = await join(shard, "g");
  assert.equal(log.barriers, 0, "the join's own append proves the answer current");
  const records = log.records.length;
  const steady = await shard.run((c, nowMs) =>
    c.heartbeat({
      groupId: "g",
      memberId: joined.memberId,
      memberEpoch: joined.memberEpoch,
      ownedPartitions: [{ topic: "orders", partitions: [0, 1, 2, 3] }],
    }, { nowMs, topics: TOPICS })
  );
  assert.equal(steady.memberEpoch, joined.memberEpoch);
  assert.equal(log.records.length, records, "a steady heartbeat writes nothing");
  assert.equal(log.barriers, 1, "so it answers after a barrier");
  now += 100;
  shard.tick(now);
  await shard.settled();
  assert.equal(log.barriers, 1, "the member expiry timer answers no client");
});
