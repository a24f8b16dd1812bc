/**
 * The internal follower fetch RPC (`POST /internal/replica/fetch`): a
 * request carries up to 1,000 of the partitions a follower replicates from
 * one leader (a follower keeps several in flight when it follows more).
 *
 * Request: JSON ({@link ReplicaFetchRequest}).
 *
 * A follower that sends `omitUnchanged: true` lets the leader leave out the
 * partitions it has nothing new for (no batches, and the high watermark the
 * follower sent): an idle follower's round of 1,000 partitions is answered
 * by an empty list instead of 1,000 entries to encode, decode and apply (as
 * a Kafka fetch session's incremental response leaves out unchanged
 * partitions, KIP-227). Without the flag every partition is answered.
 *
 * Response (`application/vnd.strom.replica-fetch`): a 4-byte big-endian
 * length `n`, `n` bytes of UTF-8 JSON (`{"partitions": [...]}`, one entry per
 * requested partition, each with `bytes`, the length of its batches), then
 * the partitions' stored batches concatenated in the same order. Batches
 * travel byte for byte as the leader stored them (offsets and epochs
 * included, compressed stays compressed): no per-record work on either side.
 *
 * @module
 */

import { StromError } from "@strom/client";
import type { ErrorCode } from "@strom/client";
import { concatBytes } from "../concat_bytes.ts";

/** Content type of the binary fetch response. */
export const REPLICA_FETCH_CONTENT_TYPE = "application/vnd.strom.replica-fetch";

/** The route the leader serves follower fetches on (internal listener). */
export const REPLICA_FETCH_PATH = "/internal/replica/fetch";

/** Largest JSON header of a response; larger means a corrupt or hostile frame. */
export const REPLICA_FETCH_HEADER_BYTES_MAX = 16 * 1024 * 1024;

/** One partition a follower fetches. */
export interface ReplicaFetchPartition {
  readonly topic: string;
  readonly partition: number;
  /** The leader epoch the follower believes current. */
  readonly currentLeaderEpoch: number;
  /** The follower's LEO. */
  readonly fetchOffset: number;
  /** Epoch of the last batch in the follower's log, or -1. */
  readonly lastFetchedEpoch: number;
  /** The HW the follower knows: the leader answers at once when its own is newer. */
  readonly highWatermark: number;
}

/** A follower fetch. */
export interface ReplicaFetchRequest {
  readonly replicaId: number;
  /** Long-poll wait while no partition has anything new. */
  readonly maxWaitMs: number;
  readonly partitions: readonly ReplicaFetchPartition[];
  /** Leave out partitions with nothing new (see the module doc); absent means false. */
  readonly omitUnchanged?: boolean;
}

/** The leader's answer for one partition. */
export interface ReplicaFetchPartitionResult {
  readonly topic: string;
  readonly partition: number;
  readonly kind: "read" | "diverging" | "error";
  readonly highWatermark: number;
  readonly logStartOffset: number;
  /** For "diverging": the epoch and where it ends in the leader's log. */
  readonly divergingEpoch?: { readonly epoch: number; readonly endOffset: number };
  /** For "error". */
  readonly error?: {
    readonly code: ErrorCode;
    readonly message: string;
    readonly details?: Record<string, unknown>;
  };
  /** Stored batches from the fetch offset (empty unless "read"). */
  readonly batches: Uint8Array;
}

/** A follower fetch answer. */
export interface ReplicaFetchResponse {
  readonly partitions: readonly ReplicaFetchPartitionResult[];
}

/**
 * The leader's answer for one partition before encoding: its batches may be
 * several parts (recent appends, {@link PartitionLog.readParts}), sent back to
 * back; the follower decodes them as one {@link ReplicaFetchPartitionResult}.
 */
export interface ReplicaFetchPartitionAnswer extends Omit<ReplicaFetchPartitionResult, "batches"> {
  readonly batches: Uint8Array | readonly Uint8Array[];
}

/** A follower fetch answer before encoding. */
export interface ReplicaFetchAnswer {
  readonly partitions: readonly ReplicaFetchPartitionAnswer[];
}

function batchParts(batches: Uint8Array | readonly Uint8Array[]): readonly Uint8Array[] {
  return batches instanceof Uint8Array ? [batches] : batches;
}

/** The length of an answer's batches, all parts together. */
export function answerBatchBytes(answer: ReplicaFetchPartitionAnswer): number {
  let bytes = 0;
  for (const part of batchParts(answer.batches)) bytes += part.length;
  return bytes;
}

