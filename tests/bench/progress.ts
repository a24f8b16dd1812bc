/**
 * A progress bar on stderr: redrawn in place on a terminal, a line every
 * few seconds otherwise, nothing when disabled.
 *
 * @module
 */

/** Redraws at most this often on a terminal. */
const REDRAW_INTERVAL_MS = 200;
/** Prints a line at most this often when stderr is not a terminal. */
const LINE_INTERVAL_MS = 5_000;
const BAR_WIDTH_CHARS = 30;
const TEXT = new TextEncoder();

/** Progress of one phase (records done out of a total). */
export class Progress {
  readonly #enabled: boolean;
  readonly #terminal: boolean;
  readonly #label: string;
  readonly #total: number;
  readonly #startedMs = performance.now();
  #lastDrawMs = -Infinity;

  constructor(options: { label: string; total: number; enabled: boolean }) {
    this.#enabled = options.enabled;
    this.#terminal = Deno.stderr.isTerminal();
    this.#label = options.label;
    this.#total = Math.max(1, options.total);
  }

  /** Reports `done` units finished. */
  update(done: number): void {
    if (!this.#enabled) return;
    const now = performance.now();
    const every = this.#terminal ? REDRAW_INTERVAL_MS : LINE_INTERVAL_MS;
    if (now - this.#lastDrawMs < every && done < this.#total) return;
    this.#lastDrawMs = now;
    const fraction = Math.min(1, done / this.#total);
    const filled = Math.round(fraction * BAR_WIDTH_CHARS);
    const rate = done / Math.max(1e-3, (now - this.#startedMs) / 1000);
    const line = `${this.#label} [${"#".repeat(filled)}${" ".repeat(BAR_WIDTH_CHARS - filled)}] ${
      (fraction * 100).toFixed(0).padStart(3)
    }% ${done}/${this.#total} ${Math.round(rate)}/s`;
    Deno.stderr.writeSync(TEXT.encode(this.#terminal ? `\r${line}` : `${line}\n`));
  }

  /** Ends the bar's line. */
  finish(): void {
    if (this.#enabled && this.#terminal) Deno.stderr.writeSync(TEXT.encode("\n"));
  }
}
