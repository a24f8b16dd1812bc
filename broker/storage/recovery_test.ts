/**
 * Crash and corruption tests on the simulated disk: whatever a crash keeps of
 * unsynced writes, and whatever garbage ends a segment, the reopened log holds
 * every acknowledged-and-synced batch intact and serves nothing torn.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { readBatchHeader, splitBatches, verifyBatchCrc } from "@strom/client";
import { joinPath } from "./disk.ts";
import type { LogConfig } from "./config.ts";
import { PartitionLog } from "./partition_log.ts";
import { LOG_SUFFIX, segmentFileName } from "./segment.ts";
import { SimDisk, type UnsyncedFate } from "./sim_disk.ts";
import { createPrng } from "./_prng.ts";
import { makeBatch } from "./_test_util.ts";

const DIR = "/data/orders-0";
const LEADER = { assignOffsets: true, leaderEpoch: 1 } as const;

/** All batches of the log, keyed by base offset, each checked for CRC and continuity. */
async function servedBatches(log: PartitionLog): Promise<Map<number, Uint8Array>> {
  const batches = new Map<number, Uint8Array>();
  let offset = log.logStartOffset;
  let expected = offset;
  while (offset < log.logEndOffset) {
    const read = await log.read(offset, 1 << 16);
    ok(read.batches.length > 0, `no batch at ${offset} below the log end ${log.logEndOffset}`);
    for (const batch of splitBatches(read.batches)) {
      verifyBatchCrc(batch);
      const header = readBatchHeader(batch);
      strictEqual(header.baseOffset, expected, "offsets must be contiguous");
      expected = header.baseOffset + header.lastOffsetDelta + 1;
      batches.set(header.baseOffset, batch.slice());
    }
    offset = read.nextOffset;
  }
  strictEqual(expected, log.logEndOffset);
  return batches;
}

async function crashRun(
  seed: number,
  fate: UnsyncedFate,
  config: Partial<LogConfig>,
): Promise<void> {
  const prng = createPrng(seed);
  const disk = new SimDisk({ seed });
  disk.syncDelayMs = 1;
  const fullConfig = { segmentBytesMax: 2_000, indexIntervalBytes: 256, ...config };
  const log = await PartitionLog.open({ dir: DIR, disk, config: fullConfig });
  const acked = new Map<number, Uint8Array>();
  const appended = new Map<number, Uint8Array>();
  const inFlight: Promise<void>[] = [];
  const total = 20 + prng.int(40);
  const crashAfter = prng.int(total);
  for (let i = 0; i < total; i++) {
    const batch = makeBatch({ count: 1 + prng.int(4), valueBytes: 10 + prng.int(300), fill: i });
    inFlight.push(
      log.append(batch, LEADER).then((result) => {
        acked.set(result.baseOffset, batch.slice());
      }, () => {}),
    );
    appended.set(i, batch);
    if (prng.next() < 0.3) await inFlight[inFlight.length - 1];
    if (i === crashAfter) break;
  }
  disk.crash(fate);
  await Promise.allSettled(inFlight);
  await log.close().catch(() => {});
  const reopened = await PartitionLog.open({ dir: DIR, disk, config: fullConfig });
  try {
    const served = await servedBatches(reopened);
    if (fullConfig.flushIntervalMessages === 1) {
      for (const [offset, batch] of acked) {
        deepStrictEqual(
          served.get(offset),
          batch,
          `seed ${seed}: acknowledged batch at ${offset} is lost`,
        );
      }
    }
    // Whatever survived is exactly what was appended, in order (a prefix of the log).
    const appendedByContent = new Set([...appended.values()].map((b) => b.subarray(21).join(",")));
    for (const [offset, batch] of served) {
      ok(
        appendedByContent.has(batch.subarray(21).join(",")),
        `seed ${seed}: batch at ${offset} was never appended`,
      );
    }
    const next = await reopened.append(makeBatch(), LEADER);
    strictEqual(next.baseOffset, served.size === 0 ? 0 : reopened.logEndOffset - 1);
  } finally {
    await reopened.close();
  }
}

