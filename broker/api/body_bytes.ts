/**
 * Reads a request body with a byte limit. The declared `content-length` is
 * checked first, and the stream is counted as it arrives, so an oversized
 * body is refused after at most `bytesMax` bytes were buffered, never the
 * whole of it.
 *
 * A body with a declared length is read in one piece (`req.bytes()`, one
 * promise instead of one per DATA frame) unless it is at least
 * {@link BODY_STREAM_BYTES_MIN}: such a body is copied chunk by chunk into
 * one buffer of its declared size. Measured with 1 MiB produce bodies
 * (README, max produce, 4 runs each, interleaved): `req.bytes()` holds about
 * twice a body's size in RSS while it is kept (a copy beside the chunks the
 * HTTP layer gathered), streamed 1.4×; broker peak RSS 243–276 → 217–236
 * MiB, for 5 % of throughput (156 against 166 MiB/s on average).
 *
 * @module
 */

import { StromError } from "@strom/client";
import { concatBytes } from "../concat_bytes.ts";

/**
 * Bodies from this size up (above the producer's default 256 KiB batch) are
 * streamed into a buffer of their declared length rather than read with
 * `req.bytes()` (see the module doc).
 */
export const BODY_STREAM_BYTES_MIN = 256 * 1024 + 1;

/** The whole body (empty when there is none); throws RECORD_LIST_TOO_LARGE past `bytesMax`. */
export async function readBodyBytes(req: Request, bytesMax: number): Promise<Uint8Array> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > bytesMax) {
    await req.body?.cancel();
    throw bodyTooLarge(bytesMax);
  }
  if (!req.body) return new Uint8Array(0);
  // A declared length within the limit: one read of the whole body (the HTTP layer refuses a body
  // longer than its content-length), instead of one promise per DATA frame.
  if (req.headers.has("content-length") && Number.isSafeInteger(declared) && declared >= 0) {
    if (declared >= BODY_STREAM_BYTES_MIN) return await readDeclared(req.body, declared);
    try {
      return await req.bytes();
    } catch (e) {
      throw unreadable(e);
    }
  }
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  const reader = req.body.getReader();
  for (let value; (value = await nextChunk(reader)) !== undefined;) {
    bytes += value.length;
    if (bytes > bytesMax) {
      await reader.cancel();
      throw bodyTooLarge(bytesMax);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  return concatBytes(chunks, bytes);
}

/** Copies the body's chunks into one buffer of its declared length as they arrive. */
async function readDeclared(body: ReadableStream<Uint8Array>, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let at = 0;
  const reader = body.getReader();
  for (let value; (value = await nextChunk(reader)) !== undefined;) {
    if (at + value.length > length) {
      await reader.cancel();
      throw unreadable(new Error(`the body is longer than its content-length ${length}`));
    }
    out.set(value, at);
    at += value.length;
  }
  if (at !== length) {
    throw unreadable(new Error(`the body ended after ${at} of its ${length} declared bytes`));
  }
  return out;
}

/** The body's next chunk, undefined at its end; a failed read is INVALID_REQUEST. */
async function nextChunk(
  reader: ReadableStreamDefaultReader<Uint8Array>,
): Promise<Uint8Array | undefined> {
  try {
    const { done, value } = await reader.read();
    return done ? undefined : value;
  } catch (e) {
    throw unreadable(e);
  }
}

function unreadable(e: unknown): StromError {
  return new StromError(
    "INVALID_REQUEST",
    `the request body could not be read (did the client go away?): ${(e as Error).message}`,
  );
}

/** The error for a body over the limit. */
export function bodyTooLarge(bytesMax: number): StromError {
  return new StromError(
    "RECORD_LIST_TOO_LARGE",
    `the request body is larger than ${bytesMax} bytes; send less per request`,
  );
}
