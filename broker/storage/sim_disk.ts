/**
 * An in-memory {@link Disk} for tests and simulation that models what a real
 * disk may do on power loss: file contents written since the last `sync` and
 * names changed since the last `syncDir` may be lost, and the last surviving
 * write may be torn (only a prefix of it reaches the platter).
 *
 * Crashes are explicit ({@link SimDisk.crash}) and seeded, so a failing run is
 * reproducible from its seed. After a crash every handle opened before it is
 * dead; reopen through the disk, as a restarted process would.
 *
 * @module
 */

import type { Disk, DiskFile } from "./disk.ts";
import { createPrng, type Prng } from "./_prng.ts";

/** What survives of the writes and renames that were not synced. */
export type UnsyncedFate = "lose" | "keep" | "random";

/** An operation that a simulated I/O fault can be injected into. */
export type SimOperation = "open" | "read" | "write" | "truncate" | "sync" | "rename" | "remove";

type PendingChange =
  | { kind: "write"; position: number; bytes: Uint8Array }
  | { kind: "truncate"; lengthBytes: number };

class Inode {
  data: Uint8Array = new Uint8Array(0);
  lengthBytes = 0;
  durable: Uint8Array = new Uint8Array(0);
  /** Changes since the last sync, oldest first: what a crash may lose. */
  pending: PendingChange[] = [];

  ensureCapacity(bytes: number): void {
    if (bytes <= this.data.length) return;
    const grown = new Uint8Array(Math.max(bytes, this.data.length * 2, 4096));
    grown.set(this.data.subarray(0, this.lengthBytes));
    this.data = grown;
  }

  applyWrite(position: number, bytes: Uint8Array): void {
    this.ensureCapacity(position + bytes.length);
    if (position > this.lengthBytes) this.data.fill(0, this.lengthBytes, position);
    this.data.set(bytes, position);
    this.lengthBytes = Math.max(this.lengthBytes, position + bytes.length);
  }

  applyTruncate(lengthBytes: number): void {
    this.ensureCapacity(lengthBytes);
    if (lengthBytes > this.lengthBytes) this.data.fill(0, this.lengthBytes, lengthBytes);
    this.lengthBytes = lengthBytes;
  }

  contents(): Uint8Array {
    return this.data.slice(0, this.lengthBytes);
  }
}

/** Options of {@link SimDisk}. */
export interface SimDiskOptions {
  /** Seed of the PRNG that decides what a `random` crash keeps. */
  readonly seed?: number;
}

/** The simulated disk. */
export class SimDisk implements Disk {
  #names = new Map<string, Inode>();
  #durableNames = new Map<string, Inode>();
  #dirs = new Set<string>();
  #generation = 0;
  #prng: Prng;
  #openHandles = 0;
  #fault: ((operation: SimOperation, path: string) => boolean) | undefined;
  /** How many fsyncs (file and directory) have been issued: for group-commit tests. */
  syncCount = 0;
  /** How long a file fsync takes, so that concurrent callers can overlap it. */
  syncDelayMs = 0;

  constructor(options: SimDiskOptions = {}) {
    this.#prng = createPrng(options.seed ?? 1);
  }

  /** Handles opened and not yet closed (dead handles from before a crash excluded). */
  get openHandleCount(): number {
    return this.#openHandles;
  }

  /**
   * Makes `predicate` decide, for each later operation, whether it fails with
   * a simulated I/O error. Pass undefined to stop injecting faults.
   */
  injectFault(predicate: ((operation: SimOperation, path: string) => boolean) | undefined): void {
    this.#fault = predicate;
  }

