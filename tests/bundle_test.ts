// Bundles: rollback of exactly what was created, atomic removal, leftovers.
import { tempDir } from "./temp_dir.ts";
import { join } from "node:path";
import { assertEquals, assertRejects, assertTrue } from "./assert.ts";
import {
  BUNDLE_STEPS,
  cleanupLeftovers,
  createBundle,
  findLeftovers,
  removeAtomically,
  removeTree,
} from "../lib/container/bundle.ts";
import { Exists } from "../lib/host/errors.ts";
import { listTree } from "./helpers.ts";

class Injected extends Error {}

/** A fresh base directory and a bundle request under it; removed at the end of its scope. */
async function dirs() {
  const tmp = await tempDir();
  const base = tmp.path;
  return {
    [Symbol.asyncDispose]: () => tmp[Symbol.asyncDispose](),
    base,
    req: {
      bundleDir: join(base, "run/ns/default/containers/c1"),
      workDir: join(base, "data/ns/default/c1"),
      config: { ociVersion: "1.0.2", process: { args: ["sh"] }, root: { path: "rootfs" } },
    },
  };
}

Deno.test("createBundle() makes the bundle and work directory with safe modes", async () => {
  await using d = await dirs();
  const { req } = d;
  // Whatever the umask: every directory 0700, every file 0600, and `/` of
  // the container (upper) the source root's mode, never the umask's.
  const umask = Deno.umask(0o000);
  try {
    await createBundle({ ...req, rootMode: 0o751 });
  } finally {
    Deno.umask(umask);
  }
  assertEquals(await listTree(req.bundleDir), ["config.json", "members", "rootfs"]);
  assertEquals(await listTree(req.workDir), ["stderr.log", "stdout.log", "upper", "work"]);
  for (
    const d of [
      req.bundleDir,
      req.workDir,
      join(req.bundleDir, "rootfs"),
      join(req.workDir, "work"),
    ]
  ) {
    assertEquals((await Deno.stat(d)).mode! & 0o777, 0o700, d);
  }
  for (const f of [join(req.bundleDir, "config.json"), join(req.workDir, "stdout.log")]) {
    assertEquals((await Deno.stat(f)).mode! & 0o777, 0o600, f);
  }
  assertEquals((await Deno.stat(join(req.workDir, "upper"))).mode! & 0o777, 0o751);
  assertEquals(JSON.parse(await Deno.readTextFile(join(req.bundleDir, "config.json"))), req.config);
});

Deno.test("a failure after any step rolls back everything this call created", async () => {
  for (const failAt of BUNDLE_STEPS) {
    await using d = await dirs();
    const { base, req } = d;
    await assertRejects(
      () =>
        createBundle(req, {
          onStep: (s) => {
            if (s === failAt) throw new Injected(s);
          },
        }),
      Injected,
    );
    // Parents may stay (shared by all containers); nothing of c1 does.
    const left = (await listTree(base)).filter((p) => p.includes("c1"));
    assertEquals(left, [], `after failing at ${failAt}`);
  }
});

Deno.test("rollback never removes a directory that already existed", async () => {
  await using d = await dirs();
  const { req } = d;
  // Another container's live bundle with the same path.
  await Deno.mkdir(req.bundleDir, { recursive: true });
  await Deno.writeTextFile(join(req.bundleDir, "state.json"), "{}");
  await assertRejects(() => createBundle(req), Exists);
  assertEquals(await listTree(req.bundleDir), ["state.json"]);
  // Pre-existing work directory: the bundle made by this call goes, the work dir stays.
  await using other = await dirs();
  await Deno.mkdir(other.req.workDir, { recursive: true });
  await Deno.writeTextFile(join(other.req.workDir, "stdout.log"), "keep");
  await assertRejects(() => createBundle(other.req), Exists);
  assertEquals(await listTree(other.req.workDir), ["stdout.log"]);
  assertEquals(await listTree(other.req.bundleDir), []);
});

