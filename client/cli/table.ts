/**
 * Human-readable tables for the CLI.
 *
 * @module
 */

/**
 * Formats rows as a left-aligned table with a header line.
 *
 * @example
 * ```ts
 * import { table } from "./table.ts";
 * console.log(table(["ID", "URL"], [["1", "http://127.0.0.1:9092"]]));
 * ```
 */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd())
    .join("\n");
}
