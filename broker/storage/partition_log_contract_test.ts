/**
 * The partition log's contract suite, run over the simulated disk and the
 * real disk alike: every behaviour here must hold on both.
 */

import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { readBatchHeader, StromError } from "@strom/client";
import type { LogConfig } from "./config.ts";
import { joinPath, readWholeFile } from "./disk.ts";
import { decodeEpochCheckpoint, LEADER_EPOCH_CHECKPOINT_FILE } from "./leader_epoch_cache.ts";
import { type AppendOptions, PartitionLog, RECENT_APPENDS_MAX } from "./partition_log.ts";
import { concatBytes as concat } from "../concat_bytes.ts";
import { INDEX_SUFFIX, LOG_SUFFIX, segmentFileName } from "./segment.ts";
import { SegmentCache } from "./segment_cache.ts";
import { batchCount, DISK_FIXTURES, type DiskFixture, makeBatch, recordsOf } from "./_test_util.ts";

const LEADER: AppendOptions = { assignOffsets: true, leaderEpoch: 0 };

interface Harness {
  readonly fixture: DiskFixture;
  clockMs: number;
  open(
    config?: Partial<LogConfig>,
    extra?: { segmentCache?: SegmentCache; dir?: string },
  ): Promise<PartitionLog>;
}

type Case = (h: Harness) => Promise<void>;

const cases: Record<string, Case> = {};

function contract(name: string, body: Case): void {
  cases[name] = body;
}

/** Every record of the log as [offset, key, value], reading segment by segment. */
async function readAll(log: PartitionLog): Promise<Array<[number, string | null, string | null]>> {
  const out: Array<[number, string | null, string | null]> = [];
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const read = await log.read(offset, 1 << 20);
    if (read.batches.length === 0) break;
    out.push(...await recordsOf(read.batches));
    offset = read.nextOffset;
  }
  return out;
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  await rejects(promise, (error: unknown) => {
    ok(error instanceof StromError, `expected a StromError, got ${error}`);
    strictEqual(error.code, code);
    return true;
  });
}

contract("append() assigns contiguous offsets and read() returns the batches", async (h) => {
  const log = await h.open();
  try {
    deepStrictEqual(
      { ...(await log.append(makeBatch({ count: 3 }), LEADER)), logAppendTimeMs: 0 },
      { baseOffset: 0, lastOffset: 2, logAppendTimeMs: 0, batchCount: 1 },
    );
    strictEqual((await log.append(makeBatch({ count: 2 }), LEADER)).baseOffset, 3);
    strictEqual(log.logEndOffset, 5);
    const read = await log.read(0, 1 << 20);
    strictEqual(batchCount(read.batches), 2);
    strictEqual(read.nextOffset, 5);
    deepStrictEqual((await recordsOf(read.batches)).map(([offset]) => offset), [0, 1, 2, 3, 4]);
    strictEqual(readBatchHeader(read.batches).partitionLeaderEpoch, 0);
  } finally {
    await log.close();
  }
});

contract("append() takes several concatenated batches at once", async (h) => {
  const log = await h.open();
  try {
    const both = new Uint8Array([...makeBatch({ count: 2 }), ...makeBatch({ count: 3 })]);
    const result = await log.append(both, LEADER);
    deepStrictEqual([result.baseOffset, result.lastOffset, result.batchCount], [0, 4, 2]);
    deepStrictEqual((await recordsOf((await log.read(2, 1 << 20)).batches)).map(([o]) => o), [
      2,
      3,
      4,
    ]);
  } finally {
    await log.close();
  }
});

contract("read() inside a batch returns that whole batch", async (h) => {
  const log = await h.open();
  try {
    await log.append(makeBatch({ count: 10 }), LEADER);
    const read = await log.read(4, 1);
    strictEqual(readBatchHeader(read.batches).baseOffset, 0);
    strictEqual(read.nextOffset, 10);
  } finally {
    await log.close();
  }
});

