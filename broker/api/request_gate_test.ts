import assert from "node:assert/strict";
import { RequestGate } from "./request_gate.ts";

const INFO = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 1 },
  completed: Promise.resolve(),
} as unknown as Deno.ServeHandlerInfo<Deno.NetAddr>;

function request(): Request {
  return new Request("http://127.0.0.1/x");
}

Deno.test("an open gate passes requests to the handler", async () => {
  const gate = new RequestGate(7);
  const handler = gate.wrap(() => new Response("ok"));
  const res = await handler(request(), INFO);
  assert.equal(await res.text(), "ok");
  assert.equal(gate.inFlight, 0);
});

Deno.test("a closed gate answers 503 SHUTTING_DOWN without calling the handler", async () => {
  const gate = new RequestGate(7);
  let called = 0;
  const handler = gate.wrap(() => {
    called++;
    return new Response("ok");
  });
  gate.close();
  const res = await handler(request(), INFO);
  assert.equal(res.status, 503);
  const body = await res.json();
  assert.equal(body.error.code, "SHUTTING_DOWN");
  assert.match(body.error.message, /node 7 is shutting down/);
  assert.equal(called, 0);
  assert.equal(gate.open, false);
});

Deno.test("drained() waits for requests admitted before close() to finish", async () => {
  const gate = new RequestGate(1);
  const release = Promise.withResolvers<void>();
  const handler = gate.wrap(async () => {
    await release.promise;
    return new Response("late");
  });
  const pending = handler(request(), INFO);
  assert.equal(gate.inFlight, 1);
  gate.close();
  let drained: boolean | undefined;
  const waiting = gate.drained(5_000).then((d) => (drained = d));
  await Promise.resolve();
  assert.equal(drained, undefined, "still one request in flight");
  release.resolve();
  assert.equal(await (await pending).text(), "late");
  await waiting;
  assert.equal(drained, true);
  assert.equal(gate.inFlight, 0);
});

Deno.test("drained() gives up after its timeout and counts a failing handler as finished", async () => {
  const gate = new RequestGate(1);
  const hang = Promise.withResolvers<void>();
  const stuck = Promise.resolve(
    gate.wrap(async () => {
      await hang.promise;
      throw new Error("boom");
    })(request(), INFO),
  );
  assert.equal(await gate.drained(20), false);
  hang.resolve();
  await assert.rejects(stuck, /boom/);
  assert.equal(gate.inFlight, 0);
  assert.equal(await gate.drained(20), true);
});
