/**
 * Child process of `log_crash_test.ts`: appends deterministic batches to a
 * partition log with an fsync before every acknowledgement, and prints
 * `ACK <index> <baseOffset> <lastOffset>` once each append has resolved. The
 * parent SIGKILLs it mid-stream and checks that every printed batch survived.
 *
 * Usage: deno run -A tests/log_crash_writer.ts <dir> <firstIndex>
 *
 * @module
 */

import { encodeRecordBatchSync } from "@strom/client";
import { PartitionLog } from "../broker/storage/mod.ts";

/** Most appends one writer makes before giving up waiting to be killed. */
export const CRASH_WRITER_APPENDS_MAX = 100_000;

/** Config the writer and the verifier both open the log with. */
export const CRASH_LOG_CONFIG = { flushIntervalMessages: 1, segmentBytesMax: 64 * 1024 } as const;

/** The batch number `index` appends: its content is a function of `index` only. */
export function crashBatch(index: number): Uint8Array {
  const count = 1 + (index % 4);
  const records = [];
  for (let r = 0; r < count; r++) {
    const value = new Uint8Array(200 + ((index * 37 + r * 11) % 900));
    for (let i = 0; i < value.length; i++) value[i] = (index + r + i) & 0xff;
    records.push({ key: new TextEncoder().encode(`k${index}`), value, timestamp: 1_000 + index });
  }
  return encodeRecordBatchSync({ records });
}

if (import.meta.main) {
  const [dir, first] = Deno.args;
  const log = await PartitionLog.open({ dir, config: CRASH_LOG_CONFIG });
  const out = Deno.stdout;
  const encoder = new TextEncoder();
  // Several appends in flight at once, so group commit and the kill overlap.
  const inFlightMax = 4;
  let index = Number(first);
  const pending = new Set<Promise<void>>();
  for (let n = 0; n < CRASH_WRITER_APPENDS_MAX; n++) {
    const i = index++;
    const p = log.append(crashBatch(i), { assignOffsets: true, leaderEpoch: 1 }).then(async (r) => {
      await out.write(encoder.encode(`ACK ${i} ${r.baseOffset} ${r.lastOffset}\n`));
    });
    pending.add(p);
    p.finally(() => pending.delete(p));
    if (pending.size >= inFlightMax) await Promise.race(pending);
  }
  await Promise.all(pending);
  await log.close();
}