contract("read() stops at maxBytes but always returns at least one batch", async (h) => {
  const log = await h.open();
  try {
    for (let i = 0; i < 5; i++) await log.append(makeBatch({ valueBytes: 1000 }), LEADER);
    strictEqual(batchCount((await log.read(0, 10)).batches), 1);
    const two = await log.read(0, 2500);
    strictEqual(batchCount(two.batches), 2);
    strictEqual(two.nextOffset, 2);
  } finally {
    await log.close();
  }
});

contract(
  "read() outside [logStartOffset, logEndOffset] fails with OFFSET_OUT_OF_RANGE",
  async (h) => {
    const log = await h.open();
    try {
      await log.append(makeBatch({ count: 2 }), LEADER);
      await expectCode(log.read(3, 100), "OFFSET_OUT_OF_RANGE");
      await expectCode(log.read(-1, 100), "OFFSET_OUT_OF_RANGE");
      const atEnd = await log.read(2, 100);
      strictEqual(atEnd.batches.length, 0);
      strictEqual(atEnd.nextOffset, 2);
    } finally {
      await log.close();
    }
  },
);

contract("read() with endOffsetMax returns only batches below it", async (h) => {
  const log = await h.open();
  try {
    await log.append(makeBatch({ count: 2 }), LEADER);
    await log.append(makeBatch({ count: 2 }), LEADER);
    const read = await log.read(0, 1 << 20, { endOffsetMax: 2 });
    strictEqual(batchCount(read.batches), 1);
    strictEqual(read.nextOffset, 2);
    strictEqual((await log.read(2, 1 << 20, { endOffsetMax: 2 })).batches.length, 0);
  } finally {
    await log.close();
  }
});

contract(
  "a read of exactly the last append returns what is on disk, and nothing stale after a truncation",
  async (h) => {
    let log = await h.open();
    try {
      await log.append(makeBatch({ count: 3, fill: 1 }), LEADER);
      const second = makeBatch({ count: 2, fill: 2 });
      await log.append(second, LEADER);
      const recent = await log.read(3, 1 << 20);
      strictEqual(recent.batches, second, "answered from memory, no file read");
      strictEqual(recent.nextOffset, 5);
      strictEqual(readBatchHeader(recent.batches).baseOffset, 3, "offsets as assigned");
      // Bounded reads keep their meaning at the log end.
      strictEqual((await log.read(3, 1 << 20, { endOffsetMax: 4 })).batches.length, 0);
      strictEqual(batchCount((await log.read(3, 1)).batches), 1);
      await log.close();
      log = await h.open();
      deepStrictEqual(
        (await log.read(3, 1 << 20)).batches,
        recent.batches,
        "same bytes as the file",
      );

      await log.append(makeBatch({ count: 2, fill: 3 }), LEADER);
      await log.truncateTo(5);
      strictEqual((await log.read(5, 1 << 20)).batches.length, 0, "the cut append is gone");
      await log.append(makeBatch({ count: 4, fill: 4 }), LEADER);
      const replaced = await log.read(5, 1 << 20);
      strictEqual(replaced.nextOffset, 9);
      deepStrictEqual((await recordsOf(replaced.batches)).map(([offset]) => offset), [5, 6, 7, 8]);
      strictEqual((await recordsOf(replaced.batches))[0][2]?.charCodeAt(0), 4, "the new records");
      await log.deleteRecordsBefore(9);
      await expectCode(log.read(5, 1 << 20), "OFFSET_OUT_OF_RANGE");
    } finally {
      await log.close();
    }
    await rejects(log.read(5, 1 << 20));
  },
);

