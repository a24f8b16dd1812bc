import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { join } from "node:path";
import { BATCH_FIELD_OFFSETS, encodeRecordBatch } from "@strom/client";
import { createLogger } from "../../../broker/log.ts";
import { PartitionLog } from "../../../broker/storage/mod.ts";
import { RECOVERY_LINE_PATTERN } from "../nodes.ts";
import {
  type BatchSpan,
  flipBit,
  lastBatchSpan,
  lastSegment,
  namesPartitionDir,
  planDamage,
  recheckDetections,
} from "./corrupt.ts";
import type { FaultEvent } from "./fault.ts";

async function batch(values: string[]): Promise<Uint8Array> {
  return await encodeRecordBatch({
    records: values.map((v) => ({ value: new TextEncoder().encode(v) })),
  });
}

Deno.test("lastBatchSpan finds the last whole valid batch and ignores a torn tail", async () => {
  const a = await batch(["one"]);
  const b = await batch(["two", "three"]);
  const bytes = new Uint8Array([...a, ...b, ...a.subarray(0, 20)]);
  deepStrictEqual(lastBatchSpan(bytes), { start: a.length, end: a.length + b.length });
  strictEqual(lastBatchSpan(new Uint8Array(0)), undefined);
  strictEqual(lastBatchSpan(a.subarray(0, 30)), undefined);
});

Deno.test("planDamage tears strictly inside the batch and flips only protected bytes", () => {
  const span: BatchSpan = { start: 1000, end: 1090 };
  for (let draw = 0; draw < 5_000; draw++) {
    const tear = planDamage(span, true, draw * 2654435761 >>> 0);
    ok(tear.kind === "tear" && tear.cutAt > span.start && tear.cutAt < span.end, `${draw}`);
    const flip = planDamage(span, false, draw * 2654435761 >>> 0);
    ok(flip.kind === "flip");
    const within = flip.position - span.start;
    ok(within >= BATCH_FIELD_OFFSETS.batchLength && within < span.end - span.start, `${within}`);
    ok(within < BATCH_FIELD_OFFSETS.partitionLeaderEpoch || within >= BATCH_FIELD_OFFSETS.magic);
    ok(flip.bit >= 0 && flip.bit < 8);
  }
});

Deno.test("namesPartitionDir matches the partition's directory and not a longer name", () => {
  const line = (dir: string) =>
    `2026-01-01T00:00:00.000Z WARN  recovery truncated a torn or corrupt log tail dir=${dir} segment=0`;
  ok(namesPartitionDir(line("/tmp/x/node-2/chaos-3"), "chaos", 3));
  ok(namesPartitionDir(`dir="/tmp/a b/chaos-3"`, "chaos", 3));
  ok(!namesPartitionDir(line("/tmp/x/node-2/chaos-30"), "chaos", 3));
  ok(!namesPartitionDir(line("/tmp/x/node-2/xchaos-3"), "chaos", 3));
  ok(!namesPartitionDir(line("/tmp/x/node-2/chaos-admin-3"), "chaos", 3));
  ok(RECOVERY_LINE_PATTERN.test(line("/d/chaos-3")));
});

/**
 * The nemesis' damage must be something the storage layer detects: for many
 * draws, write a log, close it cleanly (the recovery point then covers the
 * whole log, the hardest case), damage the last batch as the fault does,
 * reopen, and expect the warning naming the directory and the bad batch cut.
 */
Deno.test("the storage layer reports and cuts every tear and flip the corrupt fault makes", async () => {
  const root = await Deno.makeTempDir({ prefix: "strom-corrupt-" });
  try {
    for (let i = 0; i < 48; i++) {
      const dir = join(root, `chaos-${i}`);
      const lines: string[] = [];
      const logger = createLogger({ sink: (l) => lines.push(l) });
      const log = await PartitionLog.open({ dir, logger });
      const values = Array.from({ length: 1 + (i % 4) }, (_, k) => `value-${i}-${k}`);
      for (let b = 0; b < 3; b++) {
        await log.append(await batch(values), { assignOffsets: true, leaderEpoch: 1 });
      }
      const lastBase = log.logEndOffset - values.length;
      await log.close();
      const segment = (await lastSegment(dir))!;
      const span = lastBatchSpan(await Deno.readFile(segment))!;
      const draw = (i * 2654435761 + 12345) >>> 0;
      const damage = planDamage(span, i % 2 === 0, draw);
      if (damage.kind === "tear") await Deno.truncate(segment, damage.cutAt);
      else await flipBit(segment, damage.position, damage.bit);
      lines.length = 0;
      const reopened = await PartitionLog.open({ dir, logger });
      try {
        const found = lines.filter((l) =>
          RECOVERY_LINE_PATTERN.test(l) && namesPartitionDir(l, "chaos", i)
        );
        strictEqual(found.length, 1, `${JSON.stringify(damage)}: ${lines.join("\n")}`);
        ok(found[0].includes(`validBytes=${span.start}`), found[0]);
        strictEqual(reopened.logEndOffset, lastBase, JSON.stringify(damage));
      } finally {
        await reopened.close();
      }
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a corruption reported after the detection wait counts as detected late; one never reported stays undetected", () => {
  const line = (p: number) =>
    `WARN  recovery truncated a torn or corrupt log tail dir=/d/node-3/chaos-${p} segment=0`;
  // Processes started: #0 node 1, #1 node 3 (before the damage), #2 node 3 (after it).
  const started = [
    { id: 1, lines: [line(0)] },
    { id: 3, lines: [line(0)] },
    { id: 3, lines: [line(2)] },
  ];
  const nodes = {
    recoveryLinesSince: (id: number, since: number) =>
      started.slice(since).filter((c) => c.id === id).flatMap((c) => c.lines),
  };
  const fault = (partition: number, processesBefore: number): FaultEvent => ({
    kind: "corrupt",
    index: partition,
    atMs: 0,
    variant: "flipped-bit",
    nodes: [3],
    heldMs: 30_000,
    detail: { partition, processesBefore },
    detected: false,
  });
  const [late, before, missed] = recheckDetections(nodes, "chaos", [
    fault(2, 2),
    fault(0, 2), // node 3 reported partition 0 only before this damage: not this one
    fault(1, 2),
  ]);
  strictEqual(late.detected, true);
  strictEqual(late.detail?.detectedLate, true);
  strictEqual(before.detected, false);
  strictEqual(missed.detected, false);
});
