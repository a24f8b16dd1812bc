/**
 * The messages Raft nodes exchange. Every message names its sender, its
 * receiver and the sender's term; the rest depends on `type`.
 *
 * The union is plain data so that any transport can carry it; the binary
 * form is in `message_codec.ts`.
 *
 * @module
 */

import type { Entry, NodeId, SnapshotMeta } from "./types.ts";

/** Fields every message carries. */
export interface MessageHeader {
  /** The sender. */
  readonly from: NodeId;
  /** The receiver. */
  readonly to: NodeId;
  /** The sender's term (for `preVote`, the term it would campaign in). */
  readonly term: number;
}

/** Leader → follower: entries following (`index`, `logTerm`), and the leader's commit index. */
export interface AppendMessage extends MessageHeader {
  /** Discriminant of the message union. */
  readonly type: "app";
  /** Index of the entry just before `entries`. */
  readonly index: number;
  /** Term of the entry at `index`. */
  readonly logTerm: number;
  /** The entries, contiguous from `index + 1`. */
  readonly entries: readonly Entry[];
  /** The sender's commit index (capped at what the receiver is known to hold). */
  readonly commit: number;
}

/**
 * Follower → leader: the answer to an `app` (or a completed snapshot).
 * On success `index` is the last index known to match the leader. On
 * rejection `index` is the rejected `app.index`, and (`rejectHint`, `logTerm`)
 * name the follower's best guess of where the logs may still agree, so the
 * leader can skip a whole term of conflicting entries at once.
 */
export interface AppendResponseMessage extends MessageHeader {
  /** Discriminant of the message union. */
  readonly type: "appResp";
  /** A log index (see the message description). */
  readonly index: number;
  /** Whether the request was refused. */
  readonly reject: boolean;
  /** On rejection: the highest index where the logs may still agree. */
  readonly rejectHint: number;
  /** The term of the entry at `index`. */
  readonly logTerm: number;
}

/** Leader → follower: "I am still here", with `commit` capped at the follower's match. */
export interface HeartbeatMessage extends MessageHeader {
  /** Discriminant of the message union. */
  readonly type: "heartbeat";
  /** The sender's commit index (capped at what the receiver is known to hold). */
  readonly commit: number;
  /** The newest ReadIndex request this heartbeat confirms leadership for (0: none). */
  readonly readSeq: number;
}

/** Follower → leader: answer to a heartbeat, echoing its `readSeq`. */
export interface HeartbeatResponseMessage extends MessageHeader {
  /** Discriminant of the message union. */
  readonly type: "heartbeatResp";
  /** ReadIndex round this message belongs to (0: none). */
  readonly readSeq: number;
}

/** Candidate → voter: asks for a vote in `term`, describing the candidate's last entry. */
export interface VoteMessage extends MessageHeader {
  /** Discriminant of the message union. */
  readonly type: "vote";
  /** A log index (see the message description). */
  readonly index: number;
  /** The term of the entry at `index`. */
  readonly logTerm: number;
  /** Set during a leadership transfer: voters then ignore their leader lease. */
  readonly transfer: boolean;
}

/** Voter → candidate. */
export interface VoteResponseMessage extends MessageHeader {
  /** Discriminant of the message union. */
  readonly type: "voteResp";
  /** Whether the request was refused. */
  readonly reject: boolean;
}

/** Pre-candidate → voter: "would you vote for me in `term`?" Changes no state. */
export interface PreVoteMessage extends MessageHeader {
  /** Discriminant of the message union. */
  readonly type: "preVote";
  /** A log index (see the message description). */
  readonly index: number;
  /** The term of the entry at `index`. */
  readonly logTerm: number;
}

/** Voter → pre-candidate. */
export interface PreVoteResponseMessage extends MessageHeader {
  /** Discriminant of the message union. */
  readonly type: "preVoteResp";
  /** Whether the request was refused. */
  readonly reject: boolean;
}

