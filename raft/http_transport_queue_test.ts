import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { MessageQueue } from "./http_transport_queue.ts";
import type { Message } from "./message.ts";

function heartbeat(commit: number): Message {
  return { type: "heartbeat", from: 1, to: 2, term: 1, commit, readSeq: 0 };
}

function vote(term: number): Message {
  return { type: "vote", from: 1, to: 2, term, index: 0, logTerm: 0, transfer: false };
}

Deno.test("MessageQueue drops the oldest message when its count limit is reached", () => {
  const queue = new MessageQueue({ messagesMax: 3, bytesMax: 1 << 20 });
  const dropped = [1, 2, 3, 4, 5].flatMap((commit) => queue.push(heartbeat(commit)));
  deepStrictEqual(dropped, [heartbeat(1), heartbeat(2)]);
  deepStrictEqual(queue.take(10, 1 << 20).messages, [heartbeat(3), heartbeat(4), heartbeat(5)]);
});

Deno.test("MessageQueue drops a heartbeat before an older vote", () => {
  const queue = new MessageQueue({ messagesMax: 2, bytesMax: 1 << 20 });
  queue.push(vote(5));
  queue.push(heartbeat(1));
  deepStrictEqual(queue.push(heartbeat(2)), [heartbeat(1)]);
  deepStrictEqual(queue.push(vote(6)), [heartbeat(2)]);
  // Only votes left: the oldest of them goes.
  deepStrictEqual(queue.push(vote(7)), [vote(5)]);
  deepStrictEqual(queue.clear(), [vote(6), vote(7)]);
});

Deno.test("MessageQueue keeps its byte limit and still queues one oversized message", () => {
  const big: Message = {
    type: "readIndex",
    from: 1,
    to: 2,
    term: 1,
    context: new Uint8Array(1000),
  };
  const queue = new MessageQueue({ messagesMax: 100, bytesMax: 500 });
  queue.push(heartbeat(1));
  deepStrictEqual(queue.push(big), [heartbeat(1)]);
  strictEqual(queue.length, 1);
  deepStrictEqual(queue.push(heartbeat(2)), [big]);
  strictEqual(queue.length, 1);
});

Deno.test("take() answers at least one message and then respects both limits", () => {
  const queue = new MessageQueue({ messagesMax: 100, bytesMax: 1 << 20 });
  for (let commit = 1; commit <= 10; commit++) queue.push(heartbeat(commit));
  strictEqual(queue.take(3, 1 << 20).messages.length, 3);
  strictEqual(queue.take(100, 1).messages.length, 1);
  const rest = queue.take(100, 1 << 20);
  strictEqual(rest.messages.length, 6);
  strictEqual(queue.length, 0);
  strictEqual(queue.bytes, 0);
});
