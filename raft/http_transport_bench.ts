/**
 * `deno bench --allow-all raft/http_transport_bench.ts`: the HTTP/2 Raft
 * transport between two endpoints in one process over 127.0.0.1: the round
 * trip of one heartbeat alone, and the delivery of 1,000 appends of 100 bytes
 * sent at once (batched by the transport).
 *
 * @module
 */

import { HttpTransport } from "./http_transport.ts";
import { createRaftHandler, startRaftServer } from "./http_transport_handler.ts";
import type { Message } from "./message.ts";

const SECRET = "bench-secret";
const BURST_MESSAGES = 1000;

let received = 0;
let wake: (() => void) | undefined;
let target = 0;
const server = startRaftServer(createRaftHandler({
  secret: SECRET,
  onMessages: (messages) => {
    received += messages.length;
    if (received >= target) wake?.();
  },
}));
const transport = new HttpTransport({ selfId: 1, peers: { 2: server.url }, secret: SECRET });
addEventListener("unload", () => {
  void transport.close();
  void server.shutdown();
});

/** Sends `messages` and resolves once the server has received all of them. */
function deliver(messages: Message[]): Promise<void> {
  target = received + messages.length;
  const arrived = new Promise<void>((resolve) => (wake = resolve));
  transport.send(messages);
  return arrived;
}

const heartbeat: Message = { type: "heartbeat", from: 1, to: 2, term: 1, commit: 0, readSeq: 0 };
const burst: Message[] = Array.from({ length: BURST_MESSAGES }, (_, i) => ({
  type: "app",
  from: 1,
  to: 2,
  term: 1,
  index: i,
  logTerm: 1,
  commit: 0,
  entries: [{ index: i + 1, term: 1, kind: "normal", data: new Uint8Array(100) }],
}));

Deno.bench("one heartbeat, sent until received", async () => {
  await deliver([heartbeat]);
});

Deno.bench(`${BURST_MESSAGES} appends of 100 B, sent until all received`, async () => {
  await deliver(burst);
});
