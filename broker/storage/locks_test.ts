import { deepStrictEqual, rejects } from "node:assert/strict";
import { Mutex } from "./_locks.ts";

Deno.test("Mutex runs holders one at a time in arrival order, also after it was free and after a throw", async () => {
  const mutex = new Mutex();
  const order: string[] = [];
  const hold = (name: string, ms: number) =>
    mutex.run(async () => {
      order.push(`${name}+`);
      await new Promise((r) => setTimeout(r, ms));
      order.push(`${name}-`);
    });
  await Promise.all([hold("a", 5), hold("b", 0), hold("c", 1)]);
  // Free again (the lock's tail went back to the shared settled one): still serial.
  await rejects(mutex.run(() => Promise.reject(new Error("boom"))), /boom/);
  await Promise.all([hold("d", 3), hold("e", 0)]);
  deepStrictEqual(order, ["a+", "a-", "b+", "b-", "c+", "c-", "d+", "d-", "e+", "e-"]);
});
