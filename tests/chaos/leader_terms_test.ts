import assert from "node:assert/strict";
import { LeaderTermSampler } from "./leader_terms.ts";
import type { ChaosNodes } from "./nodes.ts";

Deno.test("two leaders named for one epoch are one violation", () => {
  const sampler = new LeaderTermSampler({ ids: [] } as unknown as ChaosNodes, "s");
  sampler.note(1, 3, 1);
  sampler.note(2, 3, 1);
  sampler.note(3, 4, 2);
  assert.equal(sampler.check().violations, 0);
  sampler.note(3, 3, 3);
  const check = sampler.check();
  assert.equal(check.violations, 1);
  assert.match(check.examples![0], /epoch 3 had leaders 1 \(seen by 1\), 3 \(seen by 3\)/);
});
