import { deepStrictEqual, throws } from "node:assert/strict";
import { applyConfigChange, decodeConfigEntry, encodeConfigEntry } from "./config_change.ts";
import { RaftError } from "./errors.ts";

const base = { voters: [1, 2, 3], learners: [5] };

Deno.test("applyConfigChange() adds learners and voters in sorted order", () => {
  deepStrictEqual(applyConfigChange(base, { type: "addLearner", nodeId: 4 }), {
    voters: [1, 2, 3],
    learners: [4, 5],
  });
  deepStrictEqual(applyConfigChange(base, { type: "addVoter", nodeId: 0.5 + 3.5 }), {
    voters: [1, 2, 3, 4],
    learners: [5],
  });
});

Deno.test("applyConfigChange() promotes a learner with addVoter", () => {
  deepStrictEqual(applyConfigChange(base, { type: "addVoter", nodeId: 5 }), {
    voters: [1, 2, 3, 5],
    learners: [],
  });
});

Deno.test("applyConfigChange() removes voters and learners but never the last voter", () => {
  deepStrictEqual(applyConfigChange(base, { type: "removeNode", nodeId: 2 }).voters, [1, 3]);
  deepStrictEqual(applyConfigChange(base, { type: "removeNode", nodeId: 5 }).learners, []);
  throws(
    () => applyConfigChange({ voters: [1], learners: [] }, { type: "removeNode", nodeId: 1 }),
    (e: unknown) => e instanceof RaftError && e.code === "INVALID_CONFIG_CHANGE",
  );
});

Deno.test("applyConfigChange() refuses no-op changes and demotions", () => {
  for (
    const change of [
      { type: "addVoter", nodeId: 1 },
      { type: "addLearner", nodeId: 5 },
      { type: "addLearner", nodeId: 1 },
      { type: "removeNode", nodeId: 9 },
      { type: "addVoter", nodeId: 0 },
    ] as const
  ) {
    throws(() => applyConfigChange(base, change), RaftError);
  }
});

Deno.test("config entries round-trip and reject corrupt bytes", () => {
  const data = { change: { type: "addLearner", nodeId: 5 } as const, config: base };
  const bytes = encodeConfigEntry(data);
  deepStrictEqual(decodeConfigEntry(bytes), data);
  throws(() => decodeConfigEntry(bytes.subarray(0, bytes.length - 1)), RaftError);
  throws(() => decodeConfigEntry(Uint8Array.of(...bytes, 0)), RaftError);
  throws(() => decodeConfigEntry(Uint8Array.of(1, 7, 1, 0, 0)), RaftError);
});
