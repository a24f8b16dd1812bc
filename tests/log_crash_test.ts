/**
 * Real-process crash test of the partition log: a child Deno process appends
 * with an fsync before each acknowledgement and prints every acknowledged
 * offset; we SIGKILL it mid-stream, reopen the log, and check that every
 * acknowledged batch is there byte for byte and nothing torn is served. Then
 * we tear the tail by hand and check recovery cuts exactly that.
 */

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { readBatchHeader, splitBatches, verifyBatchCrc } from "@strom/client";
import { PartitionLog } from "../broker/storage/mod.ts";
import { CRASH_LOG_CONFIG, crashBatch } from "./log_crash_writer.ts";

const WRITER = new URL("./log_crash_writer.ts", import.meta.url).pathname;
/** Longest we wait for a writer to acknowledge enough appends. */
const WRITER_TIMEOUT_MS = 30_000;

interface Ack {
  readonly index: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
}

/** Starts a writer, SIGKILLs it after `killAfterAcks` acks, and returns every ack it printed. */
async function runAndKill(dir: string, firstIndex: number, killAfterAcks: number): Promise<Ack[]> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", WRITER, dir, String(firstIndex)],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const acks: Ack[] = [];
  let killed = false;
  const kill = () => {
    if (killed) return;
    killed = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
  };
  const timer = setTimeout(kill, WRITER_TIMEOUT_MS);
  try {
    let buffered = "";
    for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffered += text;
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) {
        const [tag, index, base, last] = line.split(" ");
        if (tag !== "ACK") continue;
        acks.push({ index: Number(index), baseOffset: Number(base), lastOffset: Number(last) });
      }
      if (acks.length >= killAfterAcks) kill();
    }
  } finally {
    clearTimeout(timer);
    kill();
    await child.status;
  }
  ok(acks.length >= killAfterAcks, `writer acknowledged only ${acks.length} appends`);
  return acks;
}

/** Every batch the log serves, checked for CRC and contiguous offsets. */
async function servedBatches(log: PartitionLog): Promise<Map<number, Uint8Array>> {
  const batches = new Map<number, Uint8Array>();
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const read = await log.read(offset, 256 * 1024);
    ok(read.batches.length > 0, `nothing served at ${offset} below the end ${log.logEndOffset}`);
    for (const batch of splitBatches(read.batches)) {
      verifyBatchCrc(batch);
      const header = readBatchHeader(batch);
      strictEqual(header.baseOffset, offset, "batches must be contiguous");
      batches.set(offset, batch.slice());
      offset = header.baseOffset + header.lastOffsetDelta + 1;
    }
  }
  return batches;
}

function checkAcked(served: Map<number, Uint8Array>, acks: readonly Ack[]): void {
  for (const ack of acks) {
    const batch = served.get(ack.baseOffset);
    ok(batch, `acknowledged batch ${ack.index} at offset ${ack.baseOffset} is missing`);
    const expected = crashBatch(ack.index);
    // Offset and epoch were patched on append; everything the CRC covers must be identical.
    deepStrictEqual(batch.subarray(21), expected.subarray(21), `batch ${ack.index} changed`);
    strictEqual(readBatchHeader(batch).lastOffsetDelta + ack.baseOffset, ack.lastOffset);
  }
}

Deno.test("a writer killed with SIGKILL mid-append loses no acknowledged batch", async () => {
  const root = await Deno.makeTempDir({ prefix: "strom-log-crash-" });
  const dir = `${root}/orders-0`;
  try {
    const allAcks: Ack[] = [];
    let nextIndex = 0;
    for (const killAfter of [150, 40, 300]) {
      const acks = await runAndKill(dir, nextIndex, killAfter);
      allAcks.push(...acks);
      const log = await PartitionLog.open({ dir, config: CRASH_LOG_CONFIG });
      try {
        const served = await servedBatches(log);
        checkAcked(served, allAcks);
        // Unacknowledged appends may or may not have made it; count what did.
        nextIndex = Math.max(nextIndex, ...acks.map((a) => a.index + 1)) + 10;
        ok(log.logEndOffset >= Math.max(...allAcks.map((a) => a.lastOffset + 1)));
      } finally {
        await log.close();
      }
    }
    // Tear the tail by hand: half a batch after the last one.
    const log = await PartitionLog.open({ dir, config: CRASH_LOG_CONFIG });
    const endBefore = log.logEndOffset;
    const lastBase = Math.max(...log.segmentBaseOffsets());
    await log.close();
    const segmentPath = `${dir}/${String(lastBase).padStart(20, "0")}.log`;
    const torn = crashBatch(99_999).subarray(0, 150);
    const file = await Deno.open(segmentPath, { append: true });
    for (let written = 0; written < torn.length;) {
      written += await file.write(torn.subarray(written));
    }
    file.close();
    const reopened = await PartitionLog.open({ dir, config: CRASH_LOG_CONFIG });
    try {
      strictEqual(reopened.recoveryReport.truncated.length, 1);
      strictEqual(reopened.recoveryReport.truncated[0].truncatedBytes, torn.length);
      strictEqual(reopened.logEndOffset, endBefore);
      checkAcked(await servedBatches(reopened), allAcks);
    } finally {
      await reopened.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
