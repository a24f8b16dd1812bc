/**
 * The bounded outgoing queue of one peer lane of the HTTP transport.
 *
 * Raft tolerates lost messages (heartbeats repeat, appends are retried,
 * elections time out and start again), so a full queue drops rather than
 * blocks: the oldest message that a later one supersedes goes first, and only
 * when nothing in the queue is of that kind does the oldest message go.
 *
 * @module
 */

import type { Message, MessageType } from "./message.ts";
import { messageBytes } from "./message.ts";

/**
 * Message types whose loss costs the most: elections and leadership
 * transfers, and snapshot acknowledgements. They are dropped only when the
 * queue holds nothing else.
 */
const ESSENTIAL_TYPES: ReadonlySet<MessageType> = new Set<MessageType>([
  "vote",
  "voteResp",
  "preVote",
  "preVoteResp",
  "timeoutNow",
  "snapshotResp",
]);

/** Limits of one {@link MessageQueue}. */
export interface MessageQueueLimits {
  /** Most messages queued; pushing more drops older ones. */
  readonly messagesMax: number;
  /** Most bytes queued (by `messageBytes`); pushing more drops older ones. */
  readonly bytesMax: number;
}

/** A batch taken from the queue. */
export interface QueueBatch {
  readonly messages: Message[];
  readonly bytes: number;
}

/**
 * A FIFO of messages for one peer with a maximum length and size.
 *
 * @example
 * ```ts
 * import { MessageQueue } from "./http_transport_queue.ts";
 * const queue = new MessageQueue({ messagesMax: 2, bytesMax: 1 << 20 });
 * const dropped = [1, 2, 3].flatMap((commit) =>
 *   queue.push({ type: "heartbeat", from: 1, to: 2, term: 1, commit, readSeq: 0 })
 * );
 * console.log(dropped.length, queue.length); // 1 2
 * ```
 */
export class MessageQueue {
  readonly #limits: MessageQueueLimits;
  #messages: Message[] = [];
  #sizes: number[] = [];
  #bytes = 0;

  constructor(limits: MessageQueueLimits) {
    if (limits.messagesMax < 1 || limits.bytesMax < 1) {
      throw new RangeError(`queue limits must be positive: ${JSON.stringify(limits)}`);
    }
    this.#limits = limits;
  }

  /** Messages waiting. */
  get length(): number {
    return this.#messages.length;
  }

  /** Bytes waiting (by `messageBytes`). */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Appends `message`, first dropping older messages as needed to stay within
   * the limits; answers the dropped messages. A message larger than
   * `bytesMax` on its own is still queued, alone.
   */
  push(message: Message): Message[] {
    const size = messageBytes(message);
    const dropped: Message[] = [];
    while (
      this.#messages.length > 0 &&
      (this.#messages.length + 1 > this.#limits.messagesMax ||
        this.#bytes + size > this.#limits.bytesMax)
    ) {
      dropped.push(this.#dropOne());
    }
    this.#messages.push(message);
    this.#sizes.push(size);
    this.#bytes += size;
    return dropped;
  }

  /** Removes and answers the oldest messages: at least one, then up to the limits given. */
  take(messagesMax: number, bytesMax: number): QueueBatch {
    let count = 0;
    let bytes = 0;
    while (
      count < this.#messages.length && count < messagesMax &&
      (count === 0 || bytes + this.#sizes[count] <= bytesMax)
    ) {
      bytes += this.#sizes[count];
      count++;
    }
    const messages = this.#messages.splice(0, count);
    this.#sizes.splice(0, count);
    this.#bytes -= bytes;
    return { messages, bytes };
  }

  /** Removes and answers everything queued. */
  clear(): Message[] {
    const messages = this.#messages;
    this.#messages = [];
    this.#sizes = [];
    this.#bytes = 0;
    return messages;
  }

  /** Drops the oldest non-essential message, or the oldest of all if every one is essential. */
  #dropOne(): Message {
    let position = this.#messages.findIndex((message) => !ESSENTIAL_TYPES.has(message.type));
    if (position < 0) position = 0;
    const [message] = this.#messages.splice(position, 1);
    const [size] = this.#sizes.splice(position, 1);
    this.#bytes -= size;
    return message;
  }
}
