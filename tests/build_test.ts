// deno.json's build and compile tasks: the bundle, the node-tar and the YAML
// bundles beside it, and a compiled binary that embeds them (deno compile takes its
// runtime from DENORT_BIN: here the deno binary itself, as nothing can be
// downloaded; that binary is not run, only its list of embedded files read).
import { assertEquals, assertTrue } from "./assert.ts";
import { join } from "../lib/_std/path.ts";
import { tempDir } from "./temp_dir.ts";

const ROOT = new URL("..", import.meta.url).pathname;

async function run(cwd: string, args: string[], env: Record<string, string> = {}) {
  const o = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: { ...env, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr);
  assertTrue(o.success, `deno ${args.join(" ")}: ${text}`);
  return text;
}

Deno.test("deno task build and compile: node-tar and yaml are bundled beside the CLI and embedded in the binary", async () => {
  await using dir = await tempDir("berth-build-");
  const tree = dir.path;
  for (const f of ["main.ts", "deno.json", "deno.lock"]) {
    Deno.copyFileSync(join(ROOT, f), join(tree, f));
  }
  const copy = new Deno.Command("cp", { args: ["-r", join(ROOT, "lib"), join(tree, "lib")] });
  assertTrue((await copy.output()).success);
  await run(tree, ["task", "build"]);
  const cli = Deno.readTextFileSync(join(tree, "dist/berth.js"));
  const node = Deno.readTextFileSync(join(tree, "dist/berth-node.js"));
  assertTrue(node.includes("TAR_ENTRY_UNSUPPORTED"), "node-tar is inlined in berth-node.js");
  assertTrue(!cli.includes("TAR_ENTRY_UNSUPPORTED"), "and not in the CLI's bundle");
  const yaml = Deno.readTextFileSync(join(tree, "dist/berth-yaml.js"));
  assertTrue(yaml.includes("YAMLParseError"), "the YAML library is inlined in berth-yaml.js");
  assertTrue(!cli.includes("YAMLParseError"), "and not in the CLI's bundle");
  assertTrue(
    !/["']node:|\brequire\(/.test(yaml),
    "berth-yaml.js is yaml's own ESM build: no Node built-in",
  );
  for (
    const [name, text] of [["berth.js", cli], ["berth-node.js", node], ["berth-yaml.js", yaml]]
  ) {
    assertTrue(!/["']npm:/.test(text!), `${name} resolves no npm: specifier at run time`);
    const wide = [...text!].findIndex((c) => c.charCodeAt(0) > 0x7f);
    assertEquals(wide, -1, `${name} is ASCII (V8 keeps it one byte a character)`);
  }
  const compile = JSON.parse(Deno.readTextFileSync(join(tree, "deno.json"))).tasks
    .compile as string;
  const include = [...compile.matchAll(/--include (\S+)/g)].map((m) => m[1]!);
  const both = ["dist/berth-node.js", "dist/berth-yaml.js"];
  assertEquals(include, [...both, ...both], "both targets include them");
  const out = await run(tree, [
    "compile",
    "-A",
    ...include.slice(0, 2).flatMap((f) => ["--include", f]),
    "--output",
    join(tree, "berth-bin"),
    "dist/berth.js",
  ], { DENORT_BIN: Deno.execPath() });
  assertTrue(
    /berth-node\.js/.test(out) && /berth-yaml\.js/.test(out) && /berth\.js/.test(out),
    out,
  );
});