Deno.test("removeAtomically() never shows a half-deleted path to another process", async () => {
  await using d = await dirs();
  const { base, req } = d;
  await createBundle(req);
  // A big tree, so removal takes a while.
  for (let i = 0; i < 300; i++) await Deno.writeTextFile(join(req.bundleDir, `f${i}`), "x");
  const whole = 303; // config.json, rootfs/, members/ and the 300 files
  // Another process reads the directory in a loop until the path has been
  // gone for a while, and reports what it saw.
  const script = `
    const seen = new Set(); let goneFor = 0;
    const until = Date.now() + 20000;
    // One look before saying it watches: the removal may start right after.
    const first = [...Deno.readDirSync(Deno.args[0])].length;
    seen.add(first === ${whole} ? "whole" : "partial:" + first);
    Deno.writeTextFileSync(Deno.args[1], "watching");
    while (goneFor < 200 && Date.now() < until) {
      try {
        const n = [...Deno.readDirSync(Deno.args[0])].length;
        seen.add(n === ${whole} ? "whole" : "partial:" + n); goneFor = 0;
      } catch { seen.add("gone"); goneFor++; }
    }
    console.log(JSON.stringify([...seen]));`;
  const ready = join(base, "ready");
  const observer = new Deno.Command(Deno.execPath(), {
    args: ["eval", script, req.bundleDir, ready],
    stdout: "piped",
  }).spawn();
  while (!(await Deno.stat(ready).then(() => true, () => false))) {
    await new Promise((r) => setTimeout(r, 5));
  }
  assertEquals(await removeAtomically(req.bundleDir), true);
  const seen: string[] = JSON.parse(new TextDecoder().decode((await observer.output()).stdout));
  assertTrue(seen.includes("whole") && seen.includes("gone"), JSON.stringify(seen));
  assertEquals(seen.filter((s) => s.startsWith("partial")), []);
  assertEquals(await removeAtomically(req.bundleDir), false);
  assertEquals(await findLeftovers([join(req.bundleDir, "..")]), []);
});

Deno.test("removeAtomically() finishes when a gc removes its renamed tree first", async () => {
  await using d = await dirs();
  const { req } = d;
  await createBundle(req);
  const parent = join(req.bundleDir, "..");
  // Right after the rename, another cleaner (gc takes no lock for leftovers) removes the tree.
  const gcMeanwhile = () => {
    for (const t of [...Deno.readDirSync(parent)].filter((e) => e.name.startsWith(".trash-"))) {
      Deno.removeSync(join(parent, t.name), { recursive: true });
    }
  };
  assertEquals(await removeAtomically(req.bundleDir, gcMeanwhile), true);
  assertEquals(await findLeftovers([parent]), []);
});

Deno.test("leftovers of an interrupted removal are found and cleaned up", async () => {
  await using d = await dirs();
  const { base, req } = d;
  await createBundle(req);
  const parent = join(req.bundleDir, "..");
  // What a removal killed after its rename leaves.
  const trash = join(parent, ".trash-c1-deadbeef");
  await Deno.rename(req.bundleDir, trash);
  await Deno.mkdir(join(parent, "c2"));
  assertEquals(await findLeftovers([parent]), [trash]);
  assertEquals(await cleanupLeftovers([parent]), [trash]);
  assertEquals(await listTree(parent), ["c2"]);
  assertTrue((await findLeftovers([parent, join(base, "missing")])).length === 0);
});

Deno.test("removeTree() removes a tree deeper than the fd limit, with bounded paths", async () => {
  await using tmp = await tempDir();
  const base = tmp.path;
  const depth = 3000;
  // Built with relative paths (the full one is far past PATH_MAX); a file
  // and a sibling at some levels, so lifted directories carry content.
  const r = await new Deno.Command("perl", {
    args: [
      "-e",
      `chdir $ARGV[0] or die; for (1..${depth}) { mkdir "d" or die; if ($_ % 7 == 0) { mkdir "s"; open(F, ">f"); close F; } chdir "d" or die; }`,
      base,
    ],
  }).output();
  assertEquals(r.code, 0);
  // A descriptor limit well below the depth: the recursive removal fails,
  // the iterative one does not (run in a child with `ulimit -n 256`).
  const code = `import { removeTree } from ${
    JSON.stringify(new URL("../lib/container/bundle.ts", import.meta.url).href)
  };
removeTree(Deno.args[0]);`;
  const run = (script: string) =>
    new Deno.Command("sh", {
      args: ["-c", `ulimit -n 256; exec "$@"`, "sh", Deno.execPath(), "eval", script, base],
      stderr: "piped",
    }).output();
  const naive = await run(`Deno.removeSync(Deno.args[0], { recursive: true });`);
  assertTrue(naive.code !== 0, "the recursive removal was expected to run out of descriptors");
  const iterative = await run(code);
  assertEquals(iterative.code, 0, new TextDecoder().decode(iterative.stderr));
  await assertRejects(() => Deno.lstat(base), Deno.errors.NotFound);
  removeTree(base); // gone already: fine
});
