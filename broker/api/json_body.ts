/**
 * Reads a request's JSON body with a size limit, so that an oversized body
 * is refused without being buffered whole, and malformed JSON is a clear
 * INVALID_REQUEST rather than an exception.
 *
 * @module
 */

import { StromError } from "@strom/client";

/** Largest JSON body an admin or internal control request may carry. */
export const JSON_BODY_BYTES_MAX = 1024 * 1024;

/** The parsed body; throws StromError INVALID_REQUEST or RECORD_LIST_TOO_LARGE. */
export async function readJsonBody(req: Request, bytesMax = JSON_BODY_BYTES_MAX): Promise<unknown> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > bytesMax) {
    await req.body?.cancel();
    throw tooLarge(bytesMax);
  }
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  if (req.body) {
    const reader = req.body.getReader();
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        throw new StromError(
          "INVALID_REQUEST",
          `the request body could not be read (did the client go away?): ${(e as Error).message}`,
        );
      }
      const { done, value } = chunk;
      if (done) break;
      bytes += value.length;
      if (bytes > bytesMax) {
        await reader.cancel();
        throw tooLarge(bytesMax);
      }
      chunks.push(value);
    }
  }
  const all = new Uint8Array(bytes);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  if (bytes === 0) throw new StromError("INVALID_REQUEST", "the request needs a JSON body");
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(all));
  } catch (e) {
    throw new StromError("INVALID_REQUEST", `the body is not valid JSON: ${(e as Error).message}`);
  }
}

function tooLarge(bytesMax: number): StromError {
  return new StromError(
    "RECORD_LIST_TOO_LARGE",
    `the request body is larger than ${bytesMax} bytes; send less per request`,
  );
}