contract(
  "readParts() answers from the latest appends as parts, and from the files when they are not all there",
  async (h) => {
    const log = await h.open();
    try {
      const appended = [1, 2, 3].map((fill) => makeBatch({ count: fill, fill }));
      for (const batch of appended) await log.append(batch, LEADER);
      const [one, two, three] = appended;
      const all = await log.readParts(0, 1 << 20);
      strictEqual(all.parts.length, 3, "three appends, three parts, no file read");
      all.parts.forEach((part, i) => strictEqual(part, appended[i]));
      deepStrictEqual([all.bytes, all.nextOffset], [one.length + two.length + three.length, 6]);
      const joined = await log.read(0, 1 << 20);
      deepStrictEqual(joined.batches, new Uint8Array([...one, ...two, ...three]), "read() joins");
      // Budgets and limits end the parts early, never inside an append.
      deepStrictEqual((await log.readParts(1, two.length + three.length - 1)).parts, [two]);
      deepStrictEqual((await log.readParts(1, 1 << 20, { endOffsetMax: 3 })).parts, [two]);
      deepStrictEqual((await log.readParts(6, 1 << 20)).parts, [], "nothing at the log end");
      // An offset inside an append is not an append's start: the file answers, from its batch.
      const inside = await log.readParts(4, 1 << 20);
      strictEqual(inside.parts.length, 1);
      deepStrictEqual(inside.parts[0], three);
      strictEqual(inside.nextOffset, 6);

      // Older than the last RECENT_APPENDS_MAX appends: from the files, the same bytes.
      for (let i = 0; i < RECENT_APPENDS_MAX; i++) await log.append(makeBatch({ fill: 9 }), LEADER);
      const old = await log.readParts(0, one.length);
      strictEqual(old.parts.length, 1);
      ok(old.parts[0] !== one, "read from the file");
      deepStrictEqual(old.parts[0], one);
      strictEqual((await log.readParts(6, 1 << 20)).parts.length, RECENT_APPENDS_MAX);

      // A truncation forgets them all: the offsets may be written again with other records.
      await log.truncateTo(3);
      await log.append(makeBatch({ count: 2, fill: 5 }), LEADER);
      const after = await log.readParts(1, 1 << 20);
      deepStrictEqual(after.nextOffset, 5);
      const records = await recordsOf(concat(after.parts));
      deepStrictEqual(records.map(([offset]) => offset), [1, 2, 3, 4]);
      deepStrictEqual(records.map(([, , value]) => value?.charCodeAt(0)), [2, 2, 5, 5]);
    } finally {
      await log.close();
    }
  },
);

contract("append() rejects a batch with a bad CRC and appends nothing", async (h) => {
  const log = await h.open();
  try {
    const batch = makeBatch({ count: 2 });
    batch[batch.length - 1] ^= 0xff;
    await expectCode(log.append(batch, LEADER), "CORRUPT_MESSAGE");
    await expectCode(log.append(new Uint8Array(30), LEADER), "CORRUPT_MESSAGE");
    strictEqual(log.logEndOffset, 0);
  } finally {
    await log.close();
  }
});

contract(
  "a bad CRC after good batches leaves the file, the epochs and reads as they were",
  async (h) => {
    const log = await h.open();
    const path = joinPath(h.fixture.dir, segmentFileName(0, LOG_SUFFIX));
    try {
      await log.append(makeBatch({ count: 3 }), LEADER);
      const before = await log.read(0, 1 << 20);
      const sizeBefore = log.sizeBytes;
      // The batch is written while its CRC is checked; a failed check must cut it off again.
      const good = makeBatch({ count: 2 });
      const bad = makeBatch({ count: 4, valueBytes: 2000 });
      bad[bad.length - 1] ^= 0x01;
      await expectCode(
        log.append(new Uint8Array([...good, ...bad]), { assignOffsets: true, leaderEpoch: 7 }),
        "CORRUPT_MESSAGE",
      );
      strictEqual(log.logEndOffset, 3);
      strictEqual(log.sizeBytes, sizeBefore);
      strictEqual(log.epochCache.latestEpoch, 0);
      strictEqual(await h.fixture.disk.sizeOf(path), sizeBefore);
      deepStrictEqual(await log.read(0, 1 << 20), before);
      strictEqual((await log.append(makeBatch({ count: 2 }), LEADER)).baseOffset, 3);
      deepStrictEqual((await readAll(log)).map(([offset]) => offset), [0, 1, 2, 3, 4]);
    } finally {
      await log.close();
    }
    const reopened = await h.open();
    try {
      strictEqual(reopened.recoveryReport.truncated.length, 0);
      strictEqual(reopened.logEndOffset, 5);
    } finally {
      await reopened.close();
    }
  },
);