Deno.test("a crash loses no acknowledged batch when every append is fsynced (30 seeds)", async () => {
  for (let seed = 1; seed <= 30; seed++) {
    await crashRun(seed, "random", { flushIntervalMessages: 1 });
  }
});

Deno.test("after a crash without fsync the log is a clean prefix of what was appended", async () => {
  for (let seed = 100; seed < 120; seed++) {
    await crashRun(seed, seed % 2 === 0 ? "random" : "lose", {});
  }
});

Deno.test("a crash that keeps all unsynced writes keeps every append", async () => {
  const disk = new SimDisk({ seed: 5 });
  const log = await PartitionLog.open({ dir: DIR, disk, config: { segmentBytesMax: 1_000 } });
  for (let i = 0; i < 20; i++) await log.append(makeBatch({ valueBytes: 100 }), LEADER);
  disk.crash("keep");
  await log.close().catch(() => {});
  const reopened = await PartitionLog.open({ dir: DIR, disk, config: { segmentBytesMax: 1_000 } });
  try {
    strictEqual(reopened.logEndOffset, 20);
    strictEqual((await servedBatches(reopened)).size, 20);
  } finally {
    await reopened.close();
  }
});

Deno.test("random garbage after the last batch is cut, and the valid batches stay (fuzz, 40 seeds)", async () => {
  for (let seed = 1; seed <= 40; seed++) {
    const prng = createPrng(seed);
    const disk = new SimDisk({ seed });
    const log = await PartitionLog.open({ dir: DIR, disk });
    for (let i = 0; i < 5; i++) {
      await log.append(makeBatch({ count: 2, valueBytes: 50, fill: i }), LEADER);
    }
    const before = await servedBatches(log);
    await log.close();
    const path = joinPath(DIR, segmentFileName(0, LOG_SUFFIX));
    const original = disk.fileBytes(path)!;
    const garbage = new Uint8Array(1 + prng.int(300));
    for (let i = 0; i < garbage.length; i++) garbage[i] = prng.int(256);
    if (prng.next() < 0.5) {
      // Make it look like a plausible batch header so the CRC is what catches it.
      garbage.set(makeBatch({ count: 2 }).subarray(0, Math.min(garbage.length, 61)));
    }
    disk.setFileBytes(path, new Uint8Array([...original, ...garbage]));
    const reopened = await PartitionLog.open({ dir: DIR, disk });
    try {
      strictEqual(reopened.logEndOffset, 10, `seed ${seed}`);
      deepStrictEqual(await servedBatches(reopened), before);
      strictEqual(reopened.recoveryReport.truncated[0]?.truncatedBytes, garbage.length);
    } finally {
      await reopened.close();
    }
  }
});

Deno.test("a flipped byte inside a middle batch cuts the log there and deletes later segments", async () => {
  const disk = new SimDisk();
  const config = { segmentBytesMax: 600 };
  const log = await PartitionLog.open({ dir: DIR, disk, config });
  for (let i = 0; i < 12; i++) await log.append(makeBatch({ valueBytes: 100 }), LEADER);
  const bases = log.segmentBaseOffsets();
  ok(bases.length >= 3);
  // Simulate an unclean stop: the checkpoint says nothing was flushed.
  disk.crash("keep");
  await log.close().catch(() => {});
  await disk.remove(joinPath(DIR, "log-checkpoint"));
  const path = joinPath(DIR, segmentFileName(bases[1], LOG_SUFFIX));
  const bytes = disk.fileBytes(path)!;
  const secondBatchStart = bytes.length / 2 + 20; // somewhere in the second half
  bytes[Math.floor(secondBatchStart)] ^= 0x55;
  disk.setFileBytes(path, bytes);
  const reopened = await PartitionLog.open({ dir: DIR, disk, config });
  try {
    strictEqual(reopened.recoveryReport.truncated.length, 1);
    strictEqual(reopened.recoveryReport.truncated[0].segmentBaseOffset, bases[1]);
    deepStrictEqual(reopened.recoveryReport.deletedSegmentBaseOffsets, bases.slice(2));
    ok(reopened.logEndOffset > bases[1] && reopened.logEndOffset < bases[2]);
    await servedBatches(reopened);
  } finally {
    await reopened.close();
  }
});