/**
 * A response frame as parts: the length prefix and JSON header in one buffer,
 * then each partition's batches as they are (no copy: the leader streams them).
 */
export function encodeReplicaFetchResponseParts(response: ReplicaFetchAnswer): Uint8Array[] {
  const parts: Uint8Array[] = [];
  const header = new TextEncoder().encode(JSON.stringify({
    partitions: response.partitions.map(({ batches, ...rest }) => {
      let bytes = 0;
      for (const part of batchParts(batches)) {
        if (part.length === 0) continue;
        parts.push(part);
        bytes += part.length;
      }
      return { ...rest, bytes };
    }),
  }));
  const head = new Uint8Array(4 + header.length);
  new DataView(head.buffer).setUint32(0, header.length);
  head.set(header, 4);
  return [head, ...parts];
}

/** Encodes a response frame as one buffer (the parts joined). */
export function encodeReplicaFetchResponse(response: ReplicaFetchAnswer): Uint8Array {
  return concatBytes(encodeReplicaFetchResponseParts(response));
}

/**
 * Decodes a response frame; the partitions' batches are views into `frame`.
 *
 * @throws {StromError} CORRUPT_MESSAGE when the frame is malformed.
 */
export function decodeReplicaFetchResponse(frame: Uint8Array): ReplicaFetchResponse {
  const bad = (why: string) =>
    new StromError("CORRUPT_MESSAGE", `malformed replica fetch response: ${why}`);
  if (frame.length < 4) throw bad(`${frame.length} bytes, shorter than the length prefix`);
  const headerBytes = new DataView(frame.buffer, frame.byteOffset, 4).getUint32(0);
  if (headerBytes > REPLICA_FETCH_HEADER_BYTES_MAX || 4 + headerBytes > frame.length) {
    throw bad(`header length ${headerBytes} does not fit the ${frame.length}-byte frame`);
  }
  let parsed: { partitions?: unknown };
  try {
    parsed = JSON.parse(new TextDecoder().decode(frame.subarray(4, 4 + headerBytes)));
  } catch (e) {
    throw bad(`header is not JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(parsed?.partitions)) throw bad(`header lacks "partitions"`);
  let position = 4 + headerBytes;
  const partitions = parsed.partitions.map((raw: Record<string, unknown>) => {
    const length = raw?.bytes;
    if (!Number.isSafeInteger(length) || (length as number) < 0) {
      throw bad(`partition entry has no valid "bytes"`);
    }
    if (position + (length as number) > frame.length) {
      throw bad(`partition ${raw.topic}-${raw.partition} claims more bytes than the frame holds`);
    }
    const batches = frame.subarray(position, position + (length as number));
    position += length as number;
    const { bytes: _bytes, ...rest } = raw;
    return { ...rest, batches } as unknown as ReplicaFetchPartitionResult;
  });
  if (position !== frame.length) throw bad(`${frame.length - position} trailing bytes`);
  return { partitions };
}

/**
 * Parses and checks a fetch request body (the internal listener is
 * authenticated, but a malformed body is still INVALID_REQUEST, not a crash).
 */
export function parseReplicaFetchRequest(body: unknown): ReplicaFetchRequest {
  const bad = (why: string) => new StromError("INVALID_REQUEST", `replica fetch: ${why}`);
  const b = body as Record<string, unknown> | null;
  const int = (v: unknown, min: number) => Number.isSafeInteger(v) && (v as number) >= min;
  if (typeof b !== "object" || b === null) throw bad("the body must be a JSON object");
  if (!int(b.replicaId, 0)) throw bad(`"replicaId" must be an integer ≥ 0`);
  if (!int(b.maxWaitMs, 0)) throw bad(`"maxWaitMs" must be an integer ≥ 0`);
  if (!Array.isArray(b.partitions)) throw bad(`"partitions" must be a list`);
  if (b.omitUnchanged !== undefined && typeof b.omitUnchanged !== "boolean") {
    throw bad(`"omitUnchanged" must be true or false`);
  }
  for (const p of b.partitions as Record<string, unknown>[]) {
    const ok = typeof p?.topic === "string" && int(p.partition, 0) &&
      int(p.currentLeaderEpoch, 0) && int(p.fetchOffset, 0) && int(p.lastFetchedEpoch, -1) &&
      int(p.highWatermark, 0);
    if (!ok) throw bad(`partition entry ${JSON.stringify(p)} is malformed`);
  }
  return b as unknown as ReplicaFetchRequest;
}
