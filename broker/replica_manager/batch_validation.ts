/**
 * Validation of the record batches a producer sends, before the leader
 * appends them: the broker does no per-record work, only header checks and
 * one CRC pass per batch (STYLE 9: the log checks the CRC again when it
 * writes, and reads check it once more).
 *
 * @module
 */

import {
  type BatchHeader,
  batchSizeBytes,
  CorruptBatchError,
  isControl,
  isTransactional,
  readBatchHeader,
  StromError,
  verifyBatchCrc,
} from "@strom/client";

/** One validated batch: a view into the request body, and its header. */
export interface ValidBatch {
  readonly bytes: Uint8Array;
  readonly header: BatchHeader;
}

/** Limits a produce request is checked against. */
export interface BatchLimits {
  /** Largest batch in bytes, 12-byte log overhead included (the log's `maxMessageBytes`). */
  readonly maxMessageBytes: number;
}

/**
 * Splits `bytes` into batches and checks each: magic 2, a complete batch,
 * size ≤ `max.message.bytes`, CRC-32C, at least one record with
 * `lastOffsetDelta = recordCount - 1` (as producers write it), no
 * transactional or control batches (unsupported), and timestamps that are
 * -1 or ≥ 0 with `maxTimestamp ≥ baseTimestamp`.
 *
 * @throws {StromError} CORRUPT_MESSAGE, MESSAGE_TOO_LARGE or INVALID_RECORD,
 *   naming the batch (by its position in the request) and what is wrong.
 */
export function validateProduceBatches(bytes: Uint8Array, limits: BatchLimits): ValidBatch[] {
  if (bytes.length === 0) {
    throw new StromError("CORRUPT_MESSAGE", "the request holds no record batch");
  }
  const batches: ValidBatch[] = [];
  let position = 0;
  while (position < bytes.length) {
    const which = `batch ${batches.length} (at byte ${position})`;
    let header: BatchHeader;
    try {
      header = readBatchHeader(bytes, position);
    } catch (e) {
      throw corrupt(which, e);
    }
    const size = batchSizeBytes(header);
    if (size > limits.maxMessageBytes) {
      throw new StromError(
        "MESSAGE_TOO_LARGE",
        `${which} is ${size} bytes, more than max.message.bytes allows (${limits.maxMessageBytes} ` +
          `with the 12-byte log overhead); send smaller batches or raise the topic's max.message.bytes`,
        { details: { sizeBytes: size, maxMessageBytes: limits.maxMessageBytes } },
      );
    }
    if (position + size > bytes.length) {
      throw new StromError(
        "CORRUPT_MESSAGE",
        `${which} is truncated: its header says ${size} bytes, ${bytes.length - position} remain`,
      );
    }
    const batch = bytes.subarray(position, position + size);
    try {
      verifyBatchCrc(batch);
    } catch (e) {
      throw corrupt(which, e);
    }
    checkHeader(which, header);
    batches.push({ bytes: batch, header });
    position += size;
  }
  return batches;
}

function checkHeader(which: string, h: BatchHeader): void {
  const invalid = (why: string) => new StromError("INVALID_RECORD", `${which} ${why}`);
  if (h.recordCount <= 0) throw invalid("holds no records; a batch needs at least one");
  if (h.lastOffsetDelta !== h.recordCount - 1) {
    throw invalid(
      `has lastOffsetDelta ${h.lastOffsetDelta} but ${h.recordCount} records; ` +
        `a producer batch numbers its records 0..count-1`,
    );
  }
  if (isTransactional(h.attributes) || isControl(h.attributes)) {
    throw invalid("is transactional or a control batch; Strom does not support transactions");
  }
  for (
    const [name, value] of [["baseTimestamp", h.baseTimestamp], [
      "maxTimestamp",
      h.maxTimestamp,
    ]] as const
  ) {
    if (value < -1) throw invalid(`has ${name} ${value}; timestamps are -1 (none) or ≥ 0`);
  }
  if (h.baseTimestamp >= 0 && h.maxTimestamp >= 0 && h.maxTimestamp < h.baseTimestamp) {
    throw invalid(
      `has maxTimestamp ${h.maxTimestamp} below its baseTimestamp ${h.baseTimestamp}`,
    );
  }
}

function corrupt(which: string, e: unknown): StromError {
  if (e instanceof CorruptBatchError || e instanceof StromError) {
    return new StromError("CORRUPT_MESSAGE", `${which} is corrupt: ${(e as Error).message}`);
  }
  throw e;
}
