/**
 * A simulated {@link Disk} that loses what was not made durable when it
 * "loses power": file contents not covered by `syncData()`, and creations,
 * renames and removals not covered by `syncDir()`. An unsynced append may
 * survive as a torn prefix. Writes randomly write only part of their buffer.
 *
 * It can also be told to fail every operation after the next `n`, to cut an
 * operation of the file storage in the middle.
 *
 * @module
 */

import type { Disk, DiskFile } from "./_disk.ts";

/** Thrown by every operation once the simulated disk has lost power. */
export class PowerLossError extends Error {
  constructor() {
    super("the simulated disk lost power");
    this.name = "PowerLossError";
  }
}

interface Inode {
  /** What a power loss keeps. */
  durable: Uint8Array;
  /** What reads see now. */
  current: Uint8Array;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (prefix.length > bytes.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

/**
 * An in-memory disk with power-loss semantics, for tests. One flat namespace
 * of paths; a directory is the part of a path before its last `/`.
 */
export class SimDisk implements Disk {
  readonly #random: () => number;
  readonly #inodes: Inode[] = [];
  /** Path → inode, as reads see it. */
  #names = new Map<string, number>();
  /** Path → inode, as a power loss keeps it. */
  #durableNames = new Map<string, number>();
  #operationsLeft = Infinity;
  #poweredOff = false;

  /** `random` answers in [0, 1); it decides partial writes and torn tails. */
  constructor(random: () => number) {
    this.#random = random;
  }

  /** Lets `operations` more operations succeed, then fails all later ones with {@link PowerLossError}. */
  failAfter(operations: number): void {
    this.#operationsLeft = operations;
  }

  /** Whether the disk lost power (by {@link failAfter}). */
  get poweredOff(): boolean {
    return this.#poweredOff;
  }

  /**
   * What a machine finds after power comes back: a new disk holding only what
   * was durable, plus, for files that were only appended to since their last
   * sync, a random prefix of the unsynced bytes.
   */
  afterPowerLoss(): SimDisk {
    const next = new SimDisk(this.#random);
    const copied = new Map<number, number>();
    for (const [path, id] of this.#durableNames) {
      let newId = copied.get(id);
      if (newId === undefined) {
        const inode = this.#inodes[id];
        let content = inode.durable;
        if (
          inode.current.length > inode.durable.length && startsWith(inode.current, inode.durable)
        ) {
          const kept = Math.floor(
            this.#random() * (inode.current.length - inode.durable.length + 1),
          );
          content = inode.current.slice(0, inode.durable.length + kept);
        }
        newId = next.#inodes.push({ durable: content.slice(), current: content.slice() }) - 1;
        copied.set(id, newId);
      }
      next.#names.set(path, newId);
      next.#durableNames.set(path, newId);
    }
    return next;
  }

  #step(): void {
    if (this.#poweredOff) throw new PowerLossError();
    if (this.#operationsLeft-- <= 0) {
      this.#poweredOff = true;
      throw new PowerLossError();
    }
  }

  mkdirAll(_dir: string): Promise<void> {
    this.#step();
    return Promise.resolve();
  }

  list(dir: string): Promise<string[]> {
    this.#step();
    const prefix = `${dir}/`;
    return Promise.resolve(
      [...this.#names.keys()].filter((path) =>
        path.startsWith(prefix) && !path.slice(prefix.length).includes("/")
      ).map((path) => path.slice(prefix.length)),
    );
  }

  readFile(path: string): Promise<Uint8Array | undefined> {
    this.#step();
    const id = this.#names.get(path);
    return Promise.resolve(id === undefined ? undefined : this.#inodes[id].current.slice());
  }

  openAppend(path: string, options: { create: boolean; truncate: boolean }): Promise<DiskFile> {
    this.#step();
    let id = this.#names.get(path);
    if (id === undefined) {
      if (!options.create) throw new Deno.errors.NotFound(`no such simulated file: ${path}`);
      id = this.#inodes.push({ durable: new Uint8Array(0), current: new Uint8Array(0) }) - 1;
      this.#names.set(path, id);
    }
    // A handle keeps its inode even if the name is later removed or replaced.
    const inode = this.#inodes[id];
    if (options.truncate) inode.current = new Uint8Array(0);
    let open = true;
    const check = () => {
      if (!open) throw new Error(`simulated file ${path} is closed`);
      this.#step();
    };
    return Promise.resolve({
      write: (bytes: Uint8Array) => {
        check();
        // Sometimes write only part, as write(2) may.
        const n = bytes.length > 1 && this.#random() < 0.2
          ? 1 + Math.floor(this.#random() * (bytes.length - 1))
          : bytes.length;
        inode.current = concat(inode.current, bytes.subarray(0, n));
        return Promise.resolve(n);
      },
      syncData: () => {
        check();
        inode.durable = inode.current.slice();
        return Promise.resolve();
      },
      truncate: (length: number) => {
        check();
        inode.current = inode.current.slice(0, length);
        return Promise.resolve();
      },
      close: () => {
        open = false;
      },
    });
  }

  rename(from: string, to: string): Promise<void> {
    this.#step();
    const id = this.#names.get(from);
    if (id === undefined) throw new Deno.errors.NotFound(`no such simulated file: ${from}`);
    this.#names.set(to, id);
    this.#names.delete(from);
    return Promise.resolve();
  }

  remove(path: string): Promise<void> {
    this.#step();
    this.#names.delete(path);
    return Promise.resolve();
  }

  syncDir(dir: string): Promise<void> {
    this.#step();
    const prefix = `${dir}/`;
    for (const path of [...this.#durableNames.keys()]) {
      if (path.startsWith(prefix) && !this.#names.has(path)) this.#durableNames.delete(path);
    }
    for (const [path, id] of this.#names) {
      if (path.startsWith(prefix)) this.#durableNames.set(path, id);
    }
    return Promise.resolve();
  }
}
