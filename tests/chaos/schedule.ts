/**
 * The fault schedule: which kind comes next, how long to wait before it,
 * and the seed of the PRNG that aims it — all drawn from the run's seed, so
 * `--seed` replays the same schedule (the victims depend on who leads what
 * at that moment, which the seed cannot fix).
 *
 * Kinds come in rounds, each a seeded permutation of the enabled kinds, so
 * every kind runs early and often. A wipe (slow: a voter is removed and
 * re-added) takes part in one round of {@link WIPE_EVERY_ROUNDS}.
 *
 * @module
 */

import { createPrng, type Prng } from "@strom/raft";
import type { FaultKind } from "./options.ts";

/** A wipe runs in one round out of this many. */
export const WIPE_EVERY_ROUNDS = 6;
/** Quiet time before each fault, at least and at most. */
export const GAP_MS_MIN = 50;
export const GAP_MS_MAX = 500;

/** One planned fault. */
export interface PlannedFault {
  readonly index: number;
  readonly kind: FaultKind;
  readonly gapMs: number;
  /** Seeds the fault's own PRNG, so its choices do not shift the rest of the schedule. */
  readonly faultSeed: number;
}

/** Draws planned faults one by one from a seed. */
export class FaultSchedule {
  readonly #prng: Prng;
  readonly #queue: FaultKind[] = [];
  #round = 0;
  #index = 0;

  constructor(seed: number, readonly kinds: readonly FaultKind[]) {
    if (kinds.length === 0) throw new Error("no fault kinds enabled");
    this.#prng = createPrng(seed);
  }

  /** The next fault. */
  next(): PlannedFault {
    while (this.#queue.length === 0) this.#refill();
    const kind = this.#queue.shift()!;
    return {
      index: this.#index++,
      kind,
      gapMs: GAP_MS_MIN + this.#prng.nextInt(GAP_MS_MAX - GAP_MS_MIN),
      faultSeed: this.#prng.nextUint32(),
    };
  }

  #refill(): void {
    const round = this.kinds.filter((k) => k !== "wipe" || this.#round % WIPE_EVERY_ROUNDS === 0);
    this.#round++;
    for (let i = round.length - 1; i > 0; i--) {
      const j = this.#prng.nextInt(i + 1);
      [round[i], round[j]] = [round[j], round[i]];
    }
    this.#queue.push(...round);
  }
}