Deno.test("an I/O error on append fails with KAFKA_STORAGE_ERROR and the log refuses more appends", async () => {
  const disk = new SimDisk();
  const log = await PartitionLog.open({ dir: DIR, disk });
  try {
    await log.append(makeBatch(), LEADER);
    disk.injectFault((operation) => operation === "write");
    await log.append(makeBatch(), LEADER).then(
      () => ok(false, "append should fail"),
      (error) => strictEqual(error.code, "KAFKA_STORAGE_ERROR"),
    );
    disk.injectFault(undefined);
    await log.append(makeBatch(), LEADER).then(
      () => ok(false, "append should fail"),
      (error) => ok(/offline/.test(error.message)),
    );
    strictEqual((await log.read(0, 100)).nextOffset, 1);
  } finally {
    await log.close();
  }
  const reopened = await PartitionLog.open({ dir: DIR, disk });
  strictEqual(reopened.logEndOffset, 1);
  await reopened.close();
});

Deno.test("a corrupt checkpoint is ignored and everything is scanned", async () => {
  const disk = new SimDisk();
  const log = await PartitionLog.open({ dir: DIR, disk, config: { segmentBytesMax: 500 } });
  for (let i = 0; i < 10; i++) await log.append(makeBatch({ valueBytes: 100 }), LEADER);
  await log.close();
  disk.setFileBytes(joinPath(DIR, "log-checkpoint"), new TextEncoder().encode("garbage"));
  disk.setFileBytes(joinPath(DIR, "leader-epoch-checkpoint"), new TextEncoder().encode("0\n9\n"));
  const reopened = await PartitionLog.open({ dir: DIR, disk, config: { segmentBytesMax: 500 } });
  try {
    strictEqual(reopened.recoveryReport.checkpointProblems.length, 2);
    strictEqual(reopened.recoveryReport.scannedSegments, reopened.segmentCount);
    strictEqual(reopened.logEndOffset, 10);
    deepStrictEqual(reopened.epochCache.entries(), [{ epoch: 1, startOffset: 0 }]);
  } finally {
    await reopened.close();
  }
});

Deno.test("opening syncs only what the checkpoint does not cover: nothing for a new or cleanly closed log", async () => {
  const disk = new SimDisk({ seed: 7 });
  const open = () => PartitionLog.open({ dir: DIR, disk });
  const syncsOf = async (fn: () => Promise<PartitionLog>) => {
    const before = disk.syncCount;
    const log = await fn();
    return { log, syncs: disk.syncCount - before };
  };
  // A new log: nothing to make durable yet (a crash just loses an empty log).
  const created = await syncsOf(open);
  strictEqual(created.syncs, 0, "a new log is opened without fsync");
  await created.log.append(makeBatch(), LEADER);
  await created.log.flush();
  await created.log.append(makeBatch(), LEADER);
  await created.log.close();
  // Closed cleanly: the checkpoint covers the whole log.
  const clean = await syncsOf(open);
  strictEqual(clean.syncs, 0, "a cleanly closed log is reopened without fsync");
  strictEqual(clean.log.logEndOffset, 2);
  strictEqual(clean.log.recoveryPoint, 2);
  await clean.log.append(makeBatch(), LEADER);
  // Crash (the OS keeps what was written): offset 2 lies past the checkpoint.
  disk.crash("keep");
  const crashed = await syncsOf(open);
  ok(crashed.syncs > 0, "what lies past the checkpoint is synced at open");
  strictEqual(crashed.log.logEndOffset, 3);
  strictEqual(crashed.log.recoveryPoint, 3);
  await crashed.log.close();
  // An empty log killed before it was ever flushed has nothing for a checkpoint to cover.
  await PartitionLog.open({ dir: "/data/empty-0", disk });
  disk.crash("keep");
  const empty = await syncsOf(() => PartitionLog.open({ dir: "/data/empty-0", disk }));
  strictEqual(empty.syncs, 0, "an empty log is reopened without fsync, checkpoint or not");
  strictEqual(empty.log.logEndOffset, 0);
  const beforeClose = disk.syncCount;
  await empty.log.close();
  strictEqual(disk.syncCount, beforeClose, "closing an empty log has nothing to sync");
  // The first flush of a new log makes its directory durable: a crash after it keeps the data.
  const fresh = "/data/fresh-0";
  const log = await PartitionLog.open({ dir: fresh, disk, config: { flushIntervalMessages: 1 } });
  await log.append(makeBatch(), LEADER);
  disk.crash("lose");
  const reopened = await PartitionLog.open({ dir: fresh, disk });
  strictEqual(reopened.logEndOffset, 1, "the synced append survives the crash");
  await reopened.close();
});

