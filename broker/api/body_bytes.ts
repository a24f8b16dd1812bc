/**
 * Reads a request body with a byte limit. The declared `content-length` is
 * checked first, and the stream is counted as it arrives, so an oversized
 * body is refused after at most `bytesMax` bytes were buffered, never the
 * whole of it.
 *
 * @module
 */

import { StromError } from "@strom/client";
import { concatBytes } from "../concat_bytes.ts";

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
    try {
      return await req.bytes();
    } catch (e) {
      throw unreadable(e);
    }
  }
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  const reader = req.body.getReader();
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (e) {
      throw unreadable(e);
    }
    const { done, value } = chunk;
    if (done) break;
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
