import assert from "node:assert/strict";
import { ChaosUsageError, FAULT_KINDS, parseChaosArgs, parseDurationMs } from "./options.ts";

Deno.test("parseDurationMs() reads seconds, minutes, hours and bare seconds", () => {
  assert.equal(parseDurationMs("90s"), 90_000);
  assert.equal(parseDurationMs("30m"), 1_800_000);
  assert.equal(parseDurationMs("1h"), 3_600_000);
  assert.equal(parseDurationMs("250ms"), 250);
  assert.equal(parseDurationMs("12"), 12_000);
  assert.throws(() => parseDurationMs("soon"), ChaosUsageError);
});

Deno.test("parseChaosArgs() takes every flag and defaults the faults to all kinds", () => {
  const o = parseChaosArgs([
    "--duration",
    "2m",
    "--seed",
    "7",
    "--nodes",
    "5",
    "--partitions",
    "4",
    "--producers",
    "2",
    "--recovery-ms",
    "3000",
    "--report",
    "r.json",
  ])!;
  assert.deepEqual(
    [o.durationMs, o.seed, o.nodes, o.partitions, o.producers, o.recoveryMs, o.reportFile],
    [120_000, 7, 5, 4, 2, 3000, "r.json"],
  );
  assert.deepEqual(o.faults, FAULT_KINDS);
  assert.deepEqual(parseChaosArgs(["--faults", "kill,pause,kill"])!.faults, ["kill", "pause"]);
});

Deno.test("parseChaosArgs() refuses unknown fault kinds and out-of-range numbers", () => {
  assert.throws(() => parseChaosArgs(["--faults", "flood"]), /unknown kind "flood"/);
  assert.throws(() => parseChaosArgs(["--nodes", "2"]), ChaosUsageError);
  assert.throws(() => parseChaosArgs(["--bogus"]), ChaosUsageError);
  assert.equal(parseChaosArgs(["--help"]), undefined);
});
