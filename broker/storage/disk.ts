/**
 * The disk the partition log runs on, as a small interface with a real
 * implementation ({@link RealDisk}) and a simulated one ({@link SimDisk}) that
 * loses unsynced writes and tears the last one on a simulated crash. The log
 * and its contract tests are written against this interface only.
 *
 * Durability model (POSIX): data written to a file is durable once
 * {@link DiskFile.sync} resolves; a file's *name* (creation, rename, removal)
 * is durable once {@link Disk.syncDir} on its directory resolves.
 *
 * @module
 */

/** An open file addressed by position (no shared cursor in the interface). */
export interface DiskFile {
  /** The path the file was opened with. */
  readonly path: string;
  /** Reads up to `buffer.length` bytes at `position`; returns the count (< length only at EOF). */
  read(position: number, buffer: Uint8Array): Promise<number>;
  /** Writes all of `bytes` at `position`, looping over partial writes. */
  write(position: number, bytes: Uint8Array): Promise<void>;
  /** Current length in bytes. */
  size(): Promise<number>;
  /** Cuts or extends the file to `lengthBytes`. */
  truncate(lengthBytes: number): Promise<void>;
  /** Makes everything written so far durable (fsync). */
  sync(): Promise<void>;
  /** Releases the handle. Idempotent. */
  close(): void;
}

/** Directory-level operations. Paths are plain strings joined with "/". */
export interface Disk {
  /** Opens `path` for reading and writing; creates it if `create` is set, else throws NotFound. */
  open(path: string, options: { create: boolean }): Promise<DiskFile>;
  /** File names (not paths) directly in `dir`, in no particular order. */
  list(dir: string): Promise<string[]>;
  /** Creates `dir` and its parents if missing. */
  mkdirp(dir: string): Promise<void>;
  /** Removes a file; a missing file is not an error. */
  remove(path: string): Promise<void>;
  /** Renames a file, replacing `to` if it exists. */
  rename(from: string, to: string): Promise<void>;
  /** Makes the names in `dir` durable (fsync of the directory). */
  syncDir(dir: string): Promise<void>;
  /** Length of a file in bytes, or undefined if it does not exist. */
  sizeOf(path: string): Promise<number | undefined>;
}

/** Joins a directory and a file name. */
export function joinPath(dir: string, name: string): string {
  return dir.endsWith("/") ? `${dir}${name}` : `${dir}/${name}`;
}

/** Reads a whole file, or undefined if it does not exist. */
export async function readWholeFile(disk: Disk, path: string): Promise<Uint8Array | undefined> {
  const sizeBytes = await disk.sizeOf(path);
  if (sizeBytes === undefined) return undefined;
  const file = await disk.open(path, { create: false });
  try {
    return await readExactly(file, 0, sizeBytes);
  } finally {
    file.close();
  }
}

/** Reads `lengthBytes` at `position`, or fewer if the file ends first. */
export async function readExactly(
  file: DiskFile,
  position: number,
  lengthBytes: number,
): Promise<Uint8Array> {
  const buffer = new Uint8Array(lengthBytes);
  let filled = 0;
  while (filled < lengthBytes) {
    const n = await file.read(position + filled, buffer.subarray(filled));
    if (n === 0) break;
    filled += n;
  }
  return filled === lengthBytes ? buffer : buffer.subarray(0, filled);
}

/**
 * Replaces a small file atomically and durably: write `name.tmp`, fsync,
 * rename over `name`, fsync the directory. After a crash, `name` holds the old
 * or the new content, never a mix.
 */
export async function writeFileAtomic(
  disk: Disk,
  dir: string,
  name: string,
  bytes: Uint8Array,
): Promise<void> {
  const tmp = joinPath(dir, `${name}.tmp`);
  const file = await disk.open(tmp, { create: true });
  try {
    await file.truncate(0);
    await file.write(0, bytes);
    await file.sync();
  } finally {
    file.close();
  }
  await disk.rename(tmp, joinPath(dir, name));
  await disk.syncDir(dir);
}
