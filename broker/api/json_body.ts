/**
 * Reads a request's JSON body with a size limit, so that an oversized body
 * is refused without being buffered whole, and malformed JSON is a clear
 * INVALID_REQUEST rather than an exception.
 *
 * @module
 */

import { StromError } from "@strom/client";
import { readBodyBytes } from "./body_bytes.ts";

/** Largest JSON body an admin or internal control request may carry. */
export const JSON_BODY_BYTES_MAX = 1024 * 1024;

/** The parsed body; throws StromError INVALID_REQUEST or RECORD_LIST_TOO_LARGE. */
export async function readJsonBody(req: Request, bytesMax = JSON_BODY_BYTES_MAX): Promise<unknown> {
  return parseJsonBytes(await readBodyBytes(req, bytesMax));
}

/** Parses UTF-8 JSON bytes; throws INVALID_REQUEST for an empty or malformed body. */
export function parseJsonBytes(bytes: Uint8Array): unknown {
  if (bytes.length === 0) throw new StromError("INVALID_REQUEST", "the request needs a JSON body");
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    throw new StromError("INVALID_REQUEST", `the body is not valid JSON: ${(e as Error).message}`);
  }
}
