/**
 * Zstandard (codec 4) through `@bokuweb/zstd-wasm`, at level 3 (zstd's and
 * Kafka's default). Before decompressing, the frames are walked in JavaScript
 * (`_zstd_frames.ts`) so the output is bounded without trusting the decoder:
 * each frame is decompressed on its own into a buffer of its proven maximum.
 *
 * @module
 */

import {
  compress as zstdCompress,
  decompress as zstdDecompress,
  init as initZstdWasm,
} from "@bokuweb/zstd-wasm";
import { CorruptBatchError } from "../record_batch/corrupt_batch_error.ts";
import type { CompressionCodec } from "./codec.ts";
import { zstdFrames } from "./_zstd_frames.ts";

/** zstd's default level, which Kafka's producer uses too. */
const ZSTD_LEVEL = 3;

let loading: Promise<void> | null = null;
let loaded = false;

function assertLoaded(): void {
  if (!loaded) throw new Error("the zstd codec is not loaded yet: await zstdCodec.load() first");
}

/**
 * The zstd codec (Kafka codec id 4).
 *
 * @example
 * ```ts
 * import { zstdCodec } from "@strom/client";
 *
 * await zstdCodec.load();
 * const packed = zstdCodec.compress(new Uint8Array(1000));
 * console.log(zstdCodec.decompress(packed, 1000).length); // 1000
 * ```
 */
export const zstdCodec: CompressionCodec = {
  name: "zstd",
  code: 4,
  isLoaded: () => loaded,
  load() {
    loading ??= initZstdWasm().then(() => {
      loaded = true;
    }, (error: unknown) => {
      loading = null;
      throw new Error(`cannot load the zstd WebAssembly module: ${error}`);
    });
    return loading;
  },
  compress(bytes) {
    assertLoaded();
    return zstdCompress(bytes, ZSTD_LEVEL);
  },
  decompress(bytes, maxBytes) {
    assertLoaded();
    const frames = zstdFrames(bytes);
    let total = 0;
    let totalMin = 0;
    for (const frame of frames) {
      total += frame.outputBytesMax;
      totalMin += frame.outputBytesMin;
    }
    // Refuse what is proven too large up front; a frame whose compressed
    // blocks might fit gets a buffer capped at what is left of the limit.
    if (totalMin > maxBytes) {
      throw new CorruptBatchError(`zstd records inflate past the ${maxBytes}-byte limit`);
    }
    const parts: Uint8Array[] = [];
    let produced = 0;
    for (const frame of frames) {
      const heapBytes = Math.min(frame.outputBytesMax, maxBytes - produced);
      if (heapBytes === 0 && frame.outputBytesMax > 0) {
        // Nothing left of the limit for a frame that may produce bytes.
        throw new CorruptBatchError(`zstd records inflate past the ${maxBytes}-byte limit`);
      }
      let part: Uint8Array;
      try {
        part = heapBytes === 0
          ? new Uint8Array(0)
          : zstdDecompress(bytes.subarray(frame.start, frame.end), {
            defaultHeapSize: heapBytes,
          });
      } catch (error) {
        throw new CorruptBatchError(
          total > maxBytes
            ? `zstd records are malformed or inflate past the ${maxBytes}-byte limit`
            : `zstd records are malformed: ${(error as Error).message}`,
        );
      }
      parts.push(part);
      produced += part.length;
    }
    if (parts.length === 1) return parts[0];
    const out = new Uint8Array(produced);
    let at = 0;
    for (const part of parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  },
};