contract("append() rejects a batch over max.message.bytes with MESSAGE_TOO_LARGE", async (h) => {
  const log = await h.open({ maxMessageBytes: 500 });
  try {
    await expectCode(log.append(makeBatch({ valueBytes: 600 }), LEADER), "MESSAGE_TOO_LARGE");
  } finally {
    await log.close();
  }
});

contract("segments roll by size and reads cross segment boundaries", async (h) => {
  const log = await h.open({ segmentBytesMax: 2000, indexIntervalBytes: 100 });
  try {
    for (let i = 0; i < 40; i++) await log.append(makeBatch({ count: 2, valueBytes: 100 }), LEADER);
    ok(log.segmentCount > 5, `expected many segments, got ${log.segmentCount}`);
    let offset = 0;
    const seen: number[] = [];
    while (offset < log.logEndOffset) {
      const read = await log.read(offset, 700);
      for (const [o] of await recordsOf(read.batches)) seen.push(o);
      offset = read.nextOffset;
    }
    deepStrictEqual(seen, Array.from({ length: 80 }, (_, i) => i));
    for (const probe of [0, 17, 39, 40, 41, 79]) {
      const header = readBatchHeader((await log.read(probe, 1)).batches);
      ok(header.baseOffset <= probe && probe <= header.baseOffset + header.lastOffsetDelta);
    }
  } finally {
    await log.close();
  }
});

contract("segments roll by age on the injected clock", async (h) => {
  const log = await h.open({ segmentAgeMsMax: 1000 });
  try {
    await log.append(makeBatch(), LEADER);
    h.clockMs += 500;
    await log.append(makeBatch(), LEADER);
    strictEqual(log.segmentCount, 1);
    h.clockMs += 600;
    await log.append(makeBatch(), LEADER);
    deepStrictEqual(log.segmentBaseOffsets(), [0, 2]);
  } finally {
    await log.close();
  }
});

contract("a closed and reopened log has the same offsets, data and epochs", async (h) => {
  const config = { segmentBytesMax: 1500, indexIntervalBytes: 200 };
  const first = await h.open(config);
  for (let i = 0; i < 20; i++) {
    await first.append(makeBatch({ count: 3, valueBytes: 50, fill: i }), {
      assignOffsets: true,
      leaderEpoch: i < 10 ? 1 : 4,
    });
  }
  const before = await first.read(0, 1 << 20);
  const segments = first.segmentBaseOffsets();
  await first.close();
  const log = await h.open(config);
  try {
    strictEqual(log.logEndOffset, 60);
    deepStrictEqual(log.segmentBaseOffsets(), segments);
    deepStrictEqual(log.recoveryReport.truncated, []);
    deepStrictEqual(log.epochCache.entries(), [{ epoch: 1, startOffset: 0 }, {
      epoch: 4,
      startOffset: 30,
    }]);
    deepStrictEqual(await log.read(0, 1 << 20), before);
    strictEqual(
      (await log.append(makeBatch(), { assignOffsets: true, leaderEpoch: 4 })).baseOffset,
      60,
    );
  } finally {
    await log.close();
  }
});

