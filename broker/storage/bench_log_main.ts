/**
 * `deno task bench:log`: append throughput of the partition log for 1 KiB
 * records in 16 KiB, 256 KiB and 1 MiB batches, with and without an fsync per
 * append, and sequential read throughput; each printed next to the raw
 * sequential write speed of the same disk, measured in the same run with
 * plain Deno file writes of the same sizes.
 *
 * The machine may be shared, so each case alternates raw and log runs
 * `--rounds` times and reports the best of each (the least disturbed run).
 *
 * Flags: `--dir PATH` (default: a temp dir), `--mib N` of data per run
 * (default 128; fsync runs use a quarter), `--rounds N` (default 3),
 * `--batch-kib 16,256,1024` (the default), `--fsync yes|no` (default both).
 *
 * @module
 */

import { encodeRecordBatchSync } from "@strom/client";
import { batchCrcBackend, verifyBatchCrcFast } from "./batch_crc.ts";
import { PartitionLog } from "./partition_log.ts";

const RECORD_BYTES = 1024;
const BATCH_SIZES = [16 * 1024, 256 * 1024, 1024 * 1024];
/** Appends kept in flight: 1 is one producer awaiting each ack; 4 lets CRC checks overlap writes. */
const IN_FLIGHT = [1, 4];

interface Flags {
  dir: string | undefined;
  mib: number;
  rounds: number;
  batchSizes: number[];
  fsyncModes: boolean[];
}

function parseFlags(): Flags {
  const args = Deno.args;
  const get = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  return {
    dir: get("--dir"),
    mib: Number(get("--mib") ?? 128),
    rounds: Number(get("--rounds") ?? 3),
    batchSizes: get("--batch-kib")?.split(",").map((kib) => Number(kib) * 1024) ?? BATCH_SIZES,
    fsyncModes: { yes: [true], no: [false] }[get("--fsync") ?? ""] ?? [false, true],
  };
}

/** One batch of `batchBytes / 1 KiB` records of 1 KiB (a little over `batchBytes` on the wire). */
function makeBenchBatch(batchBytes: number): Uint8Array {
  const value = new Uint8Array(RECORD_BYTES);
  for (let i = 0; i < value.length; i++) value[i] = (i * 31) & 0xff;
  const records = Array.from(
    { length: batchBytes / RECORD_BYTES },
    () => ({ value, timestamp: 1 }),
  );
  return encodeRecordBatchSync({ records });
}

async function rawWrite(
  path: string,
  chunk: Uint8Array,
  totalBytes: number,
  options: { fsync: boolean; verifyCrc: boolean },
) {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  const start = performance.now();
  let seconds: number;
  try {
    for (let done = 0; done < totalBytes; done += chunk.length) {
      // The CRC check every append must do, alone: the floor of the log's own cost.
      if (options.verifyCrc) verifyBatchCrcFast(chunk);
      for (let w = 0; w < chunk.length;) w += await file.write(chunk.subarray(w));
      if (options.fsync) await file.sync();
    }
  } finally {
    seconds = (performance.now() - start) / 1000;
    // Untimed, like the log's close(): every run leaves the disk as the next one expects it.
    await file.sync();
    file.close();
  }
  await Deno.remove(path);
  return totalBytes / (1024 * 1024) / seconds;
}

async function logAppend(
  dir: string,
  batch: Uint8Array,
  totalBytes: number,
  options: { fsync: boolean; inFlight: number; read: boolean },
): Promise<{ appendMiBs: number; readMiBs: number }> {
  const log = await PartitionLog.open({
    dir,
    config: {
      maxMessageBytes: 4 * 1024 * 1024,
      flushIntervalMessages: options.fsync ? 1 : Infinity,
    },
  });
  try {
    const count = Math.ceil(totalBytes / batch.length);
    // Each in-flight append needs its own buffer: the leader patches offsets in place.
    const buffers = Array.from({ length: options.inFlight }, () => batch.slice());
    let started = 0;
    const worker = async (buffer: Uint8Array) => {
      while (started < count) {
        started++;
        await log.append(buffer, { assignOffsets: true, leaderEpoch: 0 });
      }
    };
    const start = performance.now();
    await Promise.all(buffers.map(worker));
    const appendMiBs = (count * batch.length) / (1024 * 1024) /
      ((performance.now() - start) / 1000);
    const readMiBs = options.read ? await sequentialRead(log, 1024 * 1024) : NaN;
    return { appendMiBs, readMiBs };
  } finally {
    await log.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function sequentialRead(log: PartitionLog, maxBytes: number): Promise<number> {
  let bytes = 0;
  let offset = log.logStartOffset;
  const start = performance.now();
  while (offset < log.logEndOffset) {
    const read = await log.read(offset, maxBytes);
    bytes += read.batches.length;
    offset = read.nextOffset;
  }
  return bytes / (1024 * 1024) / ((performance.now() - start) / 1000);
}

async function main(): Promise<void> {
  const flags = parseFlags();
  const root = flags.dir ?? await Deno.makeTempDir({ prefix: "strom-bench-log-" });
  const fmt = (n: number) => (Number.isNaN(n) ? "-" : n.toFixed(0)).padStart(8);
  console.log(
    `partition log benchmark in ${root}: 1 KiB records, ${flags.mib} MiB per run ` +
      `(fsync runs ${flags.mib / 4} MiB), best of ${flags.rounds}; CRC-32C: ${batchCrcBackend()}`,
  );
  console.log(
    "batch     fsync  in-flight  raw write  raw+CRC  log append  ratio to raw  to raw+CRC  log read  (MiB/s)",
  );
  try {
    for (const fsync of flags.fsyncModes) {
      const totalBytes = (fsync ? flags.mib / 4 : flags.mib) * 1024 * 1024;
      for (const size of flags.batchSizes) {
        const batch = makeBenchBatch(size);
        for (const inFlight of IN_FLIGHT) {
          let raw = 0;
          let rawCrc = 0;
          let append = 0;
          let read = 0;
          for (let round = 0; round < flags.rounds; round++) {
            const path = `${root}/raw.bin`;
            raw = Math.max(
              raw,
              await rawWrite(path, batch, totalBytes, { fsync, verifyCrc: false }),
            );
            rawCrc = Math.max(
              rawCrc,
              await rawWrite(path, batch, totalBytes, { fsync, verifyCrc: true }),
            );
            const result = await logAppend(`${root}/log-${size}`, batch, totalBytes, {
              fsync,
              inFlight,
              read: !fsync && inFlight === 1,
            });
            append = Math.max(append, result.appendMiBs);
            read = Number.isNaN(result.readMiBs) ? NaN : Math.max(read, result.readMiBs);
          }
          const percent = (n: number) => `${(n * 100).toFixed(0).padStart(9)} %`;
          console.log(
            `${(size / 1024 + " KiB").padEnd(9)} ${(fsync ? "yes" : "no").padEnd(5)} ${
              String(inFlight).padStart(9)
            } ${fmt(raw)}  ${fmt(rawCrc)}    ${fmt(append)}   ${percent(append / raw)} ${
              percent(append / rawCrc)
            }  ${fmt(read)}`,
          );
        }
      }
    }
  } finally {
    if (!flags.dir) await Deno.remove(root, { recursive: true });
  }
}

if (import.meta.main) await main();
