/**
 * The broker's logger: one line per event, `LEVEL message key=value ...`,
 * on stderr, so the launcher can prefix each node's lines with its id.
 * Kept deliberately small: structured fields and a level filter are all a
 * node needs; aggregation is the operator's log shipper's job.
 *
 * @module
 */

/** Severity, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVEL_RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Structured fields printed after the message. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

/** Where log lines go. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** A logger writing lines at or above `level` to `sink` (stderr by default). */
export function createLogger(
  options: { level?: LogLevel; sink?: (line: string) => void; clock?: () => Date } = {},
): Logger {
  const threshold = LEVEL_RANK[options.level ?? "info"];
  const sink = options.sink ?? ((line: string) => console.error(line));
  const clock = options.clock ?? (() => new Date());
  const log = (level: LogLevel, message: string, fields?: LogFields) => {
    if (LEVEL_RANK[level] < threshold) return;
    sink(
      `${clock().toISOString()} ${level.toUpperCase().padEnd(5)} ${message}${formatFields(fields)}`,
    );
  };
  return {
    debug: (m, f) => log("debug", m, f),
    info: (m, f) => log("info", m, f),
    warn: (m, f) => log("warn", m, f),
    error: (m, f) => log("error", m, f),
  };
}

function formatFields(fields: LogFields | undefined): string {
  if (!fields) return "";
  let out = "";
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const text = String(value);
    out += ` ${key}=${/[\s"=]/.test(text) ? JSON.stringify(text) : text}`;
  }
  return out;
}
