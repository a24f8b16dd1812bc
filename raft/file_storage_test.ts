import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { FileStorage } from "./file_storage.ts";
import type { FileStorageOptions, RecoveryIssue } from "./file_storage.ts";
import { FileStorageError, WRITES_PENDING_MAX } from "./file_storage_error.ts";
import { crashTestData } from "./file_storage_crash_child.ts";
import { writeAll } from "./_disk_io.ts";
import { encodeSnapshotFile } from "./_disk_snapshot_file.ts";
import type { Entry, Snapshot } from "./types.ts";

const CONFIG = { voters: [1, 2, 3], learners: [] };

function entry(index: number, term = 1): Entry {
  return {
    index,
    term,
    kind: "normal",
    data: new TextEncoder().encode(`entry ${index} `.repeat(3)),
  };
}

function range(from: number, to: number, term = 1): Entry[] {
  return Array.from({ length: to - from + 1 }, (_, i) => entry(from + i, term));
}

function snapshotAt(index: number, term = 1): Snapshot {
  return {
    meta: { index, term, config: CONFIG },
    data: new TextEncoder().encode(`state@${index}`),
  };
}

/** Runs `body` with a fresh directory and an `open` that records recovery issues. */
async function withDir(
  body: (
    dir: string,
    open: (options?: Partial<FileStorageOptions>) => Promise<FileStorage>,
    issues: RecoveryIssue[],
  ) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "strom_raft_file_storage_" });
  const issues: RecoveryIssue[] = [];
  const open = (options: Partial<FileStorageOptions> = {}) =>
    FileStorage.open(dir, {
      initialConfig: CONFIG,
      sync: false,
      segmentBytesMax: 512,
      onRecoveryIssue: (issue) => issues.push(issue),
      ...options,
    });
  try {
    await body(dir, open, issues);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function segmentNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const item of Deno.readDir(dir)) {
    if (item.name.startsWith("segment-")) names.push(item.name);
  }
  return names.sort();
}

async function flipByte(path: string, fromEnd: number): Promise<void> {
  const bytes = await Deno.readFile(path);
  bytes[bytes.length - fromEnd] ^= 0x40;
  await Deno.writeFile(path, bytes);
}

Deno.test("open() cuts a segment torn mid-entry at the last valid record and reports it", async () => {
  await withDir(async (dir, open, issues) => {
    const storage = await open();
    await storage.save({ entries: range(1, 30) });
    await storage.close();
    const last = (await segmentNames(dir)).at(-1)!;
    const { size } = await Deno.stat(`${dir}/${last}`);
    await Deno.truncate(`${dir}/${last}`, size - 5);

    const reopened = await open();
    strictEqual(reopened.lastIndex(), 29);
    deepStrictEqual(reopened.entries(29, 30, Infinity), [entry(29)]);
    deepStrictEqual(issues.map((issue) => [issue.kind, issue.file]), [["truncated_segment", last]]);
    ok(issues[0].message.includes("torn record"), issues[0].message);
    // The log goes on from the cut, and a clean reopen reports nothing more.
    await reopened.save({ entries: range(30, 31, 2) });
    await reopened.close();
    const again = await open();
    strictEqual(again.lastIndex(), 31);
    strictEqual(again.term(31), 2);
    strictEqual(issues.length, 1);
    await again.close();
  });
});

Deno.test("open() cuts the log at a record whose CRC fails and deletes later segments", async () => {
  await withDir(async (dir, open, issues) => {
    const storage = await open();
    await storage.save({ entries: range(1, 60) });
    await storage.close();
    const names = await segmentNames(dir);
    ok(names.length >= 4, `expected several segments, got ${names}`);
    // Damage the last byte of the second segment: its last entry is lost, and
    // so is everything after it, so that the log stays a prefix.
    await flipByte(`${dir}/${names[1]}`, 1);

    const reopened = await open();
    const kept = reopened.lastIndex();
    ok(kept < 60 && kept > 1, `lastIndex ${kept}`);
    deepStrictEqual(reopened.entries(1, kept + 1, Infinity), range(1, kept));
    strictEqual(issues[0].kind, "truncated_segment");
    ok(issues[0].message.includes("CRC mismatch"), issues[0].message);
    deepStrictEqual(
      issues.slice(1).map((issue) => issue.kind),
      names.slice(2).map(() => "deleted_segment"),
    );
    deepStrictEqual(await segmentNames(dir), names.slice(0, 2));
    await reopened.close();
  });
});

