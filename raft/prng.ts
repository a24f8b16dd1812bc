/**
 * A small, fast, seedable pseudo-random generator (sfc32, seeded through
 * splitmix32). The Raft core draws its randomized election timeouts from an
 * injected {@link Prng}, so one seed reproduces a whole simulated run. A
 * production node seeds it from a cryptographic source.
 *
 * @module
 */

/** The randomness the core and the simulator consume. */
export interface Prng {
  /** A uniformly distributed integer in `[0, 2^32)`. */
  nextUint32(): number;
  /** A uniformly distributed integer in `[0, maxExclusive)`; `maxExclusive` in `[1, 2^32]`. */
  nextInt(maxExclusive: number): number;
  /** A float in `[0, 1)`. */
  nextFloat(): number;
}

/**
 * sfc32 ("small fast chaotic"): 128 bits of state, passes PractRand, and
 * costs a handful of 32-bit operations per draw.
 *
 * @example
 * ```ts
 * import { Sfc32 } from "@strom/raft";
 * const a = new Sfc32(42);
 * const b = new Sfc32(42);
 * if (a.nextUint32() !== b.nextUint32()) throw new Error("same seed, same sequence");
 * ```
 */
export class Sfc32 implements Prng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /** Seeds from a 32-bit (or any safe) integer; different seeds give unrelated streams. */
  constructor(seed: number) {
    let s = (seed >>> 0) ^ Math.floor(seed / 0x1_0000_0000);
    const next = () => {
      // splitmix32: spreads a weak seed over all state bits.
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = next();
    this.#b = next();
    this.#c = next();
    this.#d = next();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  nextInt(maxExclusive: number): number {
    if (!(maxExclusive >= 1 && maxExclusive <= 0x1_0000_0000) || !Number.isInteger(maxExclusive)) {
      throw new RangeError(`nextInt bound must be an integer in [1, 2^32], got ${maxExclusive}`);
    }
    // Rejection sampling removes the modulo bias.
    const limit = 0x1_0000_0000 - (0x1_0000_0000 % maxExclusive);
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return x % maxExclusive;
  }

  nextFloat(): number {
    return this.nextUint32() / 0x1_0000_0000;
  }
}

/**
 * A {@link Prng} for `seed`.
 *
 * @example
 * ```ts
 * import { createPrng } from "@strom/raft";
 * const random = createPrng(7);
 * const timeoutTicks = 10 + random.nextInt(10);
 * if (timeoutTicks < 10 || timeoutTicks >= 20) throw new Error("out of range");
 * ```
 */
export function createPrng(seed: number): Prng {
  return new Sfc32(seed);
}