contract("a follower append keeps the leader's offsets and must continue the log", async (h) => {
  const leader = await h.open();
  const followerFixture = { ...h };
  try {
    await leader.append(makeBatch({ count: 2 }), { assignOffsets: true, leaderEpoch: 3 });
    await leader.append(makeBatch({ count: 2 }), { assignOffsets: true, leaderEpoch: 5 });
    const fetched = (await leader.read(0, 1 << 20)).batches;
    await leader.truncateFullyAndStartAt(0);
    const follower = leader;
    const result = await follower.append(fetched.slice(), {
      assignOffsets: false,
      leaderEpoch: -1,
    });
    deepStrictEqual([result.baseOffset, result.lastOffset], [0, 3]);
    deepStrictEqual(follower.epochCache.entries(), [{ epoch: 3, startOffset: 0 }, {
      epoch: 5,
      startOffset: 2,
    }]);
    await expectCode(
      follower.append(fetched.slice(), { assignOffsets: false, leaderEpoch: -1 }),
      "OFFSET_OUT_OF_RANGE",
    );
    strictEqual(followerFixture.fixture, h.fixture);
  } finally {
    await leader.close();
  }
});

contract(
  "truncateTo() at the log end drops an epoch that starts there with no records",
  async (h) => {
    // A leader of epoch 1 that appended nothing leaves "1 at LEO" behind; when
    // it follows again and is told to truncate at its LEO, that entry must go,
    // or its next fetch names epoch 1 again and diverges forever.
    const log = await h.open({});
    try {
      await log.append(makeBatch({ count: 3 }), { assignOffsets: true, leaderEpoch: 0 });
      log.epochCache.assign(1, log.logEndOffset);
      await log.truncateTo(3);
      strictEqual(log.logEndOffset, 3);
      deepStrictEqual(log.epochCache.entries(), [{ epoch: 0, startOffset: 0 }]);
      await log.close();
      const reopened = await h.open({});
      deepStrictEqual(reopened.epochCache.entries(), [{ epoch: 0, startOffset: 0 }]);
      await reopened.close();
    } finally {
      await log.close();
    }
  },
);

contract(
  "an epoch a new leader records in memory is persisted by its first append",
  async (h) => {
    const epochFile = async () => {
      const bytes = await readWholeFile(
        h.fixture.disk,
        joinPath(h.fixture.dir, LEADER_EPOCH_CHECKPOINT_FILE),
      );
      return bytes === undefined ? [] : decodeEpochCheckpoint(bytes);
    };
    const log = await h.open({});
    try {
      await log.append(makeBatch({ count: 2 }), { assignOffsets: true, leaderEpoch: 0 });
      // A new leader of epoch 3 records its start at the LEO without writing the file.
      log.epochCache.assign(3, log.logEndOffset);
      deepStrictEqual(await epochFile(), [{ epoch: 0, startOffset: 0 }]);
      await log.append(makeBatch(), { assignOffsets: true, leaderEpoch: 3 });
      deepStrictEqual(await epochFile(), [
        { epoch: 0, startOffset: 0 },
        { epoch: 3, startOffset: 2 },
      ]);
    } finally {
      await log.close();
    }
  },
);

contract(
  "truncateTo() removes the suffix and its epochs, and appends continue there",
  async (h) => {
    const log = await h.open({ segmentBytesMax: 600 });
    try {
      for (let epoch = 0; epoch < 3; epoch++) {
        for (let i = 0; i < 4; i++) {
          await log.append(makeBatch({ count: 2, valueBytes: 60 }), {
            assignOffsets: true,
            leaderEpoch: epoch,
          });
        }
      }
      strictEqual(log.logEndOffset, 24);
      await log.truncateTo(11);
      strictEqual(log.logEndOffset, 10);
      deepStrictEqual(log.epochCache.entries(), [{ epoch: 0, startOffset: 0 }, {
        epoch: 1,
        startOffset: 8,
      }]);
      await expectCode(log.read(12, 100), "OFFSET_OUT_OF_RANGE");
      strictEqual(
        (await log.append(makeBatch(), { assignOffsets: true, leaderEpoch: 7 })).baseOffset,
        10,
      );
      strictEqual((await readAll(log)).length, 11);
      await log.close();
      const reopened = await h.open({ segmentBytesMax: 600 });
      strictEqual(reopened.logEndOffset, 11);
      deepStrictEqual(reopened.epochCache.endOffsetFor(1), { epoch: 1, endOffset: 10 });
      await reopened.close();
    } finally {
      await log.close();
    }
  },
);

