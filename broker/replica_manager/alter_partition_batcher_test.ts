import assert from "node:assert/strict";
import { StromError } from "@strom/client";
import { createLogger } from "../log.ts";
import type { PartitionState } from "../metadata/image.ts";
import type { AlterPartitionRequest, AlterPartitionResult } from "./alter_partition_batcher.ts";
import { AlterPartitionBatcher } from "./alter_partition_batcher.ts";
import { ALTER_PARTITION_QUEUE_MAX } from "./config.ts";

const quiet = createLogger({ sink: () => {} });

function request(partition: number, partitionEpoch = 0): AlterPartitionRequest {
  return { topicId: "t-id", partition, leaderEpoch: 0, partitionEpoch, isr: [1, 2] };
}

function stateFor(r: AlterPartitionRequest): PartitionState {
  return {
    replicas: [1, 2, 3],
    isr: r.isr,
    leader: 1,
    leaderEpoch: r.leaderEpoch,
    partitionEpoch: r.partitionEpoch + 1,
  };
}

/** A controller stand-in that holds each batch until the test releases it. */
class FakeController {
  readonly batches: AlterPartitionRequest[][] = [];
  readonly #pending: ((answer: () => readonly AlterPartitionResult[]) => void)[] = [];
  send = (requests: readonly AlterPartitionRequest[]) => {
    this.batches.push([...requests]);
    return new Promise<readonly AlterPartitionResult[]>((resolve, reject) => {
      this.#pending.push((answer) => {
        try {
          resolve(answer());
        } catch (e) {
          reject(e);
        }
      });
    });
  };
  /** Answers the oldest open batch. */
  answer(answer: (batch: AlterPartitionRequest[]) => readonly AlterPartitionResult[]): void {
    const batch = this.batches[this.batches.length - this.#pending.length];
    this.#pending.shift()!(() => answer(batch));
  }
  get open(): number {
    return this.#pending.length;
  }
}

const allOk = (batch: AlterPartitionRequest[]) =>
  batch.map((r): AlterPartitionResult => ({ ok: true, state: stateFor(r) }));

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(check(), `timed out waiting for ${what}`);
}

Deno.test("AlterPartitionBatcher sends what is submitted together in one request, one in flight", async () => {
  const controller = new FakeController();
  const batcher = new AlterPartitionBatcher(controller.send, quiet);
  const first = Array.from({ length: 50 }, (_, i) => batcher.submit(request(i)));
  await until("the first request", () => controller.batches.length === 1);
  assert.equal(controller.batches[0].length, 50, "one pass over 50 partitions: one request");
  // Submitted while the first is in flight: they wait, then go together.
  const second = Array.from({ length: 20 }, (_, i) => batcher.submit(request(100 + i)));
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(controller.batches.length, 1, "one request in flight at a time");
  assert.equal(batcher.queued, 20);
  controller.answer(allOk);
  assert.deepEqual(
    (await Promise.all(first)).map((s) => s.partitionEpoch),
    first.map(() => 1),
  );
  await until("the second request", () => controller.batches.length === 2);
  assert.deepEqual(controller.batches[1].map((r) => r.partition), second.map((_, i) => 100 + i));
  controller.answer(allOk);
  await Promise.all(second);
  assert.equal(batcher.batchesSent, 2);
});

Deno.test("AlterPartitionBatcher: a refused partition fails alone; a failed request fails all of it", async () => {
  const controller = new FakeController();
  const batcher = new AlterPartitionBatcher(controller.send, quiet);
  const answers = [0, 1, 2].map((i) => batcher.submit(request(i, i === 1 ? 5 : 0)));
  await until("the request", () => controller.open === 1);
  controller.answer((batch) =>
    batch.map((r): AlterPartitionResult =>
      r.partitionEpoch === 5
        ? { ok: false, error: new StromError("INVALID_UPDATE_VERSION", "stale partition epoch") }
        : { ok: true, state: stateFor(r) }
    )
  );
  const settled = await Promise.allSettled(answers);
  assert.deepEqual(settled.map((s) => s.status), ["fulfilled", "rejected", "fulfilled"]);
  assert.equal(
    ((settled[1] as PromiseRejectedResult).reason as StromError).code,
    "INVALID_UPDATE_VERSION",
  );

  const more = [3, 4].map((i) => batcher.submit(request(i)));
  await until("the next request", () => controller.open === 1);
  controller.answer(() => {
    throw new StromError("NOT_CONTROLLER", "no controller");
  });
  for (const s of await Promise.allSettled(more)) {
    assert.equal(s.status, "rejected");
    assert.equal(((s as PromiseRejectedResult).reason as StromError).code, "NOT_CONTROLLER");
  }
  // An answer of the wrong length is a failure of the whole request, not a misattribution.
  const last = [5, 6].map((i) => batcher.submit(request(i)));
  await until("the last request", () => controller.open === 1);
  controller.answer((batch) => allOk(batch).slice(1));
  for (const s of await Promise.allSettled(last)) {
    assert.equal(((s as PromiseRejectedResult).reason as StromError).code, "UNKNOWN_SERVER_ERROR");
  }
});

Deno.test("AlterPartitionBatcher splits a long queue into requests of at most batchMax", async () => {
  const controller = new FakeController();
  const batcher = new AlterPartitionBatcher(controller.send, quiet, 4);
  const answers = Array.from({ length: 10 }, (_, i) => batcher.submit(request(i)));
  for (let n = 1; n <= 3; n++) {
    await until(`request ${n}`, () => controller.open === 1);
    controller.answer(allOk);
  }
  await Promise.all(answers);
  assert.deepEqual(controller.batches.map((b) => b.length), [4, 4, 2]);
});

Deno.test("AlterPartitionBatcher refuses past its queue bound and after stop", async () => {
  const controller = new FakeController();
  const batcher = new AlterPartitionBatcher(controller.send, quiet, 1);
  const accepted: Promise<PartitionState>[] = [];
  for (let i = 0; i < ALTER_PARTITION_QUEUE_MAX; i++) accepted.push(batcher.submit(request(i)));
  await assert.rejects(
    batcher.submit(request(-1)),
    (e: unknown) => e instanceof StromError && e.code === "NOT_READY",
  );
  await until("the first request", () => controller.open === 1);
  batcher.stop();
  await assert.rejects(
    batcher.submit(request(-2)),
    (e: unknown) => e instanceof StromError && e.code === "SHUTTING_DOWN",
  );
  controller.answer(allOk);
  const settled = await Promise.allSettled(accepted);
  assert.equal(settled[0].status, "fulfilled", "the request in flight still answers");
  assert.ok(
    settled.slice(1).every((s) =>
      s.status === "rejected" && (s.reason as StromError).code === "SHUTTING_DOWN"
    ),
  );
  assert.equal(controller.batches.length, 1);
});
