/**
 * The high watermark checkpoint of a broker (Kafka's
 * `replication-offset-checkpoint`): one file in the data directory listing
 * every local replica's HW, replaced atomically. On restart a replica starts
 * from min(checkpointed HW, LEO): the HW never goes back past what was
 * checkpointed, and a lost checkpoint only means a lower HW (safe: the HW
 * is re-learned from the leader, or re-established as leader).
 *
 * Format (Kafka's text format):
 *
 * ```
 * 0
 * 2
 * orders 0 1500
 * orders 1 977
 * ```
 *
 * @module
 */

import type { Disk } from "../storage/disk.ts";
import { joinPath, readWholeFile, writeFileAtomic } from "../storage/disk.ts";
import { HW_CHECKPOINT_FILE } from "./config.ts";

/** `topic-partition` → HW. */
export type HighWatermarks = ReadonlyMap<string, number>;

/** The key of a partition in {@link HighWatermarks}. */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

/** Writes the checkpoint atomically and durably. */
export async function writeHighWatermarks(
  disk: Disk,
  dataDir: string,
  entries: ReadonlyArray<{ topic: string; partition: number; highWatermark: number }>,
): Promise<void> {
  const lines = [
    "0",
    String(entries.length),
    ...entries.map((e) => `${e.topic} ${e.partition} ${e.highWatermark}`),
  ];
  await writeFileAtomic(
    disk,
    dataDir,
    HW_CHECKPOINT_FILE,
    new TextEncoder().encode(`${lines.join("\n")}\n`),
  );
}

/**
 * Reads the checkpoint: an empty map when the file is missing, and an empty
 * map plus the reason when it is damaged (every HW then starts at 0).
 */
export async function readHighWatermarks(
  disk: Disk,
  dataDir: string,
): Promise<{ highWatermarks: HighWatermarks; problem?: string }> {
  const bytes = await readWholeFile(disk, joinPath(dataDir, HW_CHECKPOINT_FILE));
  if (bytes === undefined) return { highWatermarks: new Map() };
  try {
    return { highWatermarks: decodeHighWatermarks(bytes) };
  } catch (e) {
    return { highWatermarks: new Map(), problem: (e as Error).message };
  }
}

/** Parses the checkpoint text; throws on anything malformed. */
export function decodeHighWatermarks(bytes: Uint8Array): Map<string, number> {
  const lines = new TextDecoder().decode(bytes).split("\n").filter((l) => l !== "");
  if (lines[0] !== "0") throw new Error(`HW checkpoint version ${lines[0]} is unknown`);
  const count = Number(lines[1]);
  if (!Number.isSafeInteger(count) || lines.length !== count + 2) {
    throw new Error(`HW checkpoint count ${lines[1]} does not match its ${lines.length - 2} lines`);
  }
  const out = new Map<string, number>();
  for (const line of lines.slice(2)) {
    const match = line.match(/^(\S+) (\d+) (\d+)$/);
    if (!match) throw new Error(`HW checkpoint line ${JSON.stringify(line)} is malformed`);
    out.set(partitionKey(match[1], Number(match[2])), Number(match[3]));
  }
  return out;
}
