/**
 * Output formats shared by `list` and `ps`.
 *
 * @module
 */

import { type ParsedArgs, str } from "../args.ts";
import { InvalidArgument } from "../../host/errors.ts";

/** `--format table|json`. */
export type Format = "table" | "json";

/** The `--format` option spec. */
export const FORMAT_OPTION = {
  name: "format",
  type: "string" as const,
  value: "table|json",
  default: "table",
  help: "output format",
};

/** Reads and checks `--format`. */
export function formatOf(cmd: string, p: ParsedArgs): Format {
  const f = str(p.values, "format") ?? "table";
  if (f !== "table" && f !== "json") {
    throw new InvalidArgument(`${cmd}: --format must be table or json, not "${f}"`);
  }
  return f;
}

/** Renders rows as left-aligned columns separated by two spaces. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) =>
    r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ")
  )
    .join("\n") + "\n";
}
