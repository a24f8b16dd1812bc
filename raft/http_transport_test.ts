import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { HttpTransport } from "./http_transport.ts";
import type { DropEvent } from "./http_transport.ts";
import {
  createRaftHandler,
  RAFT_HTTP_PATH,
  SECRET_HEADER,
  startRaftServer,
} from "./http_transport_handler.ts";
import type { RaftServer } from "./http_transport_handler.ts";
import type { Message } from "./message.ts";
import { encodeMessages } from "./message_codec.ts";

const SECRET = "test-cluster-secret";
/** Upper bound of any wait in these tests. */
const WAIT_MS_MAX = 10_000;

function heartbeat(from: number, to: number, commit: number): Message {
  return { type: "heartbeat", from, to, term: 1, commit, readSeq: 0 };
}

function appResp(from: number, to: number, index: number): Message {
  return { type: "appResp", from, to, term: 1, index, reject: false, rejectHint: 0, logTerm: 1 };
}

/** Polls `condition` every few milliseconds, failing after {@link WAIT_MS_MAX}. */
async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS_MAX;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A node endpoint: a server receiving into `inbox`. */
function startNode(id: number, port = 0): { server: RaftServer; inbox: Message[] } {
  const inbox: Message[] = [];
  const handler = createRaftHandler({
    secret: SECRET,
    selfId: id,
    onMessages: (messages) => {
      inbox.push(...messages);
    },
  });
  return { server: startRaftServer(handler, { port }), inbox };
}

Deno.test("two endpoints exchange batches of messages over HTTP/2", async () => {
  const one = startNode(1);
  const two = startNode(2);
  const fromOne = new HttpTransport({ selfId: 1, peers: { 2: two.server.url }, secret: SECRET });
  const fromTwo = new HttpTransport({ selfId: 2, peers: { 1: one.server.url }, secret: SECRET });
  try {
    const append: Message = {
      type: "app",
      from: 1,
      to: 2,
      term: 3,
      index: 4,
      logTerm: 2,
      commit: 4,
      entries: [{ index: 5, term: 3, kind: "normal", data: new Uint8Array(3000).fill(7) }],
    };
    const many = Array.from({ length: 500 }, (_, i) => appResp(1, 2, i));
    // Three heartbeats queued behind the rest: only the newest goes (it says all they said).
    fromOne.send([append, ...many, heartbeat(1, 2, 1), heartbeat(1, 2, 2), heartbeat(1, 2, 3)]);
    fromTwo.send([heartbeat(2, 1, 9)]);
    await waitFor(() => two.inbox.length === 502 && one.inbox.length === 1, "delivery");
    deepStrictEqual(two.inbox, [append, ...many, heartbeat(1, 2, 3)]);
    deepStrictEqual(one.inbox, [heartbeat(2, 1, 9)]);
    // The client counts a batch once its response is in, just after delivery.
    await waitFor(() => fromOne.stats(2)!.sentMessages === 502, "the responses");
    const stats = fromOne.stats(2)!;
    ok(stats.sentBatches < 502, `batched: ${stats.sentBatches} POSTs for 502 messages`);
    strictEqual(stats.droppedMessages, 0);
    // A large append alone is encoded as a view of a slightly larger buffer: only the view goes.
    const large: Message = {
      ...append,
      entries: [{ index: 5, term: 3, kind: "normal", data: new Uint8Array(1_500_000).fill(9) }],
    };
    fromOne.send([large]);
    await waitFor(() => two.inbox.length === 503, "the large append");
    deepStrictEqual(two.inbox[502], large);
  } finally {
    await fromOne.close();
    await fromTwo.close();
    await one.server.shutdown();
    await two.server.shutdown();
  }
});

Deno.test("a request without the cluster secret gets 401 and delivers nothing", async () => {
  const delivered: Message[] = [];
  const handler = createRaftHandler({
    secret: SECRET,
    onMessages: (m) => void delivered.push(...m),
  });
  const body = encodeMessages([heartbeat(1, 2, 1)]) as Uint8Array<ArrayBuffer>;
  const missing = await handler(
    new Request(`http://node${RAFT_HTTP_PATH}`, { method: "POST", body }),
  );
  strictEqual(missing.status, 401);
  strictEqual((await missing.json()).error.code, "UNAUTHENTICATED");
  const wrong = await handler(
    new Request(`http://node${RAFT_HTTP_PATH}`, {
      method: "POST",
      body,
      headers: { [SECRET_HEADER]: "guess" },
    }),
  );
  strictEqual(wrong.status, 401);
  await wrong.body?.cancel();
  deepStrictEqual(delivered, []);

  // Through a real connection: the transport reports the batch as failed.
  const node = startNode(2);
  const drops: DropEvent[] = [];
  const transport = new HttpTransport({
    selfId: 1,
    peers: { 2: node.server.url },
    secret: "wrong-secret",
    onDropped: (event) => drops.push(event),
  });
  try {
    transport.send([heartbeat(1, 2, 1)]);
    await waitFor(() => drops.length > 0, "the failure report");
    strictEqual(drops[0].reason, "request_failed");
    ok(drops[0].error?.message.includes("401"), drops[0].error?.message ?? "no error");
    deepStrictEqual(node.inbox, []);
  } finally {
    await transport.close();
    await node.server.shutdown();
  }
});