contract("epochCache.endOffsetFor() answers per KIP-279", async (h) => {
  const log = await h.open();
  try {
    await log.append(makeBatch({ count: 5 }), { assignOffsets: true, leaderEpoch: 1 });
    await log.append(makeBatch({ count: 5 }), { assignOffsets: true, leaderEpoch: 3 });
    deepStrictEqual(log.epochCache.endOffsetFor(3), { epoch: 3, endOffset: 10 });
    deepStrictEqual(log.epochCache.endOffsetFor(1), { epoch: 1, endOffset: 5 });
    deepStrictEqual(log.epochCache.endOffsetFor(2), { epoch: 1, endOffset: 5 });
    deepStrictEqual(log.epochCache.endOffsetFor(0), { epoch: 0, endOffset: 0 });
    deepStrictEqual(log.epochCache.endOffsetFor(4), { epoch: -1, endOffset: -1 });
  } finally {
    await log.close();
  }
});

contract(
  "append() as leader with an epoch older than the log's fails with FENCED_LEADER_EPOCH",
  async (h) => {
    const log = await h.open();
    try {
      await log.append(makeBatch(), { assignOffsets: true, leaderEpoch: 5 });
      await expectCode(
        log.append(makeBatch(), { assignOffsets: true, leaderEpoch: 4 }),
        "FENCED_LEADER_EPOCH",
      );
    } finally {
      await log.close();
    }
  },
);

contract(
  "deleteRecordsBefore() hides records, deletes whole segments and survives reopen",
  async (h) => {
    const config = { segmentBytesMax: 500 };
    const log = await h.open(config);
    for (let i = 0; i < 12; i++) await log.append(makeBatch({ count: 2, valueBytes: 80 }), LEADER);
    const segmentsBefore = log.segmentCount;
    await log.deleteRecordsBefore(9);
    strictEqual(log.logStartOffset, 9);
    ok(log.segmentCount < segmentsBefore);
    await expectCode(log.read(8, 100), "OFFSET_OUT_OF_RANGE");
    ok((await log.read(9, 100)).batches.length > 0);
    await expectCode(log.deleteRecordsBefore(25), "OFFSET_OUT_OF_RANGE");
    await log.close();
    const reopened = await h.open(config);
    try {
      strictEqual(reopened.logStartOffset, 9);
      await reopened.deleteRecordsBefore(24);
      strictEqual(reopened.logStartOffset, 24);
      strictEqual((await reopened.append(makeBatch(), LEADER)).baseOffset, 24);
    } finally {
      await reopened.close();
    }
  },
);

contract(
  "retention deletes whole segments by size, oldest first, never the active one",
  async (h) => {
    const log = await h.open({ segmentBytesMax: 500, retentionBytes: 1000, retentionMs: -1 });
    try {
      for (let i = 0; i < 20; i++) await log.append(makeBatch({ valueBytes: 100 }), LEADER);
      const result = await log.enforceRetention();
      ok(result.deletedSegments > 0);
      ok(log.sizeBytes <= 1000 + 500, `log is ${log.sizeBytes} bytes`);
      strictEqual(log.logStartOffset, log.segmentBaseOffsets()[0]);
      strictEqual(result.logStartOffset, log.logStartOffset);
      strictEqual(log.logEndOffset, 20);
    } finally {
      await log.close();
    }
  },
);

