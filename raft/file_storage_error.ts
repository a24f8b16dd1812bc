/**
 * Errors of the file storage, each with a stable code.
 *
 * @module
 */

/**
 * Stable codes of {@link FileStorageError}.
 *
 * - `CORRUPT_SNAPSHOT`: no snapshot file with a valid checksum covers the log.
 * - `CORRUPT_HARD_STATE`: the hard state file fails its checksum (it is written
 *   atomically, so this is damage, not a torn write).
 * - `CORRUPT_LOG`: the log on disk does not join up with the snapshot.
 * - `INVALID_STORAGE_UPDATE`: the caller asked for something the log cannot
 *   hold (a gap, a compaction past the end, a term or commit going back).
 * - `MESSAGE_TOO_LARGE`: an entry exceeds {@link ENTRY_DATA_BYTES_MAX}.
 * - `STORAGE_CLOSED`: the storage was used after `close()`.
 * - `TOO_MANY_PENDING_WRITES`: more than {@link WRITES_PENDING_MAX} writes were
 *   issued without waiting for earlier ones (a driver awaits each `save()`).
 */
export type FileStorageErrorCode =
  | "CORRUPT_SNAPSHOT"
  | "CORRUPT_HARD_STATE"
  | "CORRUPT_LOG"
  | "INVALID_STORAGE_UPDATE"
  | "MESSAGE_TOO_LARGE"
  | "STORAGE_CLOSED"
  | "TOO_MANY_PENDING_WRITES";

/** Most `save()`/`compact()` calls waiting for earlier ones to finish. */
export const WRITES_PENDING_MAX = 64;

/** The largest entry payload the file storage accepts (64 MiB). */
export const ENTRY_DATA_BYTES_MAX = 64 * 1024 * 1024;

/**
 * An error of the file storage.
 *
 * @example
 * ```ts
 * import { FileStorageError } from "./file_storage_error.ts";
 * const error = new FileStorageError("STORAGE_CLOSED", "the raft storage is closed");
 * console.log(error.code); // "STORAGE_CLOSED"
 * ```
 */
export class FileStorageError extends Error {
  constructor(readonly code: FileStorageErrorCode, message: string) {
    super(message);
    this.name = "FileStorageError";
  }
}
