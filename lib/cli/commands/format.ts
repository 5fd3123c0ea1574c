/**
 * Output formats shared by `list` and `ps`.
 *
 * @module
 */

import { choice, type ParsedArgs } from "../args.ts";
import { printable } from "../../host/printable.ts";

/** `--format table|json`. */
export type Format = "table" | "json";

/** The `--format` option spec. */
export const FORMAT_OPTION = {
  name: "format",
  type: "string" as const,
  value: "table|json",
  default: "table",
  choices: ["table", "json"] as const,
  help: "output format",
};

/** `--format`, typed (parsing checked it against the option's choices). */
export function formatOf(_cmd: string, p: ParsedArgs): Format {
  return choice(p.values, FORMAT_OPTION, "table");
}

/**
 * Renders rows as left-aligned columns separated by two spaces. Cells are
 * made printable first (control characters as `\xNN`, lib/host/printable.ts):
 * they carry text from images, registries and container processes.
 */
export function table(cells: string[][]): string {
  const rows = cells.map((r) => r.map(printable));
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) =>
    r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ")
  )
    .join("\n") + "\n";
}