contract("retention deletes segments whose newest record is older than retention.ms", async (h) => {
  const log = await h.open({ segmentBytesMax: 300, retentionMs: 10_000 });
  try {
    for (let i = 0; i < 10; i++) {
      await log.append(makeBatch({ valueBytes: 100, timestampMs: 1_000 * i }), LEADER);
    }
    h.clockMs = 15_500; // records with timestamps < 5_500 are expired
    await log.enforceRetention();
    const first = readBatchHeader((await log.read(log.logStartOffset, 1)).batches);
    ok(first.maxTimestamp >= 4_000, `oldest kept timestamp ${first.maxTimestamp}`);
    ok(log.logStartOffset > 0);
    h.clockMs = 100_000; // everything expired: the active segment is rolled and deleted too
    await log.enforceRetention();
    strictEqual(log.logStartOffset, 10);
    strictEqual(log.logEndOffset, 10);
    strictEqual((await log.read(10, 100)).batches.length, 0);
  } finally {
    await log.close();
  }
});

contract("offsetForTimestamp() finds the first batch at or after a time", async (h) => {
  const log = await h.open({ segmentBytesMax: 400, indexIntervalBytes: 50 });
  try {
    for (let i = 0; i < 20; i++) {
      await log.append(makeBatch({ count: 2, timestampMs: 100 * i }), LEADER);
    }
    deepStrictEqual(await log.offsetForTimestamp(0), { offset: 0, timestampMs: 1 });
    deepStrictEqual(await log.offsetForTimestamp(750), { offset: 16, timestampMs: 801 });
    deepStrictEqual(await log.offsetForTimestamp(1901), { offset: 38, timestampMs: 1901 });
    strictEqual(await log.offsetForTimestamp(5000), undefined);
  } finally {
    await log.close();
  }
});

contract("open segment files stay within openSegmentFilesMax", async (h) => {
  const cache = new SegmentCache(3);
  const log = await h.open({ segmentBytesMax: 300 }, { segmentCache: cache });
  try {
    for (let i = 0; i < 30; i++) await log.append(makeBatch({ valueBytes: 100 }), LEADER);
    await log.flush();
    ok(log.segmentCount >= 10);
    // Rolled segments become evictable once synced: the flush unloads them, no read needed.
    ok(cache.loadedCount <= 3, `${cache.loadedCount} segments loaded after the flush`);
    for (let offset = 0; offset < 30; offset++) {
      await log.read(offset, 1);
      ok(cache.loadedCount <= 3, `${cache.loadedCount} segments loaded`);
      if (h.fixture.sim) {
        ok(h.fixture.sim.openHandleCount <= 3, `${h.fixture.sim.openHandleCount} handles`);
      }
    }
  } finally {
    await log.close();
  }
});

contract("logs opened while a shared cache is full keep their active segment loaded", async (h) => {
  // A broker's logs share one cache; with more logs than its bound, each new log's active
  // segment must stay loaded (pinned), or its first append finds no open file.
  const cache = new SegmentCache(2);
  const logs: PartitionLog[] = [];
  try {
    for (let i = 0; i < 5; i++) {
      logs.push(await h.open({}, { segmentCache: cache, dir: `${h.fixture.dir}-${i}` }));
    }
    for (const [i, log] of logs.entries()) {
      strictEqual((await log.append(makeBatch({ fill: 65 + i }), LEADER)).baseOffset, 0);
    }
    for (const [i, log] of logs.entries()) {
      const value = String.fromCharCode(65 + i).repeat(16);
      deepStrictEqual((await readAll(log)).map(([offset, , v]) => [offset, v]), [[0, value]]);
    }
  } finally {
    for (const log of logs) await log.close();
  }
});

contract("concurrent appends with flush every message are all durable", async (h) => {
  const log = await h.open({ flushIntervalMessages: 1 });
  try {
    if (h.fixture.sim) h.fixture.sim.syncDelayMs = 2;
    const syncsBefore = h.fixture.sim?.syncCount ?? 0;
    const results = await Promise.all(
      Array.from({ length: 20 }, () => log.append(makeBatch(), LEADER)),
    );
    deepStrictEqual(
      results.map((r) => r.baseOffset).sort((a, b) => a - b),
      Array.from({ length: 20 }, (_, i) => i),
    );
    strictEqual(log.recoveryPoint, 20);
    if (h.fixture.sim) {
      const syncs = h.fixture.sim.syncCount - syncsBefore;
      ok(syncs < 20, `group commit should share fsyncs; ${syncs} for 20 appends`);
    }
  } finally {
    await log.close();
  }
});