Deno.test("the handler refuses other methods, oversized and corrupt bodies, and stray messages", async () => {
  const handler = createRaftHandler({
    secret: SECRET,
    selfId: 2,
    requestBytesMax: 100,
    onMessages: () => {},
  });
  const post = (body: Uint8Array<ArrayBuffer>, method = "POST") =>
    handler(
      new Request(`http://node${RAFT_HTTP_PATH}`, {
        method,
        headers: { [SECRET_HEADER]: SECRET },
        ...(method === "POST" ? { body } : {}),
      }),
    );
  const codeOf = async (response: Promise<Response>) => {
    const answer = await response;
    return [answer.status, (await answer.json()).error.code];
  };
  deepStrictEqual(await codeOf(post(new Uint8Array(0), "GET")), [405, "METHOD_NOT_ALLOWED"]);
  deepStrictEqual(await codeOf(post(new Uint8Array(101))), [413, "MESSAGE_TOO_LARGE"]);
  deepStrictEqual(await codeOf(post(new Uint8Array([9, 9, 9]))), [400, "CORRUPT_MESSAGE"]);
  deepStrictEqual(
    await codeOf(post(encodeMessages([heartbeat(1, 3, 0)]) as Uint8Array<ArrayBuffer>)),
    [400, "INVALID_REQUEST"],
  );
  strictEqual(
    (await post(encodeMessages([heartbeat(1, 2, 0)]) as Uint8Array<ArrayBuffer>)).status,
    204,
  );
});

Deno.test("the transport reconnects after the peer's server restarts", async () => {
  let node = startNode(2);
  const port = node.server.port;
  let unreachable = 0;
  const transport = new HttpTransport({
    selfId: 1,
    peers: { 2: node.server.url },
    secret: SECRET,
    limits: { reconnectBackoffMsMin: 5, reconnectBackoffMsMax: 50 },
    onUnreachable: () => unreachable++,
  });
  try {
    transport.send([heartbeat(1, 2, 1)]);
    await waitFor(() => node.inbox.length === 1, "the first message");
    await node.server.shutdown();

    transport.send([heartbeat(1, 2, 2)]);
    await waitFor(() => unreachable > 0, "the failure to be noticed");

    node = startNode(2, port);
    let commit = 3;
    // Keep sending, as Raft's heartbeats would, until one gets through.
    await waitFor(() => {
      if (node.inbox.length > 0) return true;
      transport.send([heartbeat(1, 2, commit++)]);
      return false;
    }, "delivery after the restart");
    strictEqual(node.inbox[0].type, "heartbeat");
  } finally {
    await transport.close();
    await node.server.shutdown();
  }
});

Deno.test("a heartbeat is not held up behind a snapshot chunk in flight", async () => {
  const received: string[] = [];
  let releaseSnapshot = () => {};
  const snapshotGate = new Promise<void>((resolve) => (releaseSnapshot = resolve));
  const gateTimer = setTimeout(releaseSnapshot, WAIT_MS_MAX);
  const server = startRaftServer(createRaftHandler({
    secret: SECRET,
    onMessages: async (messages) => {
      for (const message of messages) {
        // The receiver is still busy with the chunk when the heartbeat comes.
        if (message.type === "snapshot") await snapshotGate;
        received.push(message.type);
      }
    },
  }));
  const transport = new HttpTransport({ selfId: 1, peers: { 2: server.url }, secret: SECRET });
  try {
    transport.send([{
      type: "snapshot",
      from: 1,
      to: 2,
      term: 1,
      meta: { index: 100, term: 1, config: { voters: [1, 2], learners: [] } },
      totalBytes: 8 * 1024 * 1024,
      offset: 0,
      data: new Uint8Array(8 * 1024 * 1024),
    }]);
    transport.send([heartbeat(1, 2, 7)]);
    await waitFor(() => received.length > 0, "the heartbeat");
    deepStrictEqual(received, ["heartbeat"]);
    releaseSnapshot();
    await waitFor(() => received.length === 2, "the snapshot chunk");
    deepStrictEqual(received, ["heartbeat", "snapshot"]);
  } finally {
    clearTimeout(gateTimer);
    releaseSnapshot();
    await transport.close();
    await server.shutdown();
  }
});

Deno.test("messages for an unknown peer and after close are dropped and reported", async () => {
  const drops: DropEvent[] = [];
  const transport = new HttpTransport({
    selfId: 1,
    peers: {},
    secret: SECRET,
    onDropped: (event) => drops.push(event),
  });
  transport.send([heartbeat(1, 5, 1)]);
  await transport.close();
  transport.send([heartbeat(1, 5, 2)]);
  deepStrictEqual(drops.map((drop) => drop.reason), ["unknown_peer", "closed"]);
});
