/**
 * Helpers for tests that run real processes: collect a child's output as
 * lines, wait for a line with a deadline, and find free ports.
 *
 * @module
 */

/** Collects a stream's lines and lets a test wait for one. */
export class LineCollector {
  readonly lines: string[] = [];
  #waiters: Waiter[] = [];
  #ended = false;
  readonly done: Promise<void>;

  constructor(stream: ReadableStream<Uint8Array>, echo = false) {
    this.done = this.#pump(stream, echo);
  }

  async #pump(stream: ReadableStream<Uint8Array>, echo: boolean): Promise<void> {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + chunk).split("\n");
      rest = parts.pop() ?? "";
      for (const line of parts) this.#add(line, echo);
    }
    if (rest) this.#add(rest, echo);
    this.#ended = true;
    for (const w of this.#waiters) {
      clearTimeout(w.timer);
      w.reject(new Error(`output ended without a line matching ${w.re}:\n${this.#tail()}`));
    }
    this.#waiters = [];
  }

  #add(line: string, echo: boolean): void {
    if (echo) console.log(line);
    this.lines.push(line);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.re.test(line)) return true;
      clearTimeout(w.timer);
      w.resolve(line);
      return false;
    });
  }

  #tail(): string {
    return this.lines.slice(-30).join("\n");
  }

  /**
   * Resolves with the first line (already seen or future) matching `re`;
   * rejects after `timeoutMs`, or when the output ends without one.
   */
  waitFor(re: RegExp, timeoutMs: number): Promise<string> {
    const seen = this.lines.find((l) => re.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    if (this.#ended) {
      return Promise.reject(
        new Error(`output ended without a line matching ${re}:\n${this.#tail()}`),
      );
    }
    const { promise, resolve, reject } = Promise.withResolvers<string>();
    const waiter: Waiter = {
      re,
      resolve,
      reject,
      timer: setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(
          new Error(`no line matching ${re} within ${timeoutMs} ms; last lines:\n${this.#tail()}`),
        );
      }, timeoutMs),
    };
    this.#waiters.push(waiter);
    return promise;
  }
}

interface Waiter {
  re: RegExp;
  resolve: (line: string) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** Whether a TCP port on 127.0.0.1 can be bound right now. */
export function portFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds `count` consecutive free ports starting at a random base, and
 * `count` more at base + 10000 (the launcher's default internal offset).
 */
export function freePortBase(count: number): number {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 25_000);
    let ok = true;
    for (let i = 0; i < count && ok; i++) ok = portFree(base + i) && portFree(base + 10_000 + i);
    if (ok) return base;
  }
  throw new Error("no free port range found after 200 attempts");
}

/** Whether a process with this pid exists (and is not a zombie). */
export function processAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

/** Polls `check` until it returns true, at most `timeoutMs`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
