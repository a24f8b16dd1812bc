/**
 * Compact binary encoding of Raft message batches, for transports.
 *
 * Layout: a version byte (1), a varint message count, then per message a
 * type byte (position in {@link MESSAGE_TYPES}), varint `from`, `to`, `term`
 * and the type's fields in declaration order. Integers are unsigned LEB128
 * varints (safe integers only), booleans one byte (0 or 1), byte strings a
 * varint length then the bytes. Entries are index, term, kind byte
 * (0 normal, 1 noop, 2 config), data.
 *
 * Decoding validates everything and never reads past the end: malformed
 * input throws a {@link RaftError} with code `CORRUPT_MESSAGE`.
 *
 * @module
 */

import { ByteReader, ByteWriter } from "./_bytes.ts";
import { RaftError } from "./errors.ts";
import { MESSAGE_TYPES, messageBytes } from "./message.ts";
import type { Message, MessageType } from "./message.ts";
import type { ClusterConfig, Entry, EntryKind, SnapshotMeta } from "./types.ts";

/** The wire format version written as the first byte. */
export const MESSAGE_CODEC_VERSION = 1;
/** Most messages one batch may hold; larger counts are refused as corrupt. */
export const MESSAGES_PER_BATCH_MAX = 100_000;

const TYPE_CODES: ReadonlyMap<MessageType, number> = new Map(
  MESSAGE_TYPES.map((t, i) => [t, i]),
);
const ENTRY_KINDS: readonly EntryKind[] = ["normal", "noop", "config"];
const KIND_CODES: ReadonlyMap<EntryKind, number> = new Map(ENTRY_KINDS.map((k, i) => [k, i]));

/**
 * Encodes a batch of messages.
 *
 * @example
 * ```ts
 * import { decodeMessages, encodeMessages } from "@strom/raft";
 * const bytes = encodeMessages([{ type: "heartbeat", from: 1, to: 2, term: 3, commit: 7, readSeq: 0 }]);
 * const [message] = decodeMessages(bytes);
 * if (message.type !== "heartbeat" || message.commit !== 7) throw new Error("round trip failed");
 * ```
 */
export function encodeMessages(messages: readonly Message[]): Uint8Array {
  if (messages.length > MESSAGES_PER_BATCH_MAX) {
    throw new RaftError(
      "MESSAGE_TOO_LARGE",
      `a batch holds at most ${MESSAGES_PER_BATCH_MAX} messages, got ${messages.length}`,
    );
  }
  const w = new ByteWriter(encodedBytesHint(messages));
  w.u8(MESSAGE_CODEC_VERSION);
  w.varint(messages.length);
  for (const m of messages) writeMessage(w, m);
  return w.finish();
}

/**
 * A capacity for encoding `messages`: `messageBytes` plus room for the
 * varints (at most 8 bytes each), so an append batch, whose size is almost
 * all entry data, never makes the writer grow. Other messages are small.
 */
function encodedBytesHint(messages: readonly Message[]): number {
  let bytes = 16;
  for (const m of messages) {
    bytes += messageBytes(m) + 32;
    if (m.type === "app") bytes += 16 * m.entries.length;
  }
  return bytes;
}

/**
 * Decodes a batch written by {@link encodeMessages}; throws `CORRUPT_MESSAGE` on malformed input.
 *
 * @example
 * ```ts
 * import { decodeMessages, RaftError } from "@strom/raft";
 * try {
 *   decodeMessages(new Uint8Array([1, 5]));
 *   throw new Error("should have failed");
 * } catch (e) {
 *   if (!(e instanceof RaftError) || e.code !== "CORRUPT_MESSAGE") throw e;
 * }
 * ```
 */
export function decodeMessages(bytes: Uint8Array): Message[] {
  const r = new ByteReader(bytes, "raft message batch");
  const version = r.u8();
  if (version !== MESSAGE_CODEC_VERSION) r.fail(`unknown version ${version}`);
  // Each message needs at least 4 bytes (type, from, to, term).
  const count = r.count(4);
  if (count > MESSAGES_PER_BATCH_MAX) r.fail(`${count} messages exceed ${MESSAGES_PER_BATCH_MAX}`);
  const out: Message[] = [];
  for (let i = 0; i < count; i++) out.push(readMessage(r));
  r.end();
  return out;
}

function writeMessage(w: ByteWriter, m: Message): void {
  w.u8(TYPE_CODES.get(m.type) ?? failType(m));
  w.varint(m.from);
  w.varint(m.to);
  w.varint(m.term);
  switch (m.type) {
    case "app":
      w.varint(m.index);
      w.varint(m.logTerm);
      w.varint(m.commit);
      w.varint(m.entries.length);
      for (const e of m.entries) writeEntry(w, e);
      return;
    case "appResp":
      w.varint(m.index);
      w.u8(m.reject ? 1 : 0);
      w.varint(m.rejectHint);
      w.varint(m.logTerm);
      return;
    case "heartbeat":
      w.varint(m.commit);
      w.varint(m.readSeq);
      return;
    case "heartbeatResp":
      w.varint(m.readSeq);
      return;
    case "vote":
      w.varint(m.index);
      w.varint(m.logTerm);
      w.u8(m.transfer ? 1 : 0);
      return;
    case "voteResp":
    case "preVoteResp":
      w.u8(m.reject ? 1 : 0);
      return;
    case "preVote":
      w.varint(m.index);
      w.varint(m.logTerm);
      return;
    case "snapshot":
      writeSnapshotMeta(w, m.meta);
      w.varint(m.totalBytes);
      w.varint(m.offset);
      w.bytes(m.data);
      return;
    case "snapshotResp":
      w.varint(m.index);
      w.varint(m.nextOffset);
      return;
    case "timeoutNow":
      return;
    case "readIndex":
      w.bytes(m.context);
      return;
    case "readIndexResp":
      w.varint(m.index);
      w.bytes(m.context);
      return;
    case "propose":
      w.varint(m.data.length);
      for (const d of m.data) w.bytes(d);
      return;
  }
}

