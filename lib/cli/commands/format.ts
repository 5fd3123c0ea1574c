/**
 * Output formats shared by the listing commands: `--format table|json`
 * (`list`, `ps`) and `--format table|json|TEMPLATE` (`images`, `volume ls`,
 * `network ls`, `stats`, `inspect`, `image inspect`), where TEMPLATE is a
 * Go text/template (../template.ts) applied to each row, and a leading
 * `table` adds a header row and aligns the tab-separated columns.
 *
 * @module
 */

import { choice, type OptionSpec, type ParsedArgs, str } from "../args.ts";
import { printable } from "../../host/printable.ts";
import { alignTabs, tablePrefix, Template } from "../template.ts";

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

/** `--format table|json|TEMPLATE`, parsed. */
export type OutputFormat =
  | { kind: "table" }
  | { kind: "json" }
  | {
    kind: "template";
    template: Template;
    /** A leading `table`: a header row and aligned columns. */
    table: boolean;
    /** The template ends its own lines (ends with a newline). */
    endsLine: boolean;
  };

/** The `--format table|json|TEMPLATE` option spec (`short`: e.g. inspect's `-f`). */
export function templateFormatOption(
  fallback: "table" | "json" = "table",
  short?: string,
): OptionSpec {
  return {
    name: "format",
    ...(short !== undefined ? { short } : {}),
    type: "string",
    value: fallback === "json" ? "json|TEMPLATE" : "table|json|TEMPLATE",
    default: fallback,
    help: fallback === "json"
      ? "output format: json, or a Go template applied to each entry ('{{.Name}}')"
      : "output format: table, json, or a Go template ('{{.Name}}', 'table {{.ID}}\\t{{.Name}}')",
  };
}

/**
 * Parses `--format`: `table` and `json` keep their meaning; anything else
 * is a template, parsed now (a bad one is exit 2 before anything runs).
 */
export function outputFormatOf(
  values: ParsedArgs["values"],
  fallback: "table" | "json" = "table",
): OutputFormat {
  const f = str(values, "format");
  if (f === undefined || f === "") return { kind: fallback };
  if (f === "table" || f === "json") return { kind: f };
  const t = tablePrefix(f);
  const body = t === null ? f : t.rest;
  const template = Template.parse(body, t === null ? 0 : t.offset);
  return {
    kind: "template",
    template,
    table: t !== null,
    endsLine: body.endsWith("\n") || body.endsWith("\\n"),
  };
}

/**
 * Applies a template format to each row: one line each (podman adds the
 * newline when the template does not end with one), after a header row
 * (`overrides` names a field's header where the default word is not
 * podman's) when the format starts with `table`. Every row is rendered
 * before anything is returned, so a template that fails on any row
 * prints nothing.
 */
export function renderTemplate(
  f: Extract<OutputFormat, { kind: "template" }>,
  rows: readonly unknown[],
  overrides: Record<string, string> = {},
): string {
  const nl = f.endsLine ? "" : "\n";
  const lines = rows.map((r) => f.template.execute(r) + nl);
  if (!f.table) return lines.join("");
  const text = [f.template.header(overrides) + nl, ...lines].join("");
  return alignTabs(text);
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
