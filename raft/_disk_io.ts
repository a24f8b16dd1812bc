/**
 * Helpers of the file storage on top of a {@link Disk}: whole writes and
 * atomic file replacement.
 *
 * @module
 */

import type { Disk } from "./_disk.ts";

/** The one method of a file that {@link writeAll} needs. */
export interface Writer {
  /** Writes some prefix of `bytes` (possibly not all of it); answers how many bytes. */
  write(bytes: Uint8Array): Promise<number>;
}

/**
 * Writes all of `bytes` to `file`. `write()` may write only part of the
 * buffer, so loop until everything is written.
 */
export async function writeAll(file: Writer, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    const n = await file.write(bytes.subarray(written));
    if (n <= 0) {
      throw new Error(`write() made no progress after ${written} of ${bytes.length} bytes`);
    }
    written += n;
  }
}

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** Fsync the temporary file and the directory (off only for benchmarks and development). */
  readonly sync: boolean;
}

/** The suffix of temporary files; leftovers from a crash are deleted on open. */
export const TEMP_FILE_SUFFIX = ".tmp";

/**
 * Replaces `dir/name` with `bytes` so that after a crash the file holds either
 * the old or the new content, never a mix: write to a temporary file, fsync it,
 * rename it over the target, fsync the directory.
 */
export async function writeFileAtomic(
  disk: Disk,
  dir: string,
  name: string,
  bytes: Uint8Array,
  options: AtomicWriteOptions,
): Promise<void> {
  const tempPath = `${dir}/${name}${TEMP_FILE_SUFFIX}`;
  const file = await disk.openAppend(tempPath, { create: true, truncate: true });
  try {
    await writeAll(file, bytes);
    if (options.sync) await file.syncData();
  } finally {
    file.close();
  }
  await disk.rename(tempPath, `${dir}/${name}`);
  if (options.sync) await disk.syncDir(dir);
}
