/**
 * The bounded outgoing queue of one peer lane of the HTTP transport.
 *
 * Raft tolerates lost messages (heartbeats repeat, appends are retried,
 * elections time out and start again), so a full queue drops rather than
 * blocks: the oldest message that a later one supersedes goes first, and only
 * when nothing in the queue is of that kind does the oldest message go.
 *
 * Invariant: the queue holds at most one heartbeat and one heartbeat
 * response. A newer one replaces the queued one, because it carries
 * everything the older one did: a heartbeat's commit index only grows within
 * a term, and its `readSeq` is the newest pending ReadIndex round (or 0 when
 * none is pending any more); a response echoes those. Why it matters: while
 * a peer is down or backing off, a heartbeat is queued every tick. When the
 * peer came back it got the whole backlog at once, answered each heartbeat,
 * and the leader, which resends a lagging follower's missing entries on every
 * heartbeat response, encoded and sent the same entries once per answer
 * (measured with 10,000 partitions: the 1.5 MB metadata entry that fenced
 * the restarted broker went to it 11 to 12 times within 170 ms, and the
 * leader's ArrayBuffers jumped by 44 MB).
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

/**
 * Message types of which only the newest is worth sending: a newer one
 * replaces the queued one (see the module's invariant).
 */
const LATEST_ONLY_TYPES: ReadonlySet<MessageType> = new Set<MessageType>([
  "heartbeat",
  "heartbeatResp",
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
   * `bytesMax` on its own is still queued, alone. A heartbeat (or heartbeat
   * response) replaces the one already queued, which is not counted as
   * dropped: the new one says all it said.
   */
  push(message: Message): Message[] {
    if (LATEST_ONLY_TYPES.has(message.type)) {
      const queued = this.#messages.findIndex((m) => m.type === message.type);
      if (queued >= 0) this.#removeAt(queued);
    }
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
    const position = this.#messages.findIndex((message) => !ESSENTIAL_TYPES.has(message.type));
    return this.#removeAt(Math.max(0, position));
  }

  #removeAt(position: number): Message {
    const [message] = this.#messages.splice(position, 1);
    const [size] = this.#sizes.splice(position, 1);
    this.#bytes -= size;
    return message;
  }
}
