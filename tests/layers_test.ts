// The layout's three rules, checked on the source (see README, "Architecture"):
// imports run one way (cli → ops → monitor → options → facilities → container →
// host → _std); a feature folder with a `mod.ts` is entered from outside only
// through it (std/dax style: the `_`-prefixed modules beside it are private);
// and no `node:`/`npm:` import is on the start-up path of berth or of a
// container command (each one initialises Deno's Node compatibility layer,
// about 6 ms per command: BENCHMARKS.md).
import { assertEquals, assertTrue } from "./assert.ts";

const LIB = new URL("../lib/", import.meta.url);
const MAIN = new URL("../main.ts", import.meta.url);

/** Rank of each folder of lib/: a module may import its own rank or lower. */
const RANKS: Record<string, number> = {
  _std: 0,
  host: 1,
  container: 2,
  // Facility folders: one per thing a container holds.
  image: 3,
  limits: 3,
  network: 3,
  terminal: 3,
  volume: 3,
  // Option parsing that is not an operation (env, user, capabilities, the
  // run options): over the facilities (it checks volumes), under ops and cli.
  options: 3.5,
  // The monitor is below the operations: ops talk to it through its
  // client; what it does on an exit (--rm, restart policies) is passed in by
  // the command that starts it (conmon's --exit-command).
  monitor: 4,
  ops: 5,
  // Compose drives the operations (create, start, stop, delete) for a
  // whole project; ops never import it, the CLI's compose command does.
  compose: 5.6,
  // build runs its RUN steps as containers through ops; ops never import it.
  build: 5.3,
  cli: 6,
};

/** Facility folders: they may import each other, never ops, monitor or cli. */
const FACILITIES = new Set(["image", "limits", "network", "terminal", "volume"]);

/**
 * Commands that work on images: they may have `node:` and `npm:` modules
 * (node-tar, zlib) on their start-up path. Every other command may load the
 * image door (lib/image/mod.ts), whose static part is light, but no
 * `node:`/`npm:` module when it starts: that is what this test checks.
 */
const IMAGE_COMMANDS = new Set(["image.ts", "images.ts", "load.ts", "login.ts", "pull.ts"]);

interface Import {
  spec: string;
  /** Loaded when the importing module is: a static, non-type import. */
  eager: boolean;
}

