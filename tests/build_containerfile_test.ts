/** `build`: reading a Containerfile (lines, forms, stages, errors) and the ignore file. */

import {
  keyValuePairs,
  logicalLines,
  parseContainerfile,
  substitute,
} from "../lib/build/_containerfile.ts";
import { IgnoreMatcher } from "../lib/build/_ignore.ts";
import { buildCommand } from "../lib/cli/commands/build.ts";
import { InvalidArgument } from "../lib/host/errors.ts";
import { assertEquals, assertThrows, assertTrue } from "./assert.ts";

Deno.test("containerfile: continuations, comments inside them, and the escape directive", () => {
  assertEquals(logicalLines("FROM a\n# c\nRUN echo a \\\n  # inner\n  b\n\nCMD x\n"), [
    { line: 1, text: "FROM a" },
    { line: 3, text: "RUN echo a   b" },
    { line: 7, text: "CMD x" },
  ]);
  assertEquals(logicalLines("# escape=`\nFROM a\nRUN dir c:\\ `\n  x\n"), [
    { line: 2, text: "FROM a" },
    { line: 3, text: "RUN dir c:\\   x" },
  ]);
});

Deno.test("containerfile: stages, AS names, global ARGs, flags and forms", () => {
  const f = parseContainerfile(
    [
      "ARG BASE=busybox",
      "FROM $BASE AS Build",
      'RUN ["sh", "-c", "echo hi"]',
      "RUN echo shell",
      "COPY --chown=1:2 a b /dst/",
      "FROM scratch",
      "COPY --from=build /x /y",
      "ADD --chown=0:0 t.tar /",
      'SHELL ["/bin/ash", "-c"]',
      "HEALTHCHECK --interval=5s --retries=2 CMD true",
      'cmd ["run"]',
    ].join("\n"),
  );
  assertEquals(f.globalArgs.map((a) => a.args), ["BASE=busybox"]);
  assertEquals(f.stages.map((s) => [s.name, s.base]), [["build", "$BASE"], [null, "scratch"]]);
  const [s0, s1] = f.stages as [typeof f.stages[0], typeof f.stages[0]];
  assertEquals(s0.steps[0]!.json, ["sh", "-c", "echo hi"]);
  assertEquals(s0.steps[1]!.json, null);
  assertEquals(s0.steps[2]!.flags, { chown: "1:2" });
  assertEquals(s0.steps[2]!.args, "a b /dst/");
  assertEquals(s1.steps[0]!.flags, { from: "build" });
  assertEquals(s1.steps[3]!.flags, { interval: "5s", retries: "2" });
  assertEquals(s1.steps[4]!.name, "CMD");
  assertEquals(s1.steps[4]!.line, 11);
});

Deno.test("containerfile: unknown and malformed instructions name their line", () => {
  const cases: [string, RegExp][] = [
    ["FROM a\nRUN x\nFROBNICATE y\n", /^Containerfile:3: unknown instruction FROBNICATE$/],
    ["RUN x\n", /^Containerfile:1: RUN before the first FROM/],
    ["FROM a\n\nCOPY onlyone\n", /^Containerfile:3: COPY needs a source and a destination/],
    [
      "FROM a\nADD https://example.com/x.tar /\n",
      /^Containerfile:2: ADD https:.*does not fetch URLs/,
    ],
    ["FROM a\nCOPY --frm=x a b\n", /^Containerfile:2: COPY does not take --frm/],
    ["FROM a\nSHELL sh -c\n", /^Containerfile:2: SHELL needs a JSON array/],
    ["FROM a b c d\n", /^Containerfile:1: FROM takes IMAGE \[AS NAME\]/],
    ["FROM a AS x\nFROM b AS x\n", /^Containerfile:2: stage "x" named twice/],
    ["FROM a AS x\nCOPY --from=x /a /b\n", /^Containerfile:2: .*cannot copy from itself/],
    ["FROM a\nHEALTHCHECK --interval=soon CMD true\n", /^Containerfile:2: HEALTHCHECK --interval/],
    ["FROM a\nENV ONLYKEY\n", /^Containerfile:2: ENV needs KEY=VALUE/],
    ["FROM a\nWORKDIR\n", /^Containerfile:2: WORKDIR needs an argument/],
    ["FROM a\nONBUILD RUN x\n", /^Containerfile:2: unknown instruction ONBUILD$/],
    [
      "FROM a\nRUN --mount=type=cache,target=/x true\n",
      /^Containerfile:2: RUN does not take --mount$/,
    ],
    ["# only a comment\n", /^Containerfile: no FROM instruction/],
  ];
  for (const [text, re] of cases) {
    const err = assertThrows(() => parseContainerfile(text), InvalidArgument);
    assertTrue(re.test(err.message), `${JSON.stringify(text)}: ${err.message}`);
    assertEquals(err.exitCode, 2);
  }
});

