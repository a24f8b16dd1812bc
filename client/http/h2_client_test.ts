import assert from "node:assert/strict";
import { StromError } from "../errors.ts";
import { H2Client } from "./h2_client.ts";

async function withServer(
  handler: (req: Request) => Response | Promise<Response>,
  fn: (origin: string) => Promise<void>,
): Promise<void> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    await server.shutdown();
  }
}

Deno.test("H2Client sends requests over one HTTP/2 connection and reads bodies", async () => {
  await withServer(async (req) => {
    const body = await req.text();
    return Response.json({ path: new URL(req.url).pathname, body, method: req.method });
  }, async (origin) => {
    const client = new H2Client({ headers: { "x-test": "1" } });
    try {
      const answers = await Promise.all(
        Array.from(
          { length: 20 },
          (_, i) =>
            client.json<{ path: string; body: string; method: string }>(origin, {
              path: `/p/${i}`,
              method: "POST",
              body: { i },
            }),
        ),
      );
      answers.forEach((a, i) => {
        assert.equal(a.path, `/p/${i}`);
        assert.deepEqual(JSON.parse(a.body), { i });
        assert.equal(a.method, "POST");
      });
      const large = "x".repeat(200_000);
      const echo = await client.request(origin, { path: "/big", body: large });
      assert.equal(JSON.parse(new TextDecoder().decode(echo.body)).body.length, 200_000);
    } finally {
      await client.close();
    }
  });
});

Deno.test("H2Client turns error bodies into StromErrors and times out slow answers", async () => {
  await withServer(async (req) => {
    if (req.url.endsWith("/slow")) {
      await new Promise((r) => setTimeout(r, 500));
      return new Response("late");
    }
    return Response.json({ error: { code: "NOT_CONTROLLER", message: "ask node 2" } }, {
      status: 421,
    });
  }, async (origin) => {
    const client = new H2Client();
    try {
      await assert.rejects(
        client.json(origin, { path: "/x" }),
        (e: unknown) => e instanceof StromError && e.code === "NOT_CONTROLLER" && e.retriable,
      );
      await assert.rejects(
        client.request(origin, { path: "/slow", timeoutMs: 50 }),
        (e: unknown) => e instanceof StromError && e.code === "REQUEST_TIMED_OUT",
      );
    } finally {
      await client.close();
    }
  });
});

Deno.test("H2Client reports an unreachable origin as NETWORK_EXCEPTION", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const client = new H2Client();
  try {
    await assert.rejects(
      client.request(`http://127.0.0.1:${port}`, { path: "/" }),
      (e: unknown) => e instanceof StromError && e.code === "NETWORK_EXCEPTION",
    );
  } finally {
    await client.close();
  }
});