/** Leader → follower: one bounded chunk of a snapshot, starting at byte `offset`. */
export interface SnapshotChunkMessage extends MessageHeader {
  /** Discriminant of the message union. */
  readonly type: "snapshot";
  /** Which snapshot this chunk belongs to. */
  readonly meta: SnapshotMeta;
  /** Size of the whole snapshot data. */
  readonly totalBytes: number;
  /** Byte offset of `data` within the snapshot. */
  readonly offset: number;
  /** Payload bytes. */
  readonly data: Uint8Array;
}

/** Follower → leader: the next snapshot byte it expects (0 restarts the transfer). */
export interface SnapshotResponseMessage extends MessageHeader {
  /** Discriminant of the message union. */
  readonly type: "snapshotResp";
  /** `meta.index` of the snapshot being transferred. */
  readonly index: number;
  /** The next snapshot byte the follower expects. */
  readonly nextOffset: number;
}

/** Leader → transfer target: campaign now, without waiting for an election timeout. */
export interface TimeoutNowMessage extends MessageHeader {
  /** Discriminant of the message union. */
  readonly type: "timeoutNow";
}

/** Follower → leader: a forwarded ReadIndex request. */
export interface ReadIndexMessage extends MessageHeader {
  /** Discriminant of the message union. */
  readonly type: "readIndex";
  /** Opaque request id chosen by the reader, echoed in the answer. */
  readonly context: Uint8Array;
}

/** Leader → follower: the read index for a forwarded request. */
export interface ReadIndexResponseMessage extends MessageHeader {
  /** Discriminant of the message union. */
  readonly type: "readIndexResp";
  /** A log index (see the message description). */
  readonly index: number;
  /** Opaque request id chosen by the reader, echoed in the answer. */
  readonly context: Uint8Array;
}

/** Follower → leader: forwarded proposals (normal entries' data). */
export interface ProposeMessage extends MessageHeader {
  /** Discriminant of the message union. */
  readonly type: "propose";
  /** Payload bytes. */
  readonly data: readonly Uint8Array[];
}

/** Any message between Raft nodes. */
export type Message =
  | AppendMessage
  | AppendResponseMessage
  | HeartbeatMessage
  | HeartbeatResponseMessage
  | VoteMessage
  | VoteResponseMessage
  | PreVoteMessage
  | PreVoteResponseMessage
  | SnapshotChunkMessage
  | SnapshotResponseMessage
  | TimeoutNowMessage
  | ReadIndexMessage
  | ReadIndexResponseMessage
  | ProposeMessage;

/** The `type` tag of a {@link Message}. */
export type MessageType = Message["type"];

/** Every message type, in wire-code order (the codec's type byte is the position here). */
export const MESSAGE_TYPES: readonly MessageType[] = [
  "app",
  "appResp",
  "heartbeat",
  "heartbeatResp",
  "vote",
  "voteResp",
  "preVote",
  "preVoteResp",
  "snapshot",
  "snapshotResp",
  "timeoutNow",
  "readIndex",
  "readIndexResp",
  "propose",
];

/**
 * Approximate bytes a message occupies on the wire, for size limits.
 *
 * @example
 * ```ts
 * import { messageBytes } from "@strom/raft";
 * const bytes = messageBytes({ type: "timeoutNow", from: 1, to: 2, term: 3 });
 * if (bytes <= 0) throw new Error("a message always has a size");
 * ```
 */
export function messageBytes(message: Message): number {
  const headerBytes = 16;
  switch (message.type) {
    case "app": {
      let sum = headerBytes + 24;
      for (const e of message.entries) sum += e.data.byteLength + 16;
      return sum;
    }
    case "snapshot":
      return headerBytes + 32 + message.data.byteLength +
        4 * (message.meta.config.voters.length + message.meta.config.learners.length);
    case "readIndex":
    case "readIndexResp":
      return headerBytes + 8 + message.context.byteLength;
    case "propose": {
      let sum = headerBytes;
      for (const d of message.data) sum += d.byteLength + 4;
      return sum;
    }
    default:
      return headerBytes + 16;
  }
}
