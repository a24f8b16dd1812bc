/**
 * Helpers shared by the storage tests: batch builders on the client codec and
 * a harness that runs one test body over the simulated and the real disk.
 *
 * @module
 */

import {
  decodeRecordBatches,
  encodeRecordBatchSync,
  type RecordInput,
  splitBatches,
} from "@strom/client";
import type { Disk } from "./disk.ts";
import { RealDisk } from "./real_disk.ts";
import { SimDisk } from "./sim_disk.ts";

const TEXT = new TextEncoder();

/** Bytes of text. */
export function utf8(text: string): Uint8Array {
  return TEXT.encode(text);
}

/** A batch of `count` records with `valueBytes`-byte values, timestamps from `timestampMs`. */
export function makeBatch(
  options: { count?: number; valueBytes?: number; timestampMs?: number; fill?: number } = {},
): Uint8Array {
  const count = options.count ?? 1;
  const value = new Uint8Array(options.valueBytes ?? 16).fill(options.fill ?? 7);
  const timestampMs = options.timestampMs ?? 1_000;
  const records: RecordInput[] = [];
  for (let i = 0; i < count; i++) records.push({ value, timestamp: timestampMs + i });
  return encodeRecordBatchSync({ records });
}

/** A batch of keyed records; a null value is a tombstone. */
export function makeKeyedBatch(
  entries: ReadonlyArray<[key: string, value: string | null]>,
  timestampMs = 1_000,
): Uint8Array {
  return encodeRecordBatchSync({
    records: entries.map(([key, value]) => ({
      key: utf8(key),
      value: value === null ? null : utf8(value),
      timestamp: timestampMs,
    })),
  });
}

/** Every record in `bytes` as [offset, key, value] with text keys and values. */
export async function recordsOf(
  bytes: Uint8Array,
): Promise<Array<[offset: number, key: string | null, value: string | null]>> {
  const decoder = new TextDecoder();
  const text = (b: Uint8Array | null) => (b === null ? null : decoder.decode(b));
  const out: Array<[number, string | null, string | null]> = [];
  for (const batch of await decodeRecordBatches(bytes)) {
    for (const r of batch.records) out.push([r.offset, text(r.key), text(r.value)]);
  }
  return out;
}

/** Number of whole batches in `bytes`. */
export function batchCount(bytes: Uint8Array): number {
  return splitBatches(bytes).length;
}

/** A disk and a directory on it for one test, cleaned up by `dispose`. */
export interface DiskFixture {
  readonly name: string;
  readonly disk: Disk;
  readonly dir: string;
  /** The simulated disk, when this is one (for crashes and fault injection). */
  readonly sim?: SimDisk;
  dispose(): Promise<void>;
}

/** Fixture factories for the contract suite: simulated and real disk. */
export const DISK_FIXTURES: ReadonlyArray<{ name: string; create(): Promise<DiskFixture> }> = [
  {
    name: "simulated disk",
    create: () => {
      const sim = new SimDisk({ seed: 42 });
      return Promise.resolve({
        name: "simulated disk",
        disk: sim,
        sim,
        dir: "/data/topic-0",
        dispose: () => Promise.resolve(),
      });
    },
  },
  {
    name: "real disk",
    create: async () => {
      const root = await Deno.makeTempDir({ prefix: "strom-log-test-" });
      return {
        name: "real disk",
        disk: new RealDisk(),
        dir: `${root}/topic-0`,
        dispose: () => Deno.remove(root, { recursive: true }),
      };
    },
  },
];
