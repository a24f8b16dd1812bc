/**
 * The one error the record batch codec throws for bad bytes.
 *
 * @module
 */

/**
 * Thrown when bytes that should hold a Kafka record batch v2 do not: too short,
 * wrong magic, lengths out of range, CRC mismatch, malformed varints, unknown
 * codec, a decompression bomb. `code` is Kafka's error name so brokers can
 * answer it unchanged; `byteOffset` says where in the input the problem was
 * found, when that is known.
 *
 * @example Tell a corrupt batch from other failures
 * ```ts
 * import { CorruptBatchError, readBatchHeader } from "@strom/client";
 * import { ok, strictEqual } from "node:assert/strict";
 *
 * try {
 *   readBatchHeader(new Uint8Array(10));
 * } catch (error) {
 *   ok(error instanceof CorruptBatchError);
 *   strictEqual(error.code, "CORRUPT_MESSAGE");
 * }
 * ```
 */
export class CorruptBatchError extends Error {
  /** Kafka's error name for a batch that fails validation. */
  readonly code = "CORRUPT_MESSAGE" as const;
  /** Resending the same bytes cannot succeed. */
  readonly retriable = false;
  /** Where in the input the problem was found, if known. */
  readonly byteOffset: number | undefined;

  /**
   * @param message What was wrong, for a human.
   * @param byteOffset Where in the input the problem was found, if known.
   */
  constructor(message: string, byteOffset?: number) {
    super(byteOffset === undefined ? message : `${message} (at byte ${byteOffset})`);
    this.name = "CorruptBatchError";
    this.byteOffset = byteOffset;
  }
}
