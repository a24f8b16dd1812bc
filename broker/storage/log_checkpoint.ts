/**
 * The per-partition checkpoint file `log-checkpoint`: the recovery point
 * (everything below it is fsynced, log and indexes, so recovery scans only the
 * segments from the one holding it) and the log start offset (raised by
 * retention and `deleteRecordsBefore`, and never lowered, so deleted records
 * stay deleted after a restart). Text, replaced atomically:
 *
 * ```
 * strom-log-checkpoint 1
 * recoveryPoint 1234
 * logStartOffset 1000
 * ```
 *
 * @module
 */

import { type Disk, joinPath, readWholeFile, writeFileAtomic } from "./disk.ts";

/** File name of the checkpoint in the partition directory. */
export const LOG_CHECKPOINT_FILE = "log-checkpoint";

const HEADER = "strom-log-checkpoint 1";

/** The checkpointed offsets. */
export interface LogCheckpoint {
  readonly recoveryPoint: number;
  readonly logStartOffset: number;
}

/** Encodes a checkpoint. */
export function encodeLogCheckpoint(checkpoint: LogCheckpoint): Uint8Array {
  return new TextEncoder().encode(
    `${HEADER}\nrecoveryPoint ${checkpoint.recoveryPoint}\nlogStartOffset ${checkpoint.logStartOffset}\n`,
  );
}

/** Decodes a checkpoint, or throws an Error saying what is wrong. */
export function decodeLogCheckpoint(bytes: Uint8Array): LogCheckpoint {
  const lines = new TextDecoder().decode(bytes).split("\n");
  if (lines[0] !== HEADER) {
    throw new Error(`unknown log checkpoint header ${JSON.stringify(lines[0])}`);
  }
  const field = (line: string | undefined, name: string): number => {
    const match = line?.match(new RegExp(`^${name} (\\d+)$`));
    const value = match ? Number(match[1]) : NaN;
    if (!Number.isSafeInteger(value)) throw new Error(`log checkpoint has no valid ${name}`);
    return value;
  };
  return {
    recoveryPoint: field(lines[1], "recoveryPoint"),
    logStartOffset: field(lines[2], "logStartOffset"),
  };
}

/** Reads the checkpoint: undefined if missing, an Error if unreadable. */
export async function readLogCheckpoint(
  disk: Disk,
  dir: string,
): Promise<LogCheckpoint | undefined | Error> {
  const bytes = await readWholeFile(disk, joinPath(dir, LOG_CHECKPOINT_FILE));
  if (bytes === undefined) return undefined;
  try {
    return decodeLogCheckpoint(bytes);
  } catch (error) {
    return error as Error;
  }
}

/** Replaces the checkpoint atomically and durably. */
export function writeLogCheckpoint(
  disk: Disk,
  dir: string,
  checkpoint: LogCheckpoint,
): Promise<void> {
  return writeFileAtomic(disk, dir, LOG_CHECKPOINT_FILE, encodeLogCheckpoint(checkpoint));
}