Deno.test("entries acknowledged by save() survive a SIGKILL of the writing process", async () => {
  await withDir(async (dir, open) => {
    const acknowledged: number[] = [];
    for (let round = 0; round < 2; round++) {
      acknowledged.push(...await runChildUntilKilled(dir, 40 + round * 160));
      const storage = await open({ onRecoveryIssue: () => {} });
      const snapshotIndex = storage.snapshot().meta.index;
      const highest = acknowledged.at(-1)!;
      ok(storage.lastIndex() >= highest, `lastIndex ${storage.lastIndex()} < acked ${highest}`);
      for (const index of acknowledged.filter((i) => i > snapshotIndex)) {
        deepStrictEqual(storage.entries(index, index + 1, Infinity)[0].data, crashTestData(index));
      }
      ok(storage.initialState().hardState.commit >= highest, "the acknowledged commit survived");
      await storage.close();
    }
  });
});

/**
 * Starts the crash child on `dir`, SIGKILLs it once it has acknowledged
 * `killAfterAcks` entries (or after a time bound), and answers every index it
 * printed, including lines still in the pipe when it died.
 */
async function runChildUntilKilled(dir: string, killAfterAcks: number): Promise<number[]> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      new URL("./file_storage_crash_child.ts", import.meta.url).pathname,
      dir,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const deadline = setTimeout(() => child.kill("SIGKILL"), 20_000);
  const acknowledged: number[] = [];
  let killed = false;
  let pending = "";
  try {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      const lines = (pending + chunk).split("\n");
      pending = lines.pop()!;
      for (const line of lines) acknowledged.push(Number(line));
      if (!killed && acknowledged.length >= killAfterAcks) {
        child.kill("SIGKILL");
        killed = true;
      }
    }
  } finally {
    clearTimeout(deadline);
    await child.status;
  }
  ok(killed, "the child was killed by the test, not by the deadline or a crash");
  return acknowledged;
}

Deno.test("compaction deletes segments the previous snapshot covers, keeping one fallback", async () => {
  await withDir(async (dir, open) => {
    const storage = await open();
    await storage.save({ entries: range(1, 100) });
    const before = await segmentNames(dir);
    await storage.compact(snapshotAt(50));
    // The first snapshot has no predecessor to fall back to: nothing is deleted yet.
    deepStrictEqual(await segmentNames(dir), before);
    await storage.compact(snapshotAt(80));
    const after = await segmentNames(dir);
    ok(after.length < before.length, `${after.length} segments remain of ${before.length}`);
    const firstKept = Number(after[0].slice("segment-".length, -".log".length));
    ok(firstKept <= 51, `the log after snapshot 50 is kept (starts at ${firstKept})`);
    const secondKept = Number(after[1].slice("segment-".length, -".log".length));
    ok(secondKept > 51, "the segments before it are gone");
    await storage.compact(snapshotAt(90));
    const snapshots = [...Deno.readDirSync(dir)].map((item) => item.name).filter((name) =>
      name.startsWith("snapshot-")
    ).sort();
    deepStrictEqual(snapshots, [
      "snapshot-00000000000000000080.snap",
      "snapshot-00000000000000000090.snap",
    ]);
    await storage.close();
  });
});

Deno.test("a snapshot with a bad checksum is rejected and the previous one is used", async () => {
  await withDir(async (dir, open, issues) => {
    const storage = await open();
    await storage.save({ entries: range(1, 100), hardState: { term: 1, vote: 1, commit: 100 } });
    await storage.compact(snapshotAt(50));
    await storage.compact(snapshotAt(80));
    await storage.close();
    await flipByte(`${dir}/snapshot-00000000000000000080.snap`, 3);

    const reopened = await open();
    deepStrictEqual(reopened.snapshot(), snapshotAt(50));
    deepStrictEqual(reopened.entries(51, 101, Infinity), range(51, 100));
    deepStrictEqual(issues.map((issue) => issue.kind), ["rejected_snapshot"]);
    ok(issues[0].message.includes("checksum mismatch"), issues[0].message);
    await reopened.close();
  });
});

Deno.test("a bad snapshot that no older snapshot and log can replace fails open() clearly", async () => {
  await withDir(async (dir, open) => {
    const storage = await open();
    await storage.save({ entries: range(1, 5) });
    await storage.save({ snapshot: snapshotAt(40, 2), entries: range(41, 42, 2) });
    await storage.close();
    await flipByte(`${dir}/snapshot-00000000000000000040.snap`, 1);

    const error = await rejects(open(), (error: unknown) => {
      ok(error instanceof FileStorageError);
      strictEqual(error.code, "CORRUPT_SNAPSHOT");
      ok(error.message.includes("snapshot-00000000000000000040.snap"), error.message);
      return true;
    });
    strictEqual(error, undefined);
  });
});

