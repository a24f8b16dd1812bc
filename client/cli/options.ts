/**
 * Flag parsing shared by every command: `node:util` parseArgs with the
 * common flags (`--bootstrap-server`, `--json`, `--help`), Kafka-style
 * `--property k=v` and `--config k=v` lists, and number checks that turn
 * bad input into a {@link UsageError}.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { UsageError } from "./cli_io.ts";

/** The broker asked when no `--bootstrap-server` is given (the local cluster's first node). */
export const DEFAULT_BOOTSTRAP = "http://127.0.0.1:9092";

type OptionSpec = { type: "string" | "boolean"; multiple?: boolean; short?: string };

/** The flags every command takes. */
export const COMMON_OPTIONS = {
  "bootstrap-server": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies Record<string, OptionSpec>;

/** Parses `args` with the common flags plus `options`; unknown flags are usage errors. */
export function parseFlags<T extends Record<string, OptionSpec>>(
  args: string[],
  options: T,
  usage: string,
) {
  try {
    return parseArgs({
      args,
      options: { ...COMMON_OPTIONS, ...options },
      strict: true,
      allowPositionals: false,
    });
  } catch (e) {
    throw new UsageError((e as Error).message, usage);
  }
}

/** `k=v` pairs (from `--property` or `--config`) as an object. */
export function keyValues(list: readonly string[] | undefined, flag: string, usage: string) {
  const out: Record<string, string> = {};
  for (const item of list ?? []) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new UsageError(`${flag} takes key=value, got '${item}'`, usage);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/** A flag that must be an integer ≥ `min`. */
export function intFlag(
  value: string | undefined,
  flag: string,
  usage: string,
  min = 0,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) {
    throw new UsageError(`${flag} must be an integer ≥ ${min}, got '${value}'`, usage);
  }
  return n;
}

/** A flag that must be given. */
export function required<T>(value: T | undefined, flag: string, usage: string): T {
  if (value === undefined) throw new UsageError(`${flag} is required`, usage);
  return value;
}

/** Turns `\t`, `\n` and `\\` in a flag value into the characters. */
export function unescape(s: string): string {
  return s.replace(
    /\\(t|n|r|\\)/g,
    (_, c) => ({ t: "\t", n: "\n", r: "\r", "\\": "\\" })[c as "t"],
  );
}