function failType(m: { type: string }): never {
  throw new RaftError("CORRUPT_MESSAGE", `cannot encode unknown message type "${m.type}"`);
}

function writeEntry(w: ByteWriter, e: Entry): void {
  w.varint(e.index);
  w.varint(e.term);
  const kind = KIND_CODES.get(e.kind);
  if (kind === undefined) throw new RaftError("CORRUPT_MESSAGE", `unknown entry kind "${e.kind}"`);
  w.u8(kind);
  w.bytes(e.data);
}

function writeSnapshotMeta(w: ByteWriter, meta: SnapshotMeta): void {
  w.varint(meta.index);
  w.varint(meta.term);
  writeConfig(w, meta.config);
}

/** Writes a cluster config (shared with the config-change codec). */
export function writeConfig(w: ByteWriter, config: ClusterConfig): void {
  w.varint(config.voters.length);
  for (const id of config.voters) w.varint(id);
  w.varint(config.learners.length);
  for (const id of config.learners) w.varint(id);
}

/** Reads and validates a cluster config: positive ids, sorted ascending, disjoint. */
export function readConfig(r: ByteReader): ClusterConfig {
  const voters = readIds(r);
  const learners = readIds(r);
  const voterSet = new Set(voters);
  for (const id of learners) if (voterSet.has(id)) r.fail(`node ${id} is both voter and learner`);
  return { voters, learners };
}

function readIds(r: ByteReader): number[] {
  const n = r.count(1);
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const id = r.varint();
    if (id < 1) r.fail("node id 0");
    if (i > 0 && id <= ids[i - 1]) r.fail("node ids not strictly ascending");
    ids.push(id);
  }
  return ids;
}

function readNode(r: ByteReader): number {
  const id = r.varint();
  if (id < 1) r.fail("node id 0");
  return id;
}

function readEntry(r: ByteReader): Entry {
  const index = r.varint();
  const term = r.varint();
  if (index < 1 || term < 1) r.fail(`entry index ${index} term ${term}`);
  const code = r.u8();
  const kind = ENTRY_KINDS[code];
  if (kind === undefined) r.fail(`entry kind ${code}`);
  return { index, term, kind, data: r.bytes() };
}

function readMessage(r: ByteReader): Message {
  const code = r.u8();
  const type = MESSAGE_TYPES[code];
  if (type === undefined) r.fail(`message type ${code}`);
  const from = readNode(r);
  const to = readNode(r);
  const term = r.varint();
  switch (type) {
    case "app": {
      const index = r.varint();
      const logTerm = r.varint();
      const commit = r.varint();
      const n = r.count(4);
      const entries: Entry[] = [];
      for (let i = 0; i < n; i++) {
        const e = readEntry(r);
        if (e.index !== index + 1 + i) r.fail(`entry index ${e.index} breaks the sequence`);
        entries.push(e);
      }
      return { type, from, to, term, index, logTerm, commit, entries };
    }
    case "appResp":
      return {
        type,
        from,
        to,
        term,
        index: r.varint(),
        reject: r.bool(),
        rejectHint: r.varint(),
        logTerm: r.varint(),
      };
    case "heartbeat":
      return { type, from, to, term, commit: r.varint(), readSeq: r.varint() };
    case "heartbeatResp":
      return { type, from, to, term, readSeq: r.varint() };
    case "vote":
      return { type, from, to, term, index: r.varint(), logTerm: r.varint(), transfer: r.bool() };
    case "voteResp":
    case "preVoteResp":
      return { type, from, to, term, reject: r.bool() };
    case "preVote":
      return { type, from, to, term, index: r.varint(), logTerm: r.varint() };
    case "snapshot": {
      const meta = { index: r.varint(), term: r.varint(), config: readConfig(r) };
      const totalBytes = r.varint();
      const offset = r.varint();
      const data = r.bytes();
      if (offset + data.byteLength > totalBytes) {
        r.fail(`snapshot chunk ends at ${offset + data.byteLength} beyond ${totalBytes} bytes`);
      }
      return { type, from, to, term, meta, totalBytes, offset, data };
    }
    case "snapshotResp":
      return { type, from, to, term, index: r.varint(), nextOffset: r.varint() };
    case "timeoutNow":
      return { type, from, to, term };
    case "readIndex":
      return { type, from, to, term, context: r.bytes() };
    case "readIndexResp":
      return { type, from, to, term, index: r.varint(), context: r.bytes() };
    case "propose": {
      const n = r.count(1);
      const data: Uint8Array[] = [];
      for (let i = 0; i < n; i++) data.push(r.bytes());
      return { type, from, to, term, data };
    }
  }
}
