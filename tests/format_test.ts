// The shared --format helper (lib/cli/commands/format.ts): table and json
// keep their meaning, anything else is a template parsed up front, and
// rendering is all or nothing.

import { assertEquals, assertThrows } from "./assert.ts";
import { outputFormatOf, renderTemplate } from "../lib/cli/commands/format.ts";
import { TemplateError } from "../lib/cli/template.ts";

const fmt = (format?: string, fallback: "table" | "json" = "table") =>
  outputFormatOf(format === undefined ? {} : { format }, fallback);

function template(format: string) {
  const f = fmt(format);
  if (f.kind !== "template") throw new Error(`not a template: ${format}`);
  return f;
}

Deno.test("table and json keep their meaning; no --format is the command's default", () => {
  assertEquals(fmt(), { kind: "table" });
  assertEquals(fmt(undefined, "json"), { kind: "json" });
  assertEquals(fmt("table", "json"), { kind: "table" });
  assertEquals(fmt("json"), { kind: "json" });
  assertEquals(fmt("{{.Name}}").kind, "template");
  // Text without actions is a template too, as in podman: it prints itself per row.
  assertEquals(renderTemplate(template("yaml"), [{}, {}]), "yaml\nyaml\n");
});

Deno.test("a template prints one line per row, and no extra newline when it ends with one", () => {
  const rows = [{ Name: "a", N: 1 }, { Name: "b", N: 2 }];
  assertEquals(renderTemplate(template("{{.Name}}={{.N}}"), rows), "a=1\nb=2\n");
  assertEquals(renderTemplate(template("{{.Name}}\\n"), rows), "a\nb\n");
  assertEquals(renderTemplate(template("{{.Name}}\\t{{.N}}"), rows), "a\t1\nb\t2\n");
  assertEquals(renderTemplate(template("{{.Name}}"), []), "");
});

Deno.test("table TEMPLATE: a header row (overrides win) and aligned columns", () => {
  const rows = [{ ID: "abc", CPUPerc: "1.00%" }, { ID: "a-much-longer-id", CPUPerc: "--" }];
  assertEquals(
    renderTemplate(template("table {{.ID}}\\t{{.CPUPerc}}"), rows, { CPUPerc: "CPU %" }),
    "ID                CPU %\nabc               1.00%\na-much-longer-id  --\n",
  );
  assertEquals(renderTemplate(template("table {{.ID}}"), []), "ID\n");
});

Deno.test("a bad template fails while parsing; a row that breaks it fails the whole render", () => {
  assertThrows(() => fmt("{{.Name"), TemplateError, "template: column 1: unclosed action");
  assertThrows(() => fmt("table {{nope}}"), TemplateError, "template: column 9:");
  const f = template("{{.Name.First}}");
  assertEquals(renderTemplate(f, [{ Name: { First: "x" } }]), "x\n");
  assertThrows(
    () => renderTemplate(f, [{ Name: { First: "x" } }, { Name: "plain" }]),
    TemplateError,
    "can't evaluate field First in type string",
  );
});
