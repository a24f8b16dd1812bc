/**
 * Producer state of a partition replica, kept from its log: loaded on open
 * from the snapshot file plus a replay of the batches after it, rebuilt the
 * same way after a truncation, and snapshotted on checkpoints and on close.
 * Every replica (leader or follower) keeps it current, so a follower that
 * becomes leader already knows every producer's last batches: an
 * idempotent retry after a failover is still recognised.
 *
 * @module
 */

import { batchSizeBytes, readBatchHeader } from "@strom/client";
import type { BatchHeader } from "@strom/client";
import type { PartitionLog } from "../storage/partition_log.ts";
import { joinPath, readWholeFile, writeFileAtomic } from "../storage/disk.ts";
import type { ProducerStateSnapshot } from "../replica/producer_state.ts";
import {
  chooseSnapshot,
  decodeProducerSnapshot,
  encodeProducerSnapshot,
  ProducerStateManager,
} from "../replica/producer_state.ts";
import { LOG_SCAN_CHUNK_BYTES, PRODUCER_SNAPSHOT_FILE } from "./config.ts";

/** Calls `visit` with the header of every batch holding offsets in [from, to), in order. */
export async function forEachBatchHeader(
  log: PartitionLog,
  from: number,
  to: number,
  visit: (header: BatchHeader) => void,
): Promise<void> {
  let offset = Math.max(from, log.logStartOffset);
  while (offset < to) {
    const { batches, nextOffset } = await log.read(offset, LOG_SCAN_CHUNK_BYTES, {
      endOffsetMax: to,
    });
    if (batches.length === 0 || nextOffset <= offset) return;
    let position = 0;
    while (position < batches.length) {
      const header = readBatchHeader(batches, position);
      position += batchSizeBytes(header);
      if (header.baseOffset + header.lastOffsetDelta < offset) continue;
      visit(header);
    }
    offset = nextOffset;
  }
}

/**
 * The snapshot stored beside the log, if it is readable and fits the log.
 * One that is damaged or does not fit is removed: it can never describe this
 * log's batches (a crash cut the log below it, or the log starts past it),
 * and once the log grew past its end again it would seem to fit. A replica
 * without a snapshot whose state is at the log start writes none (see
 * `PartitionReplica`), so nothing else would replace it in time.
 */
export async function readProducerSnapshot(
  log: PartitionLog,
): Promise<ProducerStateSnapshot | undefined> {
  // A new log has none (and looking would cost a NotFound error per new partition).
  if (log.emptyAtOpen) return undefined;
  const path = joinPath(log.dir, PRODUCER_SNAPSHOT_FILE);
  try {
    const bytes = await readWholeFile(log.disk, path);
    if (bytes === undefined) return undefined;
    const snapshot = decodeProducerSnapshot(bytes);
    const fits = snapshot.endOffset >= log.logStartOffset &&
      snapshot.endOffset <= log.logEndOffset;
    if (fits) return snapshot;
  } catch {
    // A damaged snapshot only costs a longer replay.
  }
  await log.disk.remove(path).catch(() => {});
  return undefined;
}

/** Writes the state's snapshot atomically beside the log. */
export async function writeProducerSnapshot(
  log: PartitionLog,
  state: ProducerStateManager,
): Promise<ProducerStateSnapshot> {
  const snapshot = state.snapshot();
  await writeFileAtomic(
    log.disk,
    log.dir,
    PRODUCER_SNAPSHOT_FILE,
    encodeProducerSnapshot(snapshot),
  );
  return snapshot;
}

/**
 * The state as of the log's end: the newest usable snapshot (at or below
 * the LEO) plus a replay of the batches after it.
 */
export async function rebuildProducerStateFromLog(
  log: PartitionLog,
  partition: string,
  snapshot: ProducerStateSnapshot | undefined,
): Promise<ProducerStateManager> {
  const usable = snapshot === undefined ? undefined : chooseSnapshot([snapshot], log.logEndOffset);
  const state = usable !== undefined && usable.endOffset >= log.logStartOffset
    ? ProducerStateManager.fromSnapshot(usable, { partition })
    : new ProducerStateManager({ partition, endOffset: log.logStartOffset });
  await forEachBatchHeader(log, state.endOffset, log.logEndOffset, (header) => {
    if (header.baseOffset >= state.endOffset) state.apply(header);
  });
  return state;
}