/** The imports of a module's source, comments stripped. */
export function importsOf(source: string): Import[] {
  const code = source
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
  const out: Import[] = [];
  const staticRe =
    /(?:^|[;\n])\s*(import|export)(\s+type\b)?([^;"'`]*?\sfrom\s*|\s*)["']([^"']+)["']/g;
  for (const m of code.matchAll(staticRe)) {
    const typeOnly = m[2] !== undefined;
    out.push({ spec: m[4]!, eager: !typeOnly });
  }
  for (const m of code.matchAll(/\bimport\s*\(\s*["']([^"']+)["']\s*\)/g)) {
    out.push({ spec: m[1]!, eager: false });
  }
  return out;
}

async function libFiles(dir = LIB): Promise<URL[]> {
  const out: URL[] = [];
  for await (const e of Deno.readDir(dir)) {
    const url = new URL(e.name + (e.isDirectory ? "/" : ""), dir);
    if (e.isDirectory) out.push(...await libFiles(url));
    else if (e.name.endsWith(".ts")) out.push(url);
  }
  return out;
}

/** The folder of lib/ a module is in (its layer), or null outside lib/. */
function layerOf(url: URL): string | null {
  if (!url.href.startsWith(LIB.href)) return null;
  const rest = url.href.slice(LIB.href.length);
  return rest.includes("/") ? rest.slice(0, rest.indexOf("/")) : "";
}

/** Bare specifiers deno.json maps to npm packages (`tar`, `yaml`). */
const NPM_ALIASES: Set<string> = new Set(
  Object.entries(
    (JSON.parse(Deno.readTextFileSync(new URL("../deno.json", import.meta.url))) as {
      imports?: Record<string, string>;
    }).imports ?? {},
  ).filter(([, target]) => target.startsWith("npm:")).map(([name]) => name),
);

const isNodeOrNpm = (spec: string) =>
  spec.startsWith("node:") || spec.startsWith("npm:") || NPM_ALIASES.has(spec);

/**
 * Modules outside lib/image that may import an npm package: the YAML
 * library's entry of compose, which is itself loaded only by a computed
 * specifier (lib/compose/_yaml.ts), so no other module may import it but
 * for its types.
 */
const NPM_ENTRIES: Record<string, string> = { "lib/compose/_yaml_entry.ts": "yaml" };
const rel = (url: URL) => url.href.slice(new URL("..", LIB).href.length);

const sources = new Map<string, string>();
async function sourceOf(url: URL): Promise<string> {
  let s = sources.get(url.href);
  if (s === undefined) sources.set(url.href, s = await Deno.readTextFile(url));
  return s;
}

/** Modules loaded with `entry` (static non-type imports, transitively). */
async function eagerClosure(entry: URL): Promise<URL[]> {
  const seen = new Map<string, URL>([[entry.href, entry]]);
  const todo = [entry];
  for (let url = todo.pop(); url !== undefined; url = todo.pop()) {
    for (const i of importsOf(await sourceOf(url))) {
      if (!i.eager || !i.spec.startsWith(".")) continue;
      const target = new URL(i.spec, url);
      if (!seen.has(target.href)) {
        seen.set(target.href, target);
        todo.push(target);
      }
    }
  }
  return [...seen.values()];
}

Deno.test("the import scanner sees static, type-only, re-exported and dynamic imports", () => {
  const found = importsOf([
    'import { a } from "./a.ts";',
    'import type { B } from "../b.ts";',
    "import {",
    "  c,",
    '} from "./c.ts";',
    'export { d } from "./d.ts";',
    'const e = await import("./e.ts");',
    '// import { f } from "./f.ts";',
    'import "node:process";',
  ].join("\n"));
  assertEquals(found, [
    { spec: "./a.ts", eager: true },
    { spec: "../b.ts", eager: false },
    { spec: "./c.ts", eager: true },
    { spec: "./d.ts", eager: true },
    { spec: "node:process", eager: true },
    { spec: "./e.ts", eager: false },
  ]);
});

Deno.test("every module of lib/ is in a known layer and imports only its rank or lower", async () => {
  const violations: string[] = [];
  const files = await libFiles();
  assertTrue(files.length > 50, "lib/ was scanned");
  for (const url of files) {
    const layer = layerOf(url)!;
    if (!(layer in RANKS)) {
      violations.push(`${rel(url)}: not in a layer folder (${Object.keys(RANKS).join(", ")})`);
      continue;
    }
    for (const i of importsOf(await sourceOf(url))) {
      if (!i.spec.startsWith(".")) continue;
      const target = new URL(i.spec, url);
      const to = layerOf(target);
      if (to === null || !(to in RANKS)) {
        violations.push(`${rel(url)} imports ${i.spec}: outside the layers of lib/`);
        continue;
      }
      const up = RANKS[to]! > RANKS[layer]!;
      const sideways = RANKS[to] === RANKS[layer] && to !== layer &&
        !(FACILITIES.has(to) && FACILITIES.has(layer));
      if (up || sideways) violations.push(`${rel(url)} (${layer}) imports ${rel(target)} (${to})`);
    }
  }
  assertEquals(violations, []);
});

/**
 * Feature folders of lib/: each gets one door, `mod.ts`, its only entry
 * from outside.
 */
const FEATURES = new Set([...FACILITIES, "build", "compose"]);

/** Modules that may import lib/: lib/ itself, main.ts and scripts/ (tests may open any module). */
async function importers(): Promise<URL[]> {
  const out = [...await libFiles(), MAIN];
  const scripts = new URL("../scripts/", LIB);
  for await (const e of Deno.readDir(scripts)) {
    if (e.name.endsWith(".ts")) out.push(new URL(e.name, scripts));
  }
  return out;
}

/**
 * The imports of `files` that reach into a folder of lib/ having a `mod.ts`
 * from outside that folder by any module but its `mod.ts`: static, dynamic
 * and type-only imports alike.
 */
export async function doorViolations(files: URL[]): Promise<string[]> {
  const doors = new Set<string>();
  for await (const e of Deno.readDir(LIB)) {
    if (!e.isDirectory) continue;
    try {
      if ((await Deno.stat(new URL(`${e.name}/mod.ts`, LIB))).isFile) doors.add(e.name);
    } catch { /* no door */ }
  }
  const violations: string[] = [];
  for (const url of files) {
    const from = layerOf(url);
    for (const i of importsOf(await sourceOf(url))) {
      if (!i.spec.startsWith(".")) continue;
      const target = new URL(i.spec, url);
      const to = layerOf(target);
      if (to === null || to === from || !doors.has(to)) continue;
      if (target.href !== new URL(`${to}/mod.ts`, LIB).href) {
        violations.push(`${rel(url)} imports ${rel(target)}: only lib/${to}/mod.ts is its door`);
      }
    }
  }
  return violations;
}

Deno.test("every feature folder of lib/ has a mod.ts", async () => {
  const missing: string[] = [];
  for (const f of FEATURES) {
    const has = await Deno.stat(new URL(`${f}/mod.ts`, LIB)).then(() => true, () => false);
    if (!has) missing.push(`${f}: no mod.ts`);
  }
  assertEquals(missing, []);
});

Deno.test("a folder of lib/ with a mod.ts is entered from outside only through it", async () => {
  const files = await importers();
  assertTrue(
    files.some((u) => rel(u) === "main.ts") && files.some((u) => rel(u).startsWith("scripts/")),
  );
  assertEquals(await doorViolations(files), []);
});

Deno.test("the door rule sees a private module imported from outside, statically, dynamically or for its types", async () => {
  // Sources written here, checked as if they were modules of lib/ops/ and
  // lib/terminal/ (the scanner reads them through the same cache).
  const ops = new URL("ops/__door_probe__.ts", LIB);
  const inside = new URL("terminal/__door_probe__.ts", LIB);
  sources.set(
    ops.href,
    [
      'import { Poller } from "../terminal/_poller.ts";',
      'import type { TerminalLibc } from "../terminal/_ffi.ts";',
      'const m = await import("../volume/_store.ts");',
      'import { checkTerminalUse } from "../terminal/mod.ts";',
      'import { storeOf } from "../image/_store.ts";',
      'const { runResolver } = await import("../network/dns/_resolver.ts");',
    ].join("\n"),
  );
  sources.set(inside.href, 'import { terminalLibc } from "./_ffi.ts";');
  try {
    assertEquals(await doorViolations([ops, inside]), [
      "lib/ops/__door_probe__.ts imports lib/terminal/_poller.ts: only lib/terminal/mod.ts is its door",
      "lib/ops/__door_probe__.ts imports lib/terminal/_ffi.ts: only lib/terminal/mod.ts is its door",
      "lib/ops/__door_probe__.ts imports lib/image/_store.ts: only lib/image/mod.ts is its door",
      "lib/ops/__door_probe__.ts imports lib/volume/_store.ts: only lib/volume/mod.ts is its door",
      "lib/ops/__door_probe__.ts imports lib/network/dns/_resolver.ts: only lib/network/mod.ts is its door",
    ]);
  } finally {
    sources.delete(ops.href);
    sources.delete(inside.href);
  }
});

/** True when every import of `spec` in `url`'s source is a static type-only one. */
function isTypeOnly(url: URL, spec: string): boolean {
  const src = sources.get(url.href) ?? "";
  const typeOnly = new RegExp(`import\\s+type\\b[^;]*?["']${spec.replace(/[.]/g, "\\.")}["']`, "g");
  const all = importsOf(src).filter((i) => i.spec === spec).length;
  return all > 0 && (src.match(typeOnly)?.length ?? 0) === all;
}

Deno.test("a bare specifier deno.json maps to npm counts as an npm import", () => {
  assertTrue(NPM_ALIASES.has("tar") && NPM_ALIASES.has("yaml"), [...NPM_ALIASES].join(","));
  assertTrue(isNodeOrNpm("yaml") && !isNodeOrNpm("./yaml.ts"));
});

Deno.test("node: and npm: imports only in lib/image, never on a container command's start-up path", async () => {
  const violations: string[] = [];
  for (const url of await libFiles()) {
    if (layerOf(url) === "image") continue;
    for (const i of importsOf(await sourceOf(url))) {
      if (i.spec.startsWith(".")) {
        const target = rel(new URL(i.spec, url));
        if (target in NPM_ENTRIES && !isTypeOnly(url, i.spec)) {
          violations.push(`${rel(url)} imports ${target} (load it by a computed specifier)`);
        }
        continue;
      }
      if (!isNodeOrNpm(i.spec)) continue;
      if (NPM_ENTRIES[rel(url)] !== i.spec) violations.push(`${rel(url)} imports ${i.spec}`);
    }
  }
  const entries = [MAIN];
  for await (const e of Deno.readDir(new URL("cli/commands/", LIB))) {
    if (e.name.endsWith(".ts") && !IMAGE_COMMANDS.has(e.name)) {
      entries.push(new URL(`cli/commands/${e.name}`, LIB));
    }
  }
  for (const entry of entries) {
    for (const url of await eagerClosure(entry)) {
      for (const i of importsOf(await sourceOf(url))) {
        if (i.eager && isNodeOrNpm(i.spec)) {
          violations.push(`${rel(url)} imports ${i.spec} on the start-up path of ${rel(entry)}`);
        }
      }
    }
  }
  assertEquals(violations, []);
});

Deno.test("only lib/host/libc.ts opens libc (Deno.dlopen, Deno.UnsafeFnPointer)", async () => {
  const root = new URL("..", LIB);
  const opener = new URL("host/libc.ts", LIB).href;
  // Built so that this file does not match itself.
  const call = new RegExp(["Deno", "\\.(dlopen|UnsafeFnPointer)\\b\\s*\\("].join(""));
  const files = [...await libFiles(), MAIN];
  for (const dir of ["tests/", "scripts/"]) files.push(...await libFiles(new URL(dir, root)));
  const violations: string[] = [];
  for (const url of files) {
    if (url.href === opener) continue;
    const code = (await sourceOf(url)).replace(/\/\*[\s\S]*?\*\//g, "")
      .replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
    if (call.test(code)) violations.push(rel(url));
  }
  assertEquals(violations, []);
  assertTrue(call.test(await sourceOf(new URL(opener))), "the scan finds libc.ts's own dlopen");
});
