import assert from "node:assert/strict";
import type { StromError } from "@strom/client";
import { BODY_STREAM_BYTES_MIN, readBodyBytes } from "./body_bytes.ts";

const post = (body: BodyInit, headers: Record<string, string> = {}) =>
  new Request("http://127.0.0.1/", { method: "POST", body, headers });

const tooLarge = (e: StromError) => e.code === "RECORD_LIST_TOO_LARGE";

Deno.test("a body with a declared length within the limit is read whole, in one piece", async () => {
  const body = new Uint8Array(100).fill(7);
  const read = await readBodyBytes(post(body, { "content-length": "100" }), 1000);
  assert.deepEqual(read, body);
});

Deno.test("a declared length over the limit is refused before the body is read", async () => {
  const req = post(new Uint8Array(100), { "content-length": "5000" });
  await assert.rejects(readBodyBytes(req, 1000), tooLarge);
});

Deno.test("a body without a length is counted as it streams and refused past the limit", async () => {
  const chunks = () =>
    new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 20; i++) c.enqueue(new Uint8Array(100).fill(i));
        c.close();
      },
    });
  await assert.rejects(readBodyBytes(post(chunks()), 1000), tooLarge);
  const read = await readBodyBytes(post(chunks()), 4000);
  assert.equal(read.length, 2000);
  assert.equal(read[1999], 19);
});

Deno.test("a large body with a declared length is streamed into one buffer of that length", async () => {
  const length = BODY_STREAM_BYTES_MIN + 70_000;
  const chunked = (total: number) =>
    new ReadableStream<Uint8Array>({
      start(c) {
        for (let at = 0; at < total; at += 16_384) {
          c.enqueue(new Uint8Array(Math.min(16_384, total - at)).fill((at / 16_384) % 251));
        }
        c.close();
      },
    });
  const read = await readBodyBytes(
    post(chunked(length), { "content-length": String(length) }),
    4 * length,
  );
  assert.equal(read.length, length);
  assert.equal(read.buffer.byteLength, length, "one buffer of exactly the declared size");
  assert.equal(read[length - 1], Math.floor((length - 1) / 16_384) % 251);
  const short = post(chunked(length - 10), { "content-length": String(length) });
  await assert.rejects(
    readBodyBytes(short, 4 * length),
    (e: StromError) => e.code === "INVALID_REQUEST" && /ended after/.test(e.message),
  );
  const long = post(chunked(length + 10), { "content-length": String(length) });
  await assert.rejects(
    readBodyBytes(long, 4 * length),
    (e: StromError) => e.code === "INVALID_REQUEST" && /longer than/.test(e.message),
  );
});
