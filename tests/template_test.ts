// The Go text/template subset of `--format` (lib/cli/template.ts): values
// print as Go prints them, blocks follow Go's truth, and every error names
// the column where the template went wrong.

import { assertEquals, assertThrows } from "./assert.ts";
import { InvalidArgument } from "../lib/host/errors.ts";
import {
  alignTabs,
  goString,
  headerWord,
  tablePrefix,
  Template,
  TemplateError,
  truth,
} from "../lib/cli/template.ts";

const DATA = {
  Names: "web",
  ID: "abc",
  State: { Status: "running", Pid: 5, Health: null, Running: true },
  L: ["a", "b"],
  M: { k: "v", z: 1 },
  Nested: [{ N: 1 }, { N: 2 }],
  E: [],
  O: {},
  Zero: 0,
  Empty: "",
  F: 1.5,
  Big: 1e21,
  Mixed: ["x", 1, true, null, { a: [1] }],
};

const run = (tpl: string, data: unknown = DATA) => Template.parse(tpl).execute(data);

Deno.test("fields, map keys, dot and $", () => {
  assertEquals(run("{{.Names}}"), "web");
  assertEquals(run("{{.State.Status}}/{{.State.Pid}}"), "running/5");
  assertEquals(run("{{.M.k}}"), "v");
  assertEquals(run("{{.}}", "plain"), "plain");
  assertEquals(run("{{range .L}}{{$.Names}}:{{.}} {{end}}"), "web:a web:b ");
  assertEquals(run("{{ .Names }}"), "web");
});

Deno.test("values print as Go prints them", () => {
  assertEquals(run("{{.Missing}}"), "<no value>");
  assertEquals(run("{{.Missing.Sub}}"), "<no value>");
  assertEquals(run("{{.State.Health}}"), "<nil>");
  assertEquals(run("{{.L}}"), "[a b]");
  assertEquals(run("{{.M}}"), "map[k:v z:1]");
  assertEquals(run("{{.Mixed}}"), "[x 1 true <nil> map[a:[1]]]");
  assertEquals(run("{{.State.Running}} {{.Zero}} {{.F}} {{.Big}}"), "true 0 1.5 1e+21");
  assertEquals(goString(undefined), "<no value>");
  assertEquals(goString(null), "<nil>");
});

Deno.test("json, index, join, lower, upper, len and pipelines", () => {
  assertEquals(run("{{json .L}}"), '["a","b"]');
  assertEquals(run("{{json .M}}"), '{"k":"v","z":1}');
  assertEquals(run("{{json .Missing}}"), "null");
  assertEquals(run('{{json "<&>"}}'), '"<&>"');
  assertEquals(run('{{index .M "k"}}'), "v");
  assertEquals(run('{{index .M "nope"}}'), "<no value>");
  assertEquals(run("{{index .L 1}}"), "b");
  assertEquals(run("{{index .Nested 1 }}"), "map[N:2]");
  assertEquals(run('{{join .L ", "}}'), "a, b");
  assertEquals(run("{{lower .ID | upper}}"), "ABC");
  assertEquals(run("{{upper .Names}}"), "WEB");
  assertEquals(run("{{.L | json}}"), '["a","b"]');
  assertEquals(run("{{len .L}} {{len .M}} {{len .Names}}"), "2 2 3");
  assertEquals(run('{{(index .M "k")}}'), "v");
  assertEquals(run("{{(index .Nested 0).N}}"), "1");
  assertEquals(run('{{"a\\tb"}}'), "a\tb");
  assertEquals(run("{{`raw\\t`}}"), "raw\\t");
});

Deno.test("if, else if, else, with and Go's truth", () => {
  for (const v of [false, 0, "", null, undefined, [], {}]) assertEquals(truth(v), false);
  for (const v of [true, 1, "x", [0], { a: 0 }]) assertEquals(truth(v), true);
  assertEquals(run("{{if .E}}y{{else}}n{{end}}"), "n");
  assertEquals(run("{{if .O}}y{{else}}n{{end}}"), "n");
  assertEquals(run("{{if .Zero}}y{{else}}n{{end}}"), "n");
  assertEquals(run("{{if .Empty}}y{{else}}n{{end}}"), "n");
  assertEquals(run("{{if .Missing}}y{{else}}n{{end}}"), "n");
  assertEquals(run("{{if .State.Running}}up{{end}}"), "up");
  assertEquals(run("{{if .Zero}}a{{else if .F}}b{{else}}c{{end}}"), "b");
  assertEquals(run("{{if .Zero}}a{{else if .E}}b{{else}}c{{end}}!"), "c!");
  assertEquals(run("{{with .State}}{{.Pid}}{{else}}none{{end}}"), "5");
  assertEquals(run("{{with .Missing}}{{.Pid}}{{else}}none{{end}}"), "none");
});

Deno.test("range rebinds dot, sorts map keys, takes else and variables", () => {
  assertEquals(run("{{range .L}}<{{.}}>{{end}}"), "<a><b>");
  assertEquals(run("{{range .Nested}}{{.N}},{{end}}"), "1,2,");
  assertEquals(run("{{range .M}}{{.}};{{end}}"), "v;1;");
  assertEquals(run("{{range $k, $v := .M}}{{$k}}={{$v}} {{end}}"), "k=v z=1 ");
  assertEquals(run("{{range $i, $v := .L}}{{$i}}{{$v}}{{end}}"), "0a1b");
  assertEquals(run("{{range .E}}x{{else}}empty{{end}}"), "empty");
  assertEquals(run("{{range .Missing}}x{{end}}."), ".");
  assertEquals(run("{{range .L}}{{range $.L}}{{.}}{{end}}|{{end}}"), "ab|ab|");
});

