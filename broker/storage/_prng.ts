/**
 * A small seeded PRNG for simulations and fuzz tests (an adapter over
 * `@strom/raft`'s sfc32), so one
 * seed reproduces a whole run. Not for cryptography.
 *
 * @module
 */

import { createPrng as createSfc32 } from "@strom/raft";

/** A deterministic random source. */
export interface Prng {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, maxExclusive). */
  int(maxExclusive: number): number;
}

/** A PRNG seeded with a 32-bit integer: the project's sfc32 from `@strom/raft`. */
export function createPrng(seed: number): Prng {
  const r = createSfc32(seed);
  return { next: () => r.nextFloat(), int: (maxExclusive) => r.nextInt(maxExclusive) };
}
