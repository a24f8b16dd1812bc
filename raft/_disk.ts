/**
 * The file-system operations the file storage uses, behind an interface so
 * that tests can run it on a simulated disk that loses what was not fsynced
 * (`_disk_sim.ts`), and the real implementation on `Deno` APIs.
 *
 * Semantics every implementation follows (those of Linux file systems):
 * a write is durable after `syncData()` of its file; a file creation, rename
 * or removal is durable after `syncDir()` of its directory.
 *
 * @module
 */

/** An open file, positioned at its end for appending. */
export interface DiskFile {
  /** Appends some prefix of `bytes` (possibly not all); answers how many bytes. */
  write(bytes: Uint8Array): Promise<number>;
  /** Makes the file's content durable. */
  syncData(): Promise<void>;
  /** Cuts the file to `length` bytes; later writes append after it. */
  truncate(length: number): Promise<void>;
  close(): void;
}

/** The disk operations of the file storage. Paths are `dir/name`. */
export interface Disk {
  /** Creates `dir` and its parents if needed. */
  mkdirAll(dir: string): Promise<void>;
  /** Names of the regular files in `dir`. */
  list(dir: string): Promise<string[]>;
  /** A whole file, or `undefined` if it does not exist. */
  readFile(path: string): Promise<Uint8Array | undefined>;
  /** Opens a file for appending; `create` makes it (empty) if missing, `truncate` empties it. */
  openAppend(path: string, options: { create: boolean; truncate: boolean }): Promise<DiskFile>;
  /** Renames `from` to `to`, replacing `to` atomically. */
  rename(from: string, to: string): Promise<void>;
  /** Removes a file; one that does not exist is not an error. */
  remove(path: string): Promise<void>;
  /** Makes creations, renames and removals in `dir` durable. */
  syncDir(dir: string): Promise<void>;
}

/** The real disk, through `Deno` APIs. */
export const realDisk: Disk = {
  async mkdirAll(dir) {
    await Deno.mkdir(dir, { recursive: true });
  },
  async list(dir) {
    const names: string[] = [];
    for await (const item of Deno.readDir(dir)) if (item.isFile) names.push(item.name);
    return names;
  },
  async readFile(path) {
    try {
      return await Deno.readFile(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
  },
  async openAppend(path, options) {
    // O_APPEND keeps every write at the end even after truncate(); Deno refuses
    // `truncate` together with `append`, so empty the file explicitly.
    const file = await Deno.open(path, { append: true, create: options.create });
    if (options.truncate) await file.truncate(0);
    return {
      write: (bytes) => file.write(bytes),
      syncData: () => file.syncData(),
      truncate: (length) => file.truncate(length),
      close: () => file.close(),
    };
  },
  rename: (from, to) => Deno.rename(from, to),
  async remove(path) {
    try {
      await Deno.remove(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  },
  async syncDir(dir) {
    // On Linux a rename is only durable once its directory is synced.
    const handle = await Deno.open(dir, { read: true });
    try {
      await handle.sync();
    } finally {
      handle.close();
    }
  },
};