contract("a missing or corrupt index of an old segment is rebuilt on open", async (h) => {
  const config = { segmentBytesMax: 400, indexIntervalBytes: 50 };
  const log = await h.open(config);
  for (let i = 0; i < 12; i++) await log.append(makeBatch({ count: 2, valueBytes: 60 }), LEADER);
  const before = await log.read(0, 1 << 20);
  const [first, second] = log.segmentBaseOffsets();
  await log.close();
  const { disk, dir } = h.fixture;
  await disk.remove(joinPath(dir, segmentFileName(first, INDEX_SUFFIX)));
  const file = await disk.open(joinPath(dir, segmentFileName(second, INDEX_SUFFIX)), {
    create: false,
  });
  await file.write(0, new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 9, 1]));
  file.close();
  const reopened = await h.open(config);
  try {
    deepStrictEqual(
      reopened.recoveryReport.rebuiltIndexes.map((r) => r.segmentBaseOffset),
      [first, second],
    );
    deepStrictEqual(await reopened.read(0, 1 << 20), before);
    for (let offset = 0; offset < 24; offset += 3) {
      const header = readBatchHeader((await reopened.read(offset, 1)).batches);
      ok(header.baseOffset <= offset && offset <= header.baseOffset + header.lastOffsetDelta);
    }
  } finally {
    await reopened.close();
  }
});

contract("garbage after the last batch is cut on open and reported", async (h) => {
  const log = await h.open();
  await log.append(makeBatch({ count: 3 }), LEADER);
  await log.append(makeBatch({ count: 3 }), LEADER);
  const before = await log.read(0, 1 << 20);
  await log.close();
  const path = joinPath(h.fixture.dir, segmentFileName(0, LOG_SUFFIX));
  const file = await h.fixture.disk.open(path, { create: false });
  const size = await file.size();
  const torn = makeBatch({ count: 3 }).subarray(0, 40);
  await file.write(size, torn);
  file.close();
  const reopened = await h.open();
  try {
    strictEqual(reopened.recoveryReport.truncated.length, 1);
    strictEqual(reopened.recoveryReport.truncated[0].truncatedBytes, 40);
    strictEqual(reopened.logEndOffset, 6);
    deepStrictEqual(await reopened.read(0, 1 << 20), before);
    strictEqual((await reopened.append(makeBatch(), LEADER)).baseOffset, 6);
  } finally {
    await reopened.close();
  }
});

contract("the log start offset and data survive reopen after retention", async (h) => {
  const config = { segmentBytesMax: 300, retentionBytes: 600 };
  const log = await h.open(config);
  for (let i = 0; i < 15; i++) await log.append(makeBatch({ valueBytes: 100 }), LEADER);
  await log.enforceRetention();
  const start = log.logStartOffset;
  await log.close();
  const reopened = await h.open(config);
  try {
    strictEqual(reopened.logStartOffset, start);
    strictEqual(reopened.logEndOffset, 15);
  } finally {
    await reopened.close();
  }
});

for (const factory of DISK_FIXTURES) {
  for (const [name, body] of Object.entries(cases)) {
    Deno.test(`${factory.name}: ${name}`, async () => {
      const fixture = await factory.create();
      const harness: Harness = {
        fixture,
        clockMs: 1_000_000,
        open: (config = {}, extra = {}) =>
          PartitionLog.open({
            dir: fixture.dir,
            disk: fixture.disk,
            config,
            clock: () => harness.clockMs,
            ...extra,
          }),
      };
      try {
        await body(harness);
      } finally {
        await fixture.dispose();
      }
    });
  }
}
