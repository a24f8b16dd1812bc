import { deepStrictEqual, notDeepStrictEqual, ok, throws } from "node:assert/strict";
import { createPrng, Sfc32 } from "./prng.ts";

Deno.test("the same seed gives the same sequence and different seeds differ", () => {
  const draw = (seed: number) => Array.from({ length: 8 }, () => new Sfc32(seed).nextUint32());
  deepStrictEqual(draw(1), draw(1));
  const a = createPrng(1);
  const b = createPrng(2);
  notDeepStrictEqual([a.nextUint32(), a.nextUint32()], [b.nextUint32(), b.nextUint32()]);
});

Deno.test("nextInt() stays in range and hits every value of a small range", () => {
  const random = createPrng(99);
  const seen = new Set<number>();
  for (let i = 0; i < 1000; i++) {
    const x = random.nextInt(7);
    ok(x >= 0 && x < 7 && Number.isInteger(x));
    seen.add(x);
  }
  deepStrictEqual(seen.size, 7);
  throws(() => random.nextInt(0), RangeError);
});

Deno.test("nextFloat() lies in [0, 1)", () => {
  const random = createPrng(3);
  for (let i = 0; i < 1000; i++) {
    const x = random.nextFloat();
    ok(x >= 0 && x < 1);
  }
});
