/**
 * Joining byte strings into one buffer: the one copy the broker makes when
 * several parts must travel or be written as one (a request body read in
 * chunks, an encoded frame, batches compacted into a segment).
 *
 * @module
 */

/**
 * The parts back to back in one new buffer; `totalBytes` is their summed
 * length when the caller already knows it.
 *
 * @example
 * ```ts
 * import { concatBytes } from "./concat_bytes.ts";
 * console.log(concatBytes([new Uint8Array([1]), new Uint8Array([2, 3])])); // Uint8Array(3) [1, 2, 3]
 * ```
 */
export function concatBytes(
  parts: readonly Uint8Array[],
  totalBytes: number = parts.reduce((n, p) => n + p.length, 0),
): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(totalBytes);
  let position = 0;
  for (const p of parts) {
    out.set(p, position);
    position += p.length;
  }
  return out;
}
