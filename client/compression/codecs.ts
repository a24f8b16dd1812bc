/**
 * The registry of compression codecs by Kafka name and id.
 *
 * @module
 */

import type { CompressionCodec } from "./codec.ts";
import { gzipCodec } from "./gzip.ts";
import { lz4Codec } from "./lz4.ts";
import { snappyCodec } from "./snappy.ts";
import { zstdCodec } from "./zstd.ts";

const CODECS_BY_CODE: readonly (CompressionCodec | undefined)[] = [
  undefined,
  gzipCodec,
  snappyCodec,
  lz4Codec,
  zstdCodec,
];

/**
 * The codec stored under attribute code 1–4, or undefined for 0 (none) and
 * unknown codes.
 *
 * @example
 * ```ts
 * import { codecByCode } from "@strom/client";
 * console.log(codecByCode(4)?.name); // "zstd"
 * ```
 */
export function codecByCode(code: number): CompressionCodec | undefined {
  return CODECS_BY_CODE[code];
}

/**
 * The codec with Kafka name `name`.
 *
 * @example
 * ```ts
 * import { codecByName } from "@strom/client";
 * console.log(codecByName("lz4").code); // 3
 * ```
 */
export function codecByName(name: CompressionCodec["name"]): CompressionCodec {
  const codec = CODECS_BY_CODE.find((c) => c?.name === name);
  if (codec === undefined) throw new RangeError(`unknown compression codec "${name}"`);
  return codec;
}

/**
 * Loads every codec (instantiating the snappy and zstd WebAssembly modules),
 * after which the synchronous batch functions handle every codec. Needs
 * `--allow-read` for the modules' files in Deno.
 *
 * @example
 * ```ts
 * import { loadCompressionCodecs } from "@strom/client";
 * await loadCompressionCodecs();
 * ```
 */
export async function loadCompressionCodecs(): Promise<void> {
  await Promise.all(CODECS_BY_CODE.map((codec) => codec?.load()));
}