Deno.test("index files are created by a segment's first sync: none for an empty log, no rebuild after a crash", async () => {
  const disk = new SimDisk({ seed: 11 });
  const dir = "/data/lazy-0";
  const files = async () => (await disk.list(dir)).filter((n) => !n.includes("checkpoint")).sort();
  const log0 = segmentFileName(0, LOG_SUFFIX);
  const indexes0 = [segmentFileName(0, ".index"), segmentFileName(0, ".timeindex")];
  // A new log, and the same log reopened after a clean close and after a crash: only its
  // .log file, and nothing reported as rebuilt.
  await (await PartitionLog.open({ dir, disk })).close();
  deepStrictEqual(await files(), [log0]);
  const reopened = await PartitionLog.open({ dir, disk });
  deepStrictEqual(reopened.recoveryReport.rebuiltIndexes, []);
  disk.crash("keep");
  const afterCrash = await PartitionLog.open({ dir, disk, config: { flushIntervalMessages: 1 } });
  deepStrictEqual(afterCrash.recoveryReport.rebuiltIndexes, []);
  deepStrictEqual(await files(), [log0]);
  // The first fsynced append creates them, so the recovery point never passes a non-empty
  // segment without its index files: a crash then needs no rebuild.
  await afterCrash.append(makeBatch(), LEADER);
  deepStrictEqual(await files(), [log0, ...indexes0].sort());
  disk.crash("keep");
  const recovered = await PartitionLog.open({ dir, disk });
  strictEqual(recovered.recoveryPoint, 1);
  deepStrictEqual(recovered.recoveryReport.rebuiltIndexes, []);
  strictEqual((await servedBatches(recovered)).size, 1);
  await recovered.close();
});

Deno.test("opening a new log reads no file that its directory listing does not show", async () => {
  const sim = new SimDisk({ seed: 12 });
  const misses: string[] = [];
  // Every read of a missing file costs a NotFound error on the real disk.
  const disk = new Proxy(sim, {
    get(target, key) {
      if (key === "sizeOf") {
        return async (path: string) => {
          const size = await target.sizeOf(path);
          if (size === undefined) misses.push(path);
          return size;
        };
      }
      const value = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const log = await PartitionLog.open({ dir: "/data/new-0", disk });
  deepStrictEqual(misses, []);
  strictEqual(log.emptyAtOpen, true);
  await log.append(makeBatch(), LEADER);
  await log.close();
  const reopened = await PartitionLog.open({ dir: "/data/new-0", disk });
  strictEqual(reopened.emptyAtOpen, false);
  strictEqual(reopened.logEndOffset, 1);
  await reopened.close();
});