  /**
   * Simulates power loss. `lose` keeps only synced data and names; `keep`
   * keeps everything; `random` keeps, per file, a random prefix of the
   * unsynced changes whose last write may be torn, and per changed name
   * either the synced or the current entry.
   */
  crash(fate: UnsyncedFate = "random"): void {
    this.#generation++;
    this.#openHandles = 0;
    const names = new Map<string, Inode>();
    const paths = new Set([...this.#names.keys(), ...this.#durableNames.keys()]);
    for (const path of paths) {
      const durable = this.#durableNames.get(path);
      const current = this.#names.get(path);
      const chosen = durable === current
        ? current
        : fate === "keep"
        ? current
        : fate === "lose"
        ? durable
        : this.#prng.next() < 0.5
        ? durable
        : current;
      if (chosen) names.set(path, chosen);
    }
    for (const inode of new Set(names.values())) this.#crashInode(inode, fate);
    this.#names = names;
    this.#durableNames = new Map(names);
  }

  /** A file's current bytes (a copy), for tests. */
  fileBytes(path: string): Uint8Array | undefined {
    return this.#names.get(path)?.contents();
  }

  /** Overwrites a file's bytes as if durably written, for corruption tests. */
  setFileBytes(path: string, bytes: Uint8Array): void {
    const inode = this.#names.get(path) ?? new Inode();
    inode.lengthBytes = 0;
    inode.applyWrite(0, bytes);
    inode.durable = inode.contents();
    inode.pending = [];
    this.#names.set(path, inode);
    this.#durableNames.set(path, inode);
  }

  open(path: string, options: { create: boolean }): Promise<DiskFile> {
    this.#check("open", path);
    let inode = this.#names.get(path);
    if (!inode) {
      if (!options.create) {
        return Promise.reject(new Deno.errors.NotFound(`sim disk: no such file ${path}`));
      }
      inode = new Inode();
      this.#names.set(path, inode);
    }
    this.#openHandles++;
    return Promise.resolve(new SimFile(this, path, inode, this.#generation));
  }

  list(dir: string): Promise<string[]> {
    const prefix = dir.endsWith("/") ? dir : `${dir}/`;
    const names: string[] = [];
    for (const path of this.#names.keys()) {
      if (path.startsWith(prefix) && !path.slice(prefix.length).includes("/")) {
        names.push(path.slice(prefix.length));
      }
    }
    return Promise.resolve(names);
  }

  mkdirp(dir: string): Promise<void> {
    this.#dirs.add(dir);
    return Promise.resolve();
  }

  remove(path: string): Promise<void> {
    this.#check("remove", path);
    this.#names.delete(path);
    return Promise.resolve();
  }

  rename(from: string, to: string): Promise<void> {
    this.#check("rename", from);
    const inode = this.#names.get(from);
    if (!inode) return Promise.reject(new Deno.errors.NotFound(`sim disk: no such file ${from}`));
    this.#names.delete(from);
    this.#names.set(to, inode);
    return Promise.resolve();
  }

  syncDir(dir: string): Promise<void> {
    this.#check("sync", dir);
    this.syncCount++;
    const prefix = dir.endsWith("/") ? dir : `${dir}/`;
    const inDir = (path: string) =>
      path.startsWith(prefix) && !path.slice(prefix.length).includes("/");
    for (const path of [...this.#durableNames.keys()]) {
      if (inDir(path)) this.#durableNames.delete(path);
    }
    for (const [path, inode] of this.#names) {
      if (inDir(path)) this.#durableNames.set(path, inode);
    }
    return Promise.resolve();
  }

  sizeOf(path: string): Promise<number | undefined> {
    return Promise.resolve(this.#names.get(path)?.lengthBytes);
  }

  /** @internal Throws if the handle is dead or a fault is injected. */
  checkHandle(operation: SimOperation, path: string, generation: number, closed: boolean): void {
    if (closed || generation !== this.#generation) {
      throw new Deno.errors.BadResource(
        `sim disk: handle for ${path} is closed or from before a crash`,
      );
    }
    this.#check(operation, path);
  }

  /** @internal */
  handleClosed(generation: number): void {
    if (generation === this.#generation) this.#openHandles--;
  }

  #check(operation: SimOperation, path: string): void {
    if (this.#fault?.(operation, path)) {
      throw new Error(`sim disk: injected I/O error on ${operation} ${path}`);
    }
  }

  #crashInode(inode: Inode, fate: UnsyncedFate): void {
    const pending = inode.pending;
    const keep = fate === "keep"
      ? pending.length
      : fate === "lose"
      ? 0
      : this.#prng.int(pending.length + 1);
    const tearLast = fate === "random" && keep > 0 && pending[keep - 1].kind === "write" &&
      this.#prng.next() < 0.5;
    const rebuilt = new Inode();
    rebuilt.applyWrite(0, inode.durable);
    for (let i = 0; i < keep; i++) {
      const change = pending[i];
      if (change.kind === "truncate") {
        rebuilt.applyTruncate(change.lengthBytes);
      } else if (i === keep - 1 && tearLast) {
        const torn = this.#prng.int(change.bytes.length);
        rebuilt.applyWrite(change.position, change.bytes.subarray(0, torn));
      } else {
        rebuilt.applyWrite(change.position, change.bytes);
      }
    }
    inode.data = rebuilt.data;
    inode.lengthBytes = rebuilt.lengthBytes;
    inode.durable = inode.contents();
    inode.pending = [];
  }
}

class SimFile implements DiskFile {
  #closed = false;

  constructor(
    private readonly disk: SimDisk,
    readonly path: string,
    private readonly inode: Inode,
    private readonly generation: number,
  ) {}

  read(position: number, buffer: Uint8Array): Promise<number> {
    try {
      this.disk.checkHandle("read", this.path, this.generation, this.#closed);
    } catch (error) {
      return Promise.reject(error);
    }
    const available = Math.max(0, Math.min(buffer.length, this.inode.lengthBytes - position));
    buffer.set(this.inode.data.subarray(position, position + available));
    return Promise.resolve(available);
  }

  write(position: number, bytes: Uint8Array): Promise<void> {
    return this.#run("write", () => {
      const copy = bytes.slice();
      this.inode.applyWrite(position, copy);
      this.inode.pending.push({ kind: "write", position, bytes: copy });
    });
  }

  size(): Promise<number> {
    return this.#run("read", () => this.inode.lengthBytes);
  }

  truncate(lengthBytes: number): Promise<void> {
    return this.#run("truncate", () => {
      this.inode.applyTruncate(lengthBytes);
      this.inode.pending.push({ kind: "truncate", lengthBytes });
    });
  }

  async sync(): Promise<void> {
    // What is durable is what was written when the fsync started.
    const snapshot = await this.#run("sync", () => {
      this.disk.syncCount++;
      return { contents: this.inode.contents(), pendingCount: this.inode.pending.length };
    });
    if (this.disk.syncDelayMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, this.disk.syncDelayMs));
      // A crash during the fsync means it never completed.
      this.disk.checkHandle("sync", this.path, this.generation, false);
    }
    this.inode.durable = snapshot.contents;
    this.inode.pending = this.inode.pending.slice(snapshot.pendingCount);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.disk.handleClosed(this.generation);
  }

  #run<T>(operation: SimOperation, body: () => T): Promise<T> {
    try {
      this.disk.checkHandle(operation, this.path, this.generation, this.#closed);
      return Promise.resolve(body());
    } catch (error) {
      return Promise.reject(error);
    }
  }
}
