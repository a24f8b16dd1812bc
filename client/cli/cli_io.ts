/**
 * What a CLI command needs from the outside world, injectable for tests:
 * where to write, what to read as stdin, and a signal that ends long
 * commands (Ctrl-C).
 *
 * @module
 */

/** The CLI's input and output. */
export interface CliIo {
  /** Writes one line to stdout. */
  out(line: string): void;
  /** Writes one line to stderr. */
  err(line: string): void;
  /** Standard input (for `produce`); default: none. */
  readonly stdin?: ReadableStream<Uint8Array>;
  /** HTTP for commands that speak plain HTTP (`quorum`); the others use the Strom client. */
  readonly fetch: typeof fetch;
  /** Aborted on Ctrl-C: `consume` stops and exits 0. */
  readonly signal?: AbortSignal;
}

/** A bad command line: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  constructor(message: string, readonly usage: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Reads `stream` line by line (without line endings). */
export async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    rest += chunk;
    let nl: number;
    while ((nl = rest.indexOf("\n")) >= 0) {
      yield rest.slice(0, nl).replace(/\r$/, "");
      rest = rest.slice(nl + 1);
    }
  }
  if (rest.length > 0) yield rest.replace(/\r$/, "");
}
