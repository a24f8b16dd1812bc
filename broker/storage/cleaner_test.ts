import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { readBatchHeader, splitBatches } from "@strom/client";
import { compactLog, LogCleaner } from "./cleaner.ts";
import { PartitionLog } from "./partition_log.ts";
import { SimDisk } from "./sim_disk.ts";
import { DISK_FIXTURES, makeBatch, makeKeyedBatch, recordsOf } from "./_test_util.ts";

const LEADER = { assignOffsets: true, leaderEpoch: 0 } as const;
const COMPACT = {
  cleanupPolicy: "compact",
  segmentBytesMax: 400,
  deleteRetentionMs: 1_000,
} as const;

async function readAll(log: PartitionLog) {
  const out: Array<[number, string | null, string | null]> = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const read = await log.read(offset, 1 << 20);
    if (read.batches.length === 0) break;
    out.push(...(await recordsOf(read.batches)).filter(([o]) => o >= offset));
    offset = read.nextOffset;
  }
  return out;
}

for (const factory of DISK_FIXTURES) {
  Deno.test(`${factory.name}: compaction keeps the latest value per key and keeps offsets`, async () => {
    const fixture = await factory.create();
    const clockMs = 10_000;
    const log = await PartitionLog.open({
      dir: fixture.dir,
      disk: fixture.disk,
      config: COMPACT,
      clock: () => clockMs,
    });
    try {
      for (let round = 0; round < 6; round++) {
        await log.append(
          makeKeyedBatch([["a", `a${round}`], ["b", `b${round}`], ["c", `c${round}`]], clockMs),
          LEADER,
        );
      }
      await log.append(makeKeyedBatch([["a", "final"]], clockMs), LEADER);
      const before = await readAll(log);
      const result = await compactLog(log);
      ok(result.cleanedSegments > 0);
      ok(result.supersededRecords > 0);
      ok(result.bytesAfter < result.bytesBefore);
      const after = await readAll(log);
      // Each surviving record keeps its offset and value.
      const beforeByOffset = new Map(before.map((r) => [r[0], r]));
      for (const record of after) deepStrictEqual(record, beforeByOffset.get(record[0]));
      // The latest value of every key is still readable.
      const latest = new Map<string, string | null>();
      for (const [, key, value] of before) latest.set(key!, value);
      const latestAfter = new Map<string, string | null>();
      for (const [, key, value] of after) latestAfter.set(key!, value);
      deepStrictEqual(latestAfter, latest);
      ok(after.length < before.length);
      // Appends continue after the last offset, unaffected.
      strictEqual((await log.append(makeKeyedBatch([["d", "1"]]), LEADER)).baseOffset, 19);
      // A second pass finds nothing more to remove in what it already cleaned.
      strictEqual((await compactLog(log)).supersededRecords, 0);
    } finally {
      await log.close();
      await fixture.dispose();
    }
  });
}

Deno.test("compaction drops tombstones only after delete.retention.ms", async () => {
  const disk = new SimDisk();
  let clockMs = 10_000;
  const log = await PartitionLog.open({
    dir: "/d/t-0",
    disk,
    config: COMPACT,
    clock: () => clockMs,
  });
  try {
    await log.append(makeKeyedBatch([["k", "v1"], ["x", "x1"]], 10_000), LEADER);
    await log.append(makeKeyedBatch([["k", null]], 10_000), LEADER);
    for (let i = 0; i < 8; i++) {
      await log.append(makeKeyedBatch([[`f${i}`, "filler-value-".repeat(3)]], 10_000), LEADER);
    }
    await compactLog(log);
    let records = await readAll(log);
    ok(
      records.some(([, key, value]) => key === "k" && value === null),
      "tombstone kept within retention",
    );
    ok(
      !records.some(([, key, value]) => key === "k" && value === "v1"),
      "value under tombstone removed",
    );
    clockMs = 20_000;
    const result = await compactLog(log);
    strictEqual(result.expiredTombstones, 1);
    records = await readAll(log);
    ok(!records.some(([, key]) => key === "k"), "tombstone dropped after retention");
    ok(records.some(([, key]) => key === "x"));
  } finally {
    await log.close();
  }
});

