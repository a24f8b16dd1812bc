import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { MessageQueue } from "./http_transport_queue.ts";
import { type Message, messageBytes } from "./message.ts";

function heartbeat(commit: number): Message {
  return { type: "heartbeat", from: 1, to: 2, term: 1, commit, readSeq: 0 };
}

function heartbeatResp(readSeq: number): Message {
  return { type: "heartbeatResp", from: 2, to: 1, term: 1, readSeq };
}

function appResp(index: number): Message {
  return {
    type: "appResp",
    from: 2,
    to: 1,
    term: 1,
    index,
    reject: false,
    rejectHint: 0,
    logTerm: 1,
  };
}

function vote(term: number): Message {
  return { type: "vote", from: 1, to: 2, term, index: 0, logTerm: 0, transfer: false };
}

Deno.test("MessageQueue drops the oldest message when its count limit is reached", () => {
  const queue = new MessageQueue({ messagesMax: 3, bytesMax: 1 << 20 });
  const dropped = [1, 2, 3, 4, 5].flatMap((index) => queue.push(appResp(index)));
  deepStrictEqual(dropped, [appResp(1), appResp(2)]);
  deepStrictEqual(queue.take(10, 1 << 20).messages, [appResp(3), appResp(4), appResp(5)]);
});

Deno.test("MessageQueue drops an append response before an older vote", () => {
  const queue = new MessageQueue({ messagesMax: 2, bytesMax: 1 << 20 });
  queue.push(vote(5));
  queue.push(appResp(1));
  deepStrictEqual(queue.push(appResp(2)), [appResp(1)]);
  deepStrictEqual(queue.push(vote(6)), [appResp(2)]);
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
  for (let index = 1; index <= 10; index++) queue.push(appResp(index));
  strictEqual(queue.take(3, 1 << 20).messages.length, 3);
  strictEqual(queue.take(100, 1).messages.length, 1);
  const rest = queue.take(100, 1 << 20);
  strictEqual(rest.messages.length, 6);
  strictEqual(queue.length, 0);
  strictEqual(queue.bytes, 0);
});

Deno.test("a newer heartbeat or heartbeat response replaces the queued one", () => {
  // A peer that was down for a second used to get 20 queued heartbeats at once, answer each, and
  // make the leader resend its missing entries once per answer.
  const queue = new MessageQueue({ messagesMax: 100, bytesMax: 1 << 20 });
  const pushed = [
    heartbeat(1),
    appResp(7),
    heartbeat(2),
    heartbeatResp(3),
    heartbeat(3),
    heartbeatResp(4),
  ].flatMap((m) => queue.push(m));
  deepStrictEqual(pushed, [], "a replaced heartbeat is not reported as dropped");
  strictEqual(queue.length, 3);
  const { messages, bytes } = queue.take(100, 1 << 20);
  deepStrictEqual(messages, [appResp(7), heartbeat(3), heartbeatResp(4)]);
  strictEqual(queue.bytes, 0);
  strictEqual(bytes > 0, true);
  // The queue's byte count left nothing behind for the replaced ones.
  queue.push(heartbeat(4));
  queue.push(heartbeat(5));
  strictEqual(queue.length, 1);
  strictEqual(queue.bytes, messageBytes(heartbeat(5)));
});