Deno.test("containerfile: variable substitution", () => {
  const vars = new Map([["A", "x"], ["E", ""]]);
  assertEquals(
    substitute("$A-${A}/${B:-dflt}/${E:-e}/${A:+set}/${B:+no}/\\$A", vars, "F", 1),
    "x-x/dflt/e/set//$A",
  );
  assertEquals(substitute("$1 $ a", vars, "F", 1), "$1 $ a");
  const err = assertThrows(() => substitute("${A", vars, "Dockerfile", 7), InvalidArgument);
  assertEquals(err.message, 'Dockerfile:7: unterminated ${ in "${A"');
  assertThrows(() => substitute("${A!}", vars, "F", 1), InvalidArgument);
});

Deno.test("containerfile: KEY=VALUE pairs with quotes, and the old KEY VALUE form", () => {
  assertEquals(keyValuePairs('A=1 B="two words" C=a\\ b', "F", 1), [
    ["A", "1"],
    ["B", "two words"],
    ["C", "a b"],
  ]);
  assertEquals(keyValuePairs("A one two", "F", 1), [["A", "one two"]]);
});

Deno.test("ignore: Docker's patterns, directories, ** and exceptions", () => {
  const m = new IgnoreMatcher("# c\n*.log\n/build\n**/tmp\n!keep.log\nsecret?\ndocs/**/*.md\n");
  assertTrue(m.ignores("a.log"));
  assertTrue(!m.ignores("keep.log"));
  assertTrue(!m.ignores("sub/a.log")); // * does not cross /
  assertTrue(m.ignores("build"));
  assertTrue(m.ignores("build/x/y")); // below an ignored directory
  assertTrue(m.ignores("tmp/a") && m.ignores("x/y/tmp"));
  assertTrue(m.ignores("secret1") && !m.ignores("secret12"));
  assertTrue(m.ignores("docs/a.md") && m.ignores("docs/x/y/b.md") && !m.ignores("docs/a.txt"));
  assertTrue(!m.ignores("src/main.ts"));
  const dir = new IgnoreMatcher("data\n!data/keep\n");
  assertTrue(dir.ignores("data/x") && !dir.ignores("data/keep"));
  assertTrue(new IgnoreMatcher("").empty);
});

Deno.test("build command: options parse; bad ones are usage errors", () => {
  assertEquals(
    buildCommand.parse([
      "-t",
      "a:1",
      "--tag",
      "b:2",
      "-f",
      "x/Dockerfile",
      "--build-arg",
      "V=1=2",
      "--build-arg",
      "FROM_ENV",
      "--target",
      "Run",
      "--no-cache",
      "--pull",
      "--network",
      "none",
      "--timestamp",
      "1000",
      "-q",
      "ctx",
    ]),
    {
      context: "ctx",
      file: "x/Dockerfile",
      tags: ["a:1", "b:2"],
      buildArgs: new Map([["V", "1=2"]]),
      argsFromEnv: ["FROM_ENV"],
      target: "Run",
      noCache: true,
      pull: true,
      network: "none",
      quiet: true,
      timestamp: 1000,
    },
  );
  assertThrows(() => buildCommand.parse([]), InvalidArgument, "missing CONTEXT");
  assertThrows(() => buildCommand.parse(["a", "b"]), InvalidArgument, "unexpected");
  assertThrows(() => buildCommand.parse(["--build-arg", "=V", "."]), InvalidArgument, "not K=V");
  assertThrows(() => buildCommand.parse(["--build-arg", "A-B", "."]), InvalidArgument, "not K=V");
  assertThrows(() => buildCommand.parse(["--timestamp", "soon", "."]), InvalidArgument);
});
