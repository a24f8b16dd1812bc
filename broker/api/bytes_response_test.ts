import assert from "node:assert/strict";
import { BYTES_RESPONSE_COPY_BYTES_MAX, bytesResponse } from "./bytes_response.ts";

function filled(bytes: number, value: number): Uint8Array {
  return new Uint8Array(bytes).fill(value);
}

async function bodyOf(res: Response): Promise<Uint8Array> {
  return new Uint8Array(await res.arrayBuffer());
}

Deno.test("bytesResponse: a small body is the parts back to back, with init kept", async () => {
  const res = bytesResponse([filled(2, 1), new Uint8Array(0), filled(3, 2)], {
    status: 201,
    headers: { "content-type": "application/x-test" },
  });
  assert.equal(res.status, 201);
  assert.equal(res.headers.get("content-type"), "application/x-test");
  assert.deepEqual(await bodyOf(res), new Uint8Array([1, 1, 2, 2, 2]));
});

Deno.test("bytesResponse: a large body streams every part in order with its content-length", async () => {
  const parts = [
    filled(10, 1),
    filled(BYTES_RESPONSE_COPY_BYTES_MAX, 2),
    new Uint8Array(0),
    filled(7, 3),
  ];
  const res = bytesResponse(parts, { headers: { "x-strom-high-watermark": "5" } });
  const total = 10 + BYTES_RESPONSE_COPY_BYTES_MAX + 7;
  assert.equal(res.headers.get("content-length"), String(total));
  assert.equal(res.headers.get("x-strom-high-watermark"), "5");
  const body = await bodyOf(res);
  assert.equal(body.length, total);
  assert.deepEqual(body.subarray(0, 10), filled(10, 1));
  assert.deepEqual(body.subarray(10, 10 + BYTES_RESPONSE_COPY_BYTES_MAX), parts[1]);
  assert.deepEqual(body.subarray(total - 7), filled(7, 3));
});

Deno.test("bytesResponse: the parts stay usable (a shared buffer is neither detached nor changed)", async () => {
  const shared = filled(BYTES_RESPONSE_COPY_BYTES_MAX + 1, 9);
  for (let i = 0; i < 2; i++) {
    const body = await bodyOf(bytesResponse([shared.subarray(0, 100), shared]));
    assert.equal(body.length, 100 + shared.length);
  }
  assert.equal(shared.length, BYTES_RESPONSE_COPY_BYTES_MAX + 1);
  assert.ok(shared.every((b) => b === 9));
});

Deno.test("bytesResponse: served by Deno.serve, a client reads the whole streamed body", async () => {
  const big = filled(300 * 1024, 4);
  big[big.length - 1] = 5;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => bytesResponse([filled(4, 1), big]),
  );
  try {
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/`);
    const body = await bodyOf(res);
    assert.equal(body.length, 4 + big.length);
    assert.equal(body[0], 1);
    assert.equal(body[4], 4);
    assert.equal(body[body.length - 1], 5);
  } finally {
    await server.shutdown();
  }
});