Deno.test("compacted segments survive reopen and a follower can continue after gaps", async () => {
  const disk = new SimDisk();
  const log = await PartitionLog.open({ dir: "/d/t-0", disk, config: COMPACT });
  for (let round = 0; round < 8; round++) {
    await log.append(makeKeyedBatch([["a", `a${round}`], ["b", `b${round}`]]), LEADER);
  }
  await compactLog(log);
  const compacted = await readAll(log);
  const end = log.logEndOffset;
  await log.close();
  const reopened = await PartitionLog.open({ dir: "/d/t-0", disk, config: COMPACT });
  try {
    deepStrictEqual(await readAll(reopened), compacted);
    strictEqual(reopened.logEndOffset, end);
    // A follower of a compacted leader copies batches with offset gaps.
    const follower = await PartitionLog.open({ dir: "/d/t-1", disk, config: COMPACT });
    let offset = 0;
    while (offset < reopened.logEndOffset) {
      const read = await reopened.read(offset, 1 << 20);
      await follower.append(read.batches.slice(), { assignOffsets: false, leaderEpoch: -1 });
      offset = read.nextOffset;
    }
    deepStrictEqual(await readAll(follower), compacted);
    await follower.close();
  } finally {
    await reopened.close();
  }
});

Deno.test("a crash during a compaction swap is completed on reopen", async () => {
  const disk = new SimDisk();
  const log = await PartitionLog.open({ dir: "/d/t-0", disk, config: COMPACT });
  for (let round = 0; round < 8; round++) {
    await log.append(makeKeyedBatch([["a", `a${round}`], ["b", `b${round}`]]), LEADER);
  }
  // Fail the swap after the .swap rename: the old .log is gone or not, .swap is durable.
  let renames = 0;
  disk.injectFault((operation) => operation === "remove" && ++renames > 1);
  await compactLog(log).catch(() => {});
  disk.injectFault(undefined);
  disk.crash("lose");
  await log.close().catch(() => {});
  const reopened = await PartitionLog.open({ dir: "/d/t-0", disk, config: COMPACT });
  try {
    const records = await readAll(reopened);
    const values = new Map(records.map(([, k, v]) => [k, v]));
    deepStrictEqual(values, new Map([["a", "a7"], ["b", "b7"]]));
    ok(
      records.length < 16,
      `the swapped-in segment is the compacted one (${records.length} records)`,
    );
    strictEqual(reopened.logEndOffset, 16);
    ok(
      !(await disk.list("/d/t-0")).some((name) =>
        name.endsWith(".swap") || name.endsWith(".cleaned")
      ),
    );
  } finally {
    await reopened.close();
  }
});

Deno.test("compaction leaves delete-policy logs alone, and the background cleaner runs and stops", async () => {
  const disk = new SimDisk();
  const plain = await PartitionLog.open({ dir: "/d/p-0", disk, config: { segmentBytesMax: 300 } });
  const compacted = await PartitionLog.open({ dir: "/d/c-0", disk, config: COMPACT });
  const cleaner = new LogCleaner({ intervalMs: 5 });
  try {
    for (let i = 0; i < 10; i++) {
      await plain.append(makeBatch({ valueBytes: 100 }), LEADER);
      await compacted.append(makeKeyedBatch([["same", `v${i}`.repeat(20)]]), LEADER);
    }
    cleaner.register(plain);
    cleaner.register(compacted);
    cleaner.start();
    for (let i = 0; i < 200 && (await readAll(compacted)).length > 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await cleaner.stop();
    ok((await readAll(compacted)).length <= 2);
    strictEqual((await readAll(plain)).length, 10);
    const last = splitBatches((await compacted.read(9, 1000)).batches)[0];
    strictEqual(readBatchHeader(last).baseOffset, 9);
  } finally {
    await cleaner.stop();
    await plain.close();
    await compacted.close();
  }
});
