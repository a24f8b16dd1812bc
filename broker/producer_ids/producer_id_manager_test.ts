import assert from "node:assert/strict";
import { StromError } from "@strom/client";
import { ProducerIdManager } from "./producer_id_manager.ts";
import type { ProducerIdBlock } from "./producer_id_manager.ts";
import { controllerBlockSource } from "./controller_blocks.ts";

/** A fake controller: blocks of `count` ids in order, answered when the test releases them. */
function fakeController(count: number) {
  let next = 0;
  const pending: (() => void)[] = [];
  const controller = {
    calls: 0,
    fail: false,
    manual: false,
    allocateBlock: (): Promise<ProducerIdBlock> => {
      controller.calls++;
      const answer = (): ProducerIdBlock => {
        if (controller.fail) throw new StromError("NOT_CONTROLLER", "no controller");
        const block = { firstProducerId: next, count };
        next += count;
        return block;
      };
      if (!controller.manual) return Promise.resolve().then(answer);
      return new Promise((resolve, reject) =>
        pending.push(() => {
          try {
            resolve(answer());
          } catch (e) {
            reject(e);
          }
        })
      );
    },
    release: () => pending.splice(0).forEach((f) => f()),
  };
  return controller;
}

Deno.test("next() hands out consecutive ids at epoch 0 across blocks without repeats", async () => {
  const controller = fakeController(10);
  const ids = new ProducerIdManager({ allocateBlock: controller.allocateBlock });
  const seen: number[] = [];
  for (let i = 0; i < 35; i++) {
    const { producerId, producerEpoch } = await ids.next();
    assert.equal(producerEpoch, 0);
    seen.push(producerId);
  }
  assert.deepEqual(seen, Array.from({ length: 35 }, (_, i) => i));
  assert.equal(controller.calls, 4, "one block per 10 ids, the fourth prefetched");
});

Deno.test("the next block is requested before the current one runs out", async () => {
  const controller = fakeController(10);
  const ids = new ProducerIdManager({
    allocateBlock: controller.allocateBlock,
    prefetchAtFraction: 0.5,
  });
  for (let i = 0; i < 4; i++) await ids.next();
  assert.equal(controller.calls, 1);
  await ids.next(); // the fifth id crosses half the block
  assert.equal(controller.calls, 2, "prefetch started");
  controller.manual = true;
  // The rest of the first block and the whole prefetched one need no further wait.
  for (let i = 5; i < 15; i++) assert.equal((await ids.next()).producerId, i);
});

Deno.test("concurrent callers share one in-flight block request", async () => {
  const controller = fakeController(100);
  controller.manual = true;
  const ids = new ProducerIdManager({ allocateBlock: controller.allocateBlock });
  const waiting = Array.from({ length: 20 }, () => ids.next());
  await Promise.resolve();
  assert.equal(controller.calls, 1);
  controller.release();
  const got = (await Promise.all(waiting)).map((a) => a.producerId);
  assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => i));
  assert.equal(controller.calls, 1);
});

Deno.test("callers beyond waitersMax fail fast with NOT_READY", async () => {
  const controller = fakeController(100);
  controller.manual = true;
  const ids = new ProducerIdManager({ allocateBlock: controller.allocateBlock, waitersMax: 2 });
  const a = ids.next();
  const b = ids.next();
  await assert.rejects(ids.next(), (e: StromError) => e.code === "NOT_READY");
  controller.release();
  assert.deepEqual([(await a).producerId, (await b).producerId], [0, 1]);
});

Deno.test("a failed block request fails its waiters and the next call tries again", async () => {
  const controller = fakeController(5);
  controller.fail = true;
  const ids = new ProducerIdManager({ allocateBlock: controller.allocateBlock });
  await assert.rejects(ids.next(), (e: StromError) => e.code === "NOT_CONTROLLER");
  controller.fail = false;
  assert.equal((await ids.next()).producerId, 0);
});

Deno.test("a failed prefetch is not reported until an id is actually missing", async () => {
  const controller = fakeController(4);
  const ids = new ProducerIdManager({ allocateBlock: controller.allocateBlock });
  for (let i = 0; i < 3; i++) await ids.next();
  controller.fail = true;
  assert.equal((await ids.next()).producerId, 3, "the prefetch failed, but this block had an id");
  controller.fail = false;
  assert.equal((await ids.next()).producerId, 4);
});

Deno.test("an invalid block from the controller is refused", async () => {
  const ids = new ProducerIdManager({
    allocateBlock: () => Promise.resolve({ firstProducerId: 0, count: 0 }),
  });
  await assert.rejects(ids.next(), (e: StromError) => e.code === "UNKNOWN_SERVER_ERROR");
});

Deno.test("controllerBlockSource sends the broker's id and epoch, and waits for registration", async () => {
  const calls: unknown[] = [];
  const broker = { epoch: undefined as number | undefined };
  const source = controllerBlockSource(
    {
      call: <R>(op: string, body: unknown) => {
        calls.push({ op, body });
        return Promise.resolve({ response: { firstProducerId: 7, count: 3 } as R, offset: 1 });
      },
    },
    { brokerId: 2, brokerEpoch: () => broker.epoch },
  );
  await assert.rejects(source(), (e: StromError) => e.code === "NOT_READY");
  broker.epoch = 5;
  assert.deepEqual(await source(), { firstProducerId: 7, count: 3 });
  assert.deepEqual(calls, [{ op: "producer-ids", body: { brokerId: 2, brokerEpoch: 5 } }]);
});
