/**
 * Responses whose body is bytes the broker already holds (stored record
 * batches, a replica fetch answer's parts), sent without copying them.
 *
 * Why: `new Response(uint8Array)` takes a copy of the bytes (the Fetch
 * standard extracts a BufferSource body as "a copy of the bytes held by" it),
 * and a replica fetch answer was also joined into one frame first, so every
 * led batch was copied twice per follower. Those short-lived copies are
 * ArrayBuffer memory that V8 counts against its global heap limit; measured
 * with `--trace-gc`, a Deno.serve server answering 1 GB in 256 KiB frames
 * ran 45-49 mark-compacts when it joined and copied each answer, 1 when it
 * streamed the same parts (and used 0.4 s of CPU instead of 0.6-0.7 s).
 * Mark-compacts are what stretch the broker's produce latency tail (README
 * "Performance").
 *
 * A body streamed from a default (not a byte) ReadableStream: a byte stream
 * would transfer, that is detach, each chunk's buffer, and these buffers are
 * shared (the last append held for readers, a stored batch read once for
 * several followers). Nothing mutates them after they are handed out, so
 * streaming them as they are is safe. Small bodies take the single-buffer
 * path, which costs fewer operations than a stream.
 *
 * @module
 */

import { concatBytes } from "../concat_bytes.ts";

/** Bodies up to this size are copied into one buffer (cheaper than a stream for small ones). */
export const BYTES_RESPONSE_COPY_BYTES_MAX = 32 * 1024;

/**
 * A response whose body is `parts` back to back, with its `content-length`.
 *
 * @example
 * ```ts
 * const res = bytesResponse([new Uint8Array([1, 2]), new Uint8Array([3])], {
 *   headers: { "content-type": "application/octet-stream" },
 * });
 * console.log(new Uint8Array(await res.arrayBuffer())); // Uint8Array(3) [1, 2, 3]
 * ```
 */
export function bytesResponse(parts: readonly Uint8Array[], init: ResponseInit = {}): Response {
  const nonEmpty = parts.filter((p) => p.length > 0);
  const totalBytes = nonEmpty.reduce((n, p) => n + p.length, 0);
  if (totalBytes <= BYTES_RESPONSE_COPY_BYTES_MAX) {
    return new Response(concatBytes(nonEmpty, totalBytes), init);
  }
  const headers = new Headers(init.headers);
  headers.set("content-length", String(totalBytes));
  let next = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (next < nonEmpty.length) controller.enqueue(nonEmpty[next++]);
      else controller.close();
    },
  });
  return new Response(body, { ...init, headers });
}
