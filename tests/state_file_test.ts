// State files: atomic and durable saves, tolerant listing, restrictive modes.
import { tempDir } from "./temp_dir.ts";
import { join } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { assertEquals, assertRejects, assertTrue } from "./assert.ts";
import { NotFound, RuntimeError } from "../lib/host/errors.ts";
import { Paths } from "../lib/container/paths.ts";
import { parseState, StateStore } from "../lib/container/state_file.ts";
import { sampleState } from "./fixtures/worker.ts";

const WORKER = fromFileUrl(new URL("./fixtures/worker.ts", import.meta.url));

/** A store on a fresh root, removed at the end of its `await using` scope. */
async function storeIn(): Promise<{ root: string; store: StateStore } & AsyncDisposable> {
  const dir = await tempDir();
  const root = dir.path;
  await Deno.mkdir(join(root, "ns/default/containers/c"), { recursive: true });
  return {
    root,
    store: new StateStore(new Paths(root, root)),
    [Symbol.asyncDispose]: () => dir[Symbol.asyncDispose](),
  };
}

Deno.test("save() then load() round-trips; the file is 0600", async () => {
  await using t = await storeIn();
  const { root, store } = t;
  const s = sampleState(root, 7);
  await store.save(s);
  assertEquals(await store.load("default", "c"), s);
  const mode = (await Deno.stat(join(root, "ns/default/containers/c/state.json"))).mode! & 0o777;
  assertEquals(mode, 0o600);
  await store.destroy("default", "c");
  await assertRejects(() => store.load("default", "c"), NotFound);
  assertEquals(await store.tryLoad("default", "nope"), null);
});

Deno.test("a writer SIGKILLed mid-save never leaves an unparsable state file", async () => {
  await using t = await storeIn();
  const { root, store } = t;
  await store.save(sampleState(root, 0));
  const file = join(root, "ns/default/containers/c/state.json");
  for (let i = 0; i < 25; i++) {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", WORKER, "save-loop", root],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = child.stdout.getReader();
    await reader.read(); // "saving"
    reader.releaseLock();
    await new Promise((r) => setTimeout(r, 5 + (i * 7) % 40));
    child.kill("SIGKILL");
    await child.output();
    // Whatever instant it died at, the state parses.
    parseState(await Deno.readTextFile(file), file);
  }
  // Leftover temporaries are hidden and never listed as containers.
  assertEquals(await store.ids("default"), ["c"]);
});

Deno.test("list() skips vanished and corrupt files with a warning instead of failing", async () => {
  await using t = await storeIn();
  const { root, store } = t;
  await store.save(sampleState(root, 1));
  const bad = join(root, "ns/default/containers/bad");
  await Deno.mkdir(bad);
  await Deno.writeTextFile(join(bad, "state.json"), "{ not json");
  await Deno.mkdir(join(root, "ns/default/containers/empty")); // state vanished
  const warnings: string[] = [];
  const states = await store.list("default", (m) => warnings.push(m));
  assertEquals(states.map((s) => s.id), ["c"]);
  assertEquals(warnings.length, 1);
  assertTrue(warnings[0]!.includes("bad"));
  await assertRejects(() => store.load("default", "bad"), RuntimeError, "corrupt state file");
});

Deno.test("readers never see a partial file while another process saves", async () => {
  await using t = await storeIn();
  const { root, store } = t;
  await store.save(sampleState(root, 0));
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", WORKER, "save-loop", root],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.getReader();
  await reader.read();
  reader.releaseLock();
  const deadline = Date.now() + 700;
  let reads = 0;
  while (Date.now() < deadline) {
    const s = await store.load("default", "c");
    assertEquals(s.id, "c");
    reads++;
  }
  child.kill("SIGKILL");
  await child.output();
  assertTrue(reads > 50, `only ${reads} reads`);
});

Deno.test("paths in a state file are recomputed from the roots and the ID, never trusted", async () => {
  await using t = await storeIn();
  const { root, store } = t;
  const s = sampleState(root, 7);
  await store.save({ ...s, bundle: "/victim", rootfs: "/victim/rootfs", workDir: "/victim" });
  const loaded = await store.load("default", "c");
  assertEquals(loaded.bundle, join(root, "ns/default/containers/c"));
  assertEquals(loaded.rootfs, join(root, "ns/default/containers/c/rootfs"));
  assertEquals(loaded.workDir, join(root, "ns/default/c"));
  assertEquals((await store.list("default")).map((x) => x.workDir), [join(root, "ns/default/c")]);
  // A state that names another container is corrupt, not followed.
  await Deno.writeTextFile(
    join(root, "ns/default/containers/c/state.json"),
    JSON.stringify({ ...s, id: "d" }),
  );
  await assertRejects(() => store.load("default", "c"), RuntimeError, "names default/d");
});

Deno.test("a state file that is a FIFO is corrupt, and reading it does not block", async () => {
  await using t = await storeIn();
  const { root, store } = t;
  const file = join(root, "ns/default/containers/c/state.json");
  const r = await new Deno.Command("mkfifo", { args: [file] }).output();
  assertEquals(r.code, 0);
  await assertRejects(() => store.load("default", "c"), RuntimeError, "not a regular file");
  const warnings: string[] = [];
  assertEquals(await store.list("default", (m) => warnings.push(m)), []);
  assertEquals(warnings.length, 1);
});