Deno.test("a corrupt hard state file fails open() with CORRUPT_HARD_STATE", async () => {
  await withDir(async (dir, open) => {
    const storage = await open();
    await storage.save({ entries: [], hardState: { term: 4, vote: 2, commit: 0 } });
    await storage.close();
    await flipByte(`${dir}/hard_state`, 2);
    await rejects(
      open(),
      (error: unknown) => error instanceof FileStorageError && error.code === "CORRUPT_HARD_STATE",
    );
  });
});

Deno.test("open() finishes installing a leader's snapshot that a crash interrupted", async () => {
  await withDir(async (dir, open) => {
    const storage = await open();
    await storage.save({ entries: range(1, 20) });
    await storage.close();
    // As if the process died after writing the snapshot file, before deleting
    // the log that disagrees with it (term 1 at index 10, the snapshot says 3).
    await Deno.writeFile(
      `${dir}/snapshot-00000000000000000010.snap`,
      encodeSnapshotFile(snapshotAt(10, 3)),
    );
    await Deno.writeFile(`${dir}/hard_state.tmp`, new Uint8Array([1, 2, 3]));

    const reopened = await open();
    strictEqual(reopened.firstIndex(), 11);
    strictEqual(reopened.lastIndex(), 10);
    strictEqual(reopened.term(10), 3);
    deepStrictEqual(await segmentNames(dir), []);
    ok(
      ![...Deno.readDirSync(dir)].some((item) => item.name.endsWith(".tmp")),
      "temp files are removed",
    );
    await reopened.close();
  });
});

Deno.test("save() refuses a gap, a term going back and a lower commit", async () => {
  await withDir(async (_dir, open) => {
    const storage = await open();
    await storage.save({ entries: range(1, 3, 2), hardState: { term: 2, vote: 1, commit: 2 } });
    const code = (expected: string) => (error: unknown) =>
      error instanceof FileStorageError && error.code === expected;
    await rejects(storage.save({ entries: [entry(5, 2)] }), code("INVALID_STORAGE_UPDATE"));
    await rejects(storage.save({ entries: [entry(4, 1)] }), code("INVALID_STORAGE_UPDATE"));
    await rejects(
      storage.save({ entries: [], hardState: { term: 2, vote: 1, commit: 1 } }),
      code("INVALID_STORAGE_UPDATE"),
    );
    await rejects(storage.compact(snapshotAt(9, 2)), code("INVALID_STORAGE_UPDATE"));
    // A refused update changes nothing, and the storage stays usable.
    strictEqual(storage.lastIndex(), 3);
    await storage.save({ entries: [entry(4, 2)] });
    strictEqual(storage.lastIndex(), 4);
    await storage.close();
    await rejects(storage.save({ entries: [] }), code("STORAGE_CLOSED"));
  });
});

Deno.test("saves issued without waiting are applied in call order", async () => {
  await withDir(async (_dir, open) => {
    const storage = await open({ sync: true });
    await Promise.all([
      storage.save({ entries: range(1, 10) }),
      storage.save({ entries: range(11, 20) }),
      storage.save({ entries: range(15, 25, 2) }),
      storage.save({ entries: [], hardState: { term: 2, vote: 3, commit: 25 } }),
    ]);
    deepStrictEqual(storage.entries(1, 26, Infinity), [...range(1, 14), ...range(15, 25, 2)]);
    deepStrictEqual(storage.initialState().hardState, { term: 2, vote: 3, commit: 25 });
    await storage.close();
  });
});

Deno.test("writeAll() keeps writing until a partial write has written everything", async () => {
  const written: number[] = [];
  const trickle = {
    write(bytes: Uint8Array): Promise<number> {
      const n = Math.min(3, bytes.length);
      written.push(...bytes.subarray(0, n));
      return Promise.resolve(n);
    },
  };
  const bytes = Uint8Array.from({ length: 20 }, (_, i) => i);
  await writeAll(trickle, bytes);
  deepStrictEqual(written, [...bytes]);
});

Deno.test("save() refuses to queue more than WRITES_PENDING_MAX writes", async () => {
  await withDir(async (_dir, open) => {
    const storage = await open();
    const saves = Array.from(
      { length: WRITES_PENDING_MAX + 1 },
      (_, i) => storage.save({ entries: [entry(i + 1)] }),
    );
    const results = await Promise.allSettled(saves);
    const refused = results.filter((result) => result.status === "rejected");
    strictEqual(refused.length, 1);
    const reason = (refused[0] as PromiseRejectedResult).reason;
    ok(reason instanceof FileStorageError && reason.code === "TOO_MANY_PENDING_WRITES");
    strictEqual(storage.lastIndex(), WRITES_PENDING_MAX);
    await storage.close();
  });
});
