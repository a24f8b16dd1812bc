/**
 * Small 32-bit hashes for the simulator's invariant checks: an entry's
 * fingerprint, and hash chains over logs and applied state. Collisions
 * (about 2^-32 per comparison) could only hide a bug, never invent one.
 *
 * @module
 */

import type { Entry } from "../types.ts";

/**
 * Mixes `value` into `hash` (murmur3's finalizer over the xor).
 *
 * @example
 * ```ts
 * import { mixHash } from "@strom/raft/sim";
 * if (mixHash(1, 2) === mixHash(2, 1)) throw new Error("order should matter");
 * ```
 */
export function mixHash(hash: number, value: number): number {
  let h = Math.imul((hash ^ Math.imul(value | 0, 0x9e3779b1)) >>> 0, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h + (value / 0x1_0000_0000 | 0)) >>> 0;
}

const KIND_CODES = { normal: 1, noop: 2, config: 3 } as const;

/**
 * A fingerprint of an entry's term, kind and data (FNV-1a over the bytes).
 *
 * @example
 * ```ts
 * import { entryFingerprint } from "@strom/raft/sim";
 * const e = { index: 1, term: 2, kind: "normal" as const, data: new Uint8Array([1]) };
 * if (entryFingerprint(e) !== entryFingerprint({ ...e })) throw new Error("not deterministic");
 * ```
 */
export function entryFingerprint(e: Entry): number {
  let h = 0x811c9dc5;
  const d = e.data;
  for (let i = 0; i < d.length; i++) h = Math.imul(h ^ d[i], 0x01000193);
  return mixHash(mixHash(h >>> 0, e.term), KIND_CODES[e.kind]);
}