Deno.test("\\t and \\n in the text are a tab and a newline; trim markers trim", () => {
  assertEquals(run("{{.ID}}\\t{{.Names}}\\n"), "abc\tweb\n");
  assertEquals(run("a  {{- .ID -}}  b"), "aabcb");
  assertEquals(run("{{.ID}} \\x"), "abc \\x");
});

Deno.test("table: a header row from the field names, aligned like podman's tabwriter", () => {
  assertEquals(headerWord("Names"), "NAMES");
  assertEquals(headerWord("ID"), "ID");
  assertEquals(headerWord("CreatedAt"), "CREATED AT");
  assertEquals(headerWord("CPUPerc"), "CPU PERC");
  assertEquals(tablePrefix("table"), { rest: "", offset: 5 });
  assertEquals(tablePrefix("table {{.ID}}"), { rest: "{{.ID}}", offset: 6 });
  assertEquals(tablePrefix("{{.ID}} table"), null);
  assertEquals(tablePrefix("tablet"), null);
  const t = Template.parse("{{.ID}}\\t{{.Names}}\\t{{.State.Status}}", 6);
  assertEquals(t.header(), "ID\tNAMES\tSTATUS");
  assertEquals(t.header({ ID: "CONTAINER ID" }), "CONTAINER ID\tNAMES\tSTATUS");
  assertEquals(
    alignTabs(["ID\tNAMES\tX", "a-rather-long-id\tn\ty"].join("\n")),
    "ID                NAMES       X\na-rather-long-id  n           y",
  );
});

/** Each bad template, the column named, and the message. */
const ERRORS: [string, number, string][] = [
  ["{{.Names", 1, "unclosed action"],
  ["ab {{.Names}} {{.ID", 15, "unclosed action"],
  ["{{foo .X}}", 3, 'function "foo" not defined'],
  ["x{{ .ID | nope }}", 11, 'function "nope" not defined'],
  ["{{if .X}}abc", 13, "unexpected EOF (the {{if}} at column 3 has no {{end}})"],
  ["{{range .L}}{{if .X}}{{end}}", 29, "unexpected EOF (the {{range}} at column 3 has no {{end}})"],
  ["{{if .A}}{{else if .B}}", 24, "unexpected EOF (the {{if}} at column 3 has no {{end}})"],
  ["{{end}}", 3, "unexpected {{end}}"],
  ["a{{else}}", 4, "unexpected {{else}}"],
  ["{{if .A}}{{else}}{{else}}{{end}}", 20, "expected end; found {{else}}"],
  ["{{join .L}}", 3, "wrong number of args for join: want 2 got 1"],
  ["{{json .A .B}}", 3, "wrong number of args for json: want 1 got 2"],
  ["{{index}}", 3, "wrong number of args for index: want at least 1 got 0"],
  ['{{"abc}}', 3, "unterminated quoted string"],
  ['{{"a\\qb"}}', 5, 'unknown escape sequence "\\q"'],
  ["{{.X .Y}}", 6, "can't give argument to non-function .X"],
  ["{{.L | .X}}", 8, "can't give argument to non-function .X"],
  ["abc{{}}", 4, "missing value for command"],
  ["{{if}}{{end}}", 3, "missing value for if"],
  ["{{#}}", 3, 'unexpected "#" in action'],
  ["{{.Names | }}", 12, "missing command after |"],
  ['{{(index .M "k"}}', 3, "unclosed left paren"],
  ["{{end 1}}", 7, "unexpected number 1 in end"],
  ["{{.Foo.}}", 7, 'unexpected "." after term'],
  ["{{.A..B}}", 5, 'unexpected "." after term'],
  ["{{$x := .A}}{{$x.}}", 17, 'unexpected "." after term'],
  // Found while executing: a field of a string, an array or a number.
  ["{{.Names.X}}", 3, "can't evaluate field X in type string"],
  ["{{.L.X}}", 3, "can't evaluate field X in type []interface {}"],
  ["{{range .Nested}}{{.N.Deeper}}{{end}}", 20, "can't evaluate field Deeper in type int"],
  ["{{range .Names}}{{end}}", 9, "range can't iterate over web"],
  ["{{range 1000000000}}x{{end}}", 9, "range can't iterate over 1000000000"],
  ["{{index .L 5}}", 3, "error calling index: index out of range: 5"],
  ["{{index .Names 0}}", 3, "error calling index: can't index item of type string"],
  [
    '{{join .Names ","}}',
    3,
    "error calling join: wrong type for value; expected []string; got string",
  ],
  ["{{$x}}", 3, 'undefined variable "$x"'],
];

Deno.test("every template error is exit 2, one line, naming its column", () => {
  for (const [tpl, column, message] of ERRORS) {
    const err = assertThrows(() => run(tpl), TemplateError, message);
    assertEquals(err.message, `template: column ${column}: ${message}`, tpl);
    assertEquals(err.column, column, tpl);
    assertEquals(err instanceof InvalidArgument && err.exitCode, 2);
    assertEquals(err.message.includes("\n"), false);
  }
});

Deno.test("columns count from the start of the format string, after `table `", () => {
  const p = tablePrefix("table {{.ID}}\\t{{nope}}")!;
  const err = assertThrows(() => Template.parse(p.rest, p.offset), TemplateError);
  assertEquals(err.column, 18);
});

Deno.test("a value's control characters are printed as \\xNN; the template's own tabs and newlines are not", () => {
  const t = Template.parse("{{.A}}\\t{{.B}}\\n");
  assertEquals(t.execute({ A: "x\x1b[31my", B: "l1\nl2" }), "x\\x1b[31my\tl1\\x0al2\n");
});
