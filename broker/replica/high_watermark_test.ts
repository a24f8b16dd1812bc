import assert from "node:assert/strict";
import fc from "fast-check";
import { computeHighWatermark, minIsrLogEndOffset } from "./high_watermark.ts";

/**
 * The obviously-correct version: count down from the leader's LEO to the
 * first offset every ISR member has reached; unknown members block.
 */
function slowHighWatermark(
  hw: number,
  leaderId: number,
  leaderLeo: number,
  isr: readonly number[],
  leos: ReadonlyMap<number, number>,
): number {
  const followers = isr.filter((id) => id !== leaderId);
  if (followers.some((id) => (leos.get(id) ?? -1) < 0)) return hw;
  for (let offset = leaderLeo; offset > hw; offset--) {
    if (followers.every((id) => leos.get(id)! >= offset)) return offset;
  }
  return hw;
}

Deno.test("computeHighWatermark() agrees with a count-down over every ISR member", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 60 }),
      fc.integer({ min: 0, max: 60 }),
      fc.array(fc.integer({ min: -1, max: 70 }), { minLength: 0, maxLength: 4 }),
      fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
      (leaderLeo, hwSeed, followerLeos, inIsr) => {
        const leaderId = 0;
        const hw = Math.min(hwSeed, leaderLeo);
        const leos = new Map(followerLeos.map((leo, i) => [i + 1, leo]));
        const isr = [leaderId, ...followerLeos.map((_, i) => i + 1).filter((id) => inIsr[id])];
        const input = {
          highWatermark: hw,
          leaderId,
          leaderLogEndOffset: leaderLeo,
          isr,
          followerLogEndOffsets: leos,
        };
        const fast = computeHighWatermark(input);
        assert.equal(fast, slowHighWatermark(hw, leaderId, leaderLeo, isr, leos));
        assert.ok(fast >= hw && fast <= leaderLeo);
        const bound = minIsrLogEndOffset(input);
        if (fast > hw) assert.equal(fast, bound);
      },
    ),
    { seed: 20240607, numRuns: 2_000 },
  );
});

Deno.test("computeHighWatermark() waits while an ISR member's LEO is unknown", () => {
  const hw = computeHighWatermark({
    highWatermark: 3,
    leaderId: 1,
    leaderLogEndOffset: 10,
    isr: [1, 2, 3],
    followerLogEndOffsets: new Map([[2, 9]]),
  });
  assert.equal(hw, 3);
});

Deno.test("computeHighWatermark() never lowers the HW", () => {
  const hw = computeHighWatermark({
    highWatermark: 8,
    leaderId: 1,
    leaderLogEndOffset: 10,
    isr: [1, 2],
    followerLogEndOffsets: new Map([[2, 5]]),
  });
  assert.equal(hw, 8);
});
