/**
 * Errors the partition log throws. They are {@link StromError}s from the one
 * shared error table, so the API layer can answer them unchanged; these
 * helpers only keep the messages consistent and helpful.
 *
 * @module
 */

import { CorruptBatchError, StromError } from "@strom/client";

export { StromError };

/** An offset below the log start or above the log end. */
export function offsetOutOfRange(
  what: string,
  offset: number,
  logStartOffset: number,
  logEndOffset: number,
): StromError {
  return new StromError(
    "OFFSET_OUT_OF_RANGE",
    `${what} offset ${offset} is outside the log's valid range [${logStartOffset}, ${logEndOffset}]`,
    { details: { offset, logStartOffset, logEndOffset } },
  );
}

/** A batch larger than `max.message.bytes`. */
export function messageTooLarge(sizeBytes: number, maxMessageBytes: number): StromError {
  return new StromError(
    "MESSAGE_TOO_LARGE",
    `record batch of ${sizeBytes} bytes exceeds max.message.bytes=${maxMessageBytes}; ` +
      `send smaller batches or raise the topic's max.message.bytes`,
    { details: { sizeBytes, maxMessageBytes } },
  );
}

/** Bytes that are not a valid record batch. */
export function corruptMessage(message: string, cause?: unknown): StromError {
  return new StromError("CORRUPT_MESSAGE", message, { cause });
}

/** An I/O failure, or a log that refuses work after one. */
export function storageError(message: string, cause?: unknown): StromError {
  const detail = cause instanceof Error ? `: ${cause.message}` : "";
  return new StromError("KAFKA_STORAGE_ERROR", `${message}${detail}`, { cause });
}

/** Converts a codec error into the shared error type; passes others through. */
export function asStromError(error: unknown, context: string): StromError {
  if (error instanceof StromError) return error;
  if (error instanceof CorruptBatchError) {
    return corruptMessage(`${context}: ${error.message}`, error);
  }
  return storageError(context, error);
}
