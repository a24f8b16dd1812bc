import { deepStrictEqual, rejects, strictEqual } from "node:assert/strict";
import { StromError } from "@strom/client";
import { SerialQueue } from "./serial_queue.ts";

Deno.test("SerialQueue runs operations in order, refuses past its size, and works again once idle", async () => {
  const queue = new SerialQueue(2, "partition t-0");
  const order: number[] = [];
  const op = (n: number, ms: number) => () =>
    new Promise<number>((r) =>
      setTimeout(() => {
        order.push(n);
        r(n);
      }, ms)
    );
  const first = queue.run(op(1, 5));
  const second = queue.run(op(2, 0));
  await rejects(
    queue.run(op(3, 0)),
    (e: unknown) => e instanceof StromError && e.code === "NOT_READY" && /t-0/.test(e.message),
  );
  strictEqual(queue.size, 2);
  deepStrictEqual(await Promise.all([first, second]), [1, 2]);
  await new Promise((r) => setTimeout(r, 0));
  strictEqual(queue.size, 0);
  // After a failed operation and an idle spell, later ones still run one at a time, in order.
  await rejects(queue.run(() => Promise.reject(new Error("boom"))), /boom/);
  deepStrictEqual(await Promise.all([queue.run(op(4, 3)), queue.run(op(5, 0))]), [4, 5]);
  deepStrictEqual(order, [1, 2, 4, 5]);
});
