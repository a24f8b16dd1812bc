/**
 * {@link Disk} on the real file system through Deno's async file API.
 *
 * Deno files have one cursor, so a positioned read or write is a seek then a
 * read/write; those pairs are serialised per handle. `sync` is not, because
 * fsync does not depend on the cursor and must not wait behind reads.
 *
 * An operation on an idle handle starts synchronously, and a write at the
 * cursor issues its syscall before returning: the log relies on this to check
 * a batch's CRC on the JS thread while Deno's I/O thread copies the same batch
 * into the page cache (see `Segment.append`).
 *
 * @module
 */

import type { Disk, DiskFile } from "./disk.ts";
import { SETTLED } from "./_locks.ts";

class RealDiskFile implements DiskFile {
  #file: Deno.FsFile;
  #cursor = 0;
  /** The last queued operation's settlement; unused (and shared) while nothing is pending. */
  #queue: Promise<unknown> = SETTLED;
  /** Operations started and not yet settled; 0 means the next one may start at once. */
  #pending = 0;
  #closed = false;

  constructor(readonly path: string, file: Deno.FsFile) {
    this.#file = file;
  }

  read(position: number, buffer: Uint8Array): Promise<number> {
    return this.#serial(async () => {
      await this.#seek(position);
      const n = await this.#file.read(buffer);
      if (n === null) return 0;
      this.#cursor += n;
      return n;
    });
  }

  write(position: number, bytes: Uint8Array): Promise<void> {
    return this.#serial(async () => {
      // No await before the first write when the cursor is already there, so the
      // syscall is issued before write() returns.
      if (this.#cursor !== position) await this.#seek(position);
      let written = 0;
      // write() may write only part of the buffer: loop until all of it is out.
      while (written < bytes.length) {
        const n = await this.#file.write(bytes.subarray(written));
        written += n;
        this.#cursor += n;
      }
    });
  }

  async size(): Promise<number> {
    return (await this.#file.stat()).size;
  }

  truncate(lengthBytes: number): Promise<void> {
    return this.#serial(() => this.#file.truncate(lengthBytes));
  }

  sync(): Promise<void> {
    return this.#file.sync();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#file.close();
  }

  async #seek(position: number): Promise<void> {
    if (this.#cursor === position) return;
    await this.#file.seek(position, Deno.SeekMode.Start);
    this.#cursor = position;
  }

  #serial<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.#pending === 0 ? startNow(operation) : this.#queue.then(operation, operation);
    this.#pending++;
    const settled = () => {
      if (--this.#pending === 0) this.#queue = SETTLED;
    };
    this.#queue = run.then(settled, settled);
    return run;
  }
}

function startNow<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return operation();
  } catch (error) {
    return Promise.reject(error);
  }
}

/** The real file system. */
export class RealDisk implements Disk {
  async open(path: string, options: { create: boolean }): Promise<DiskFile> {
    const file = await Deno.open(path, { read: true, write: true, create: options.create });
    return new RealDiskFile(path, file);
  }

  async list(dir: string): Promise<string[]> {
    const names: string[] = [];
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile) names.push(entry.name);
    }
    return names;
  }

  async mkdirp(dir: string): Promise<void> {
    await Deno.mkdir(dir, { recursive: true });
  }

  async remove(path: string): Promise<void> {
    try {
      await Deno.remove(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }

  async rename(from: string, to: string): Promise<void> {
    await Deno.rename(from, to);
  }

  async syncDir(dir: string): Promise<void> {
    const handle = await Deno.open(dir, { read: true });
    try {
      await handle.sync();
    } finally {
      handle.close();
    }
  }

  async sizeOf(path: string): Promise<number | undefined> {
    try {
      return (await Deno.stat(path)).size;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
  }
}
