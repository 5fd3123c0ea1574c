// Named volumes in a real directory tree: making, listing, use read from states, rm, prune, leftovers.
import { join } from "node:path";
import { tempDir } from "./temp_dir.ts";
import { assertEquals, assertRejects, assertTrue } from "./assert.ts";
import { Exists, NotFound, WrongState } from "../lib/host/errors.ts";
import { Paths } from "../lib/container/paths.ts";
import { StateStore } from "../lib/container/state_file.ts";
import {
  cleanVolumeLeftovers,
  createVolume,
  ensureVolumesLocked,
  inspectVolume,
  listVolumes,
  lockVolumes,
  pruneVolumes,
  removeUnusedVolumes,
  removeVolume,
  volumeDataPath,
  volumeNamespaces,
} from "../lib/volume/_store.ts";
import { sampleState } from "./fixtures/worker.ts";

function contextIn(root: string) {
  const paths = new Paths(join(root, "run"), join(root, "data"));
  return {
    paths,
    store: new StateStore(paths),
    clock: { now: () => new Date(0) },
    crashAt: null,
  };
}

/** Records container `c` in `ctx`'s store, naming volume `name`. */
async function recordUser(ctx: ReturnType<typeof contextIn>, name: string): Promise<void> {
  const s = sampleState(ctx.paths.root, 0);
  s.request = {
    bundle: null,
    rootfs: "/",
    config: null,
    command: [],
    env: [],
    cwd: null,
    labels: {},
    sandbox: null,
    mounts: [{ type: "volume", source: name, destination: "/d", readOnly: false }],
  };
  await Deno.mkdir(ctx.paths.bundleDir("default", "c"), { recursive: true });
  await ctx.store.save(s);
}

Deno.test("create, ls, inspect; a second create is exit 4; ensure makes only what is missing", async () => {
  await using dir = await tempDir();
  const ctx = contextIn(dir.path);
  await createVolume(ctx, "default", "a");
  await assertRejects(() => createVolume(ctx, "default", "a"), Exists);
  const lock = await lockVolumes(ctx.paths, "default");
  try {
    assertEquals(await ensureVolumesLocked(ctx, "default", ["a", "b"]), ["b"]);
  } finally {
    lock.release();
  }
  assertEquals((await listVolumes(ctx, "default")).map((v) => v.name), ["a", "b"]);
  const info = await inspectVolume(ctx, "default", "b");
  assertEquals(info, {
    name: "b",
    namespace: "default",
    mountpoint: volumeDataPath(ctx.paths, "default", "b"),
    createdAt: new Date(0).toISOString(),
    usedBy: [],
  });
  assertEquals((await Deno.stat(info.mountpoint)).mode! & 0o777, 0o755);
  assertEquals(volumeNamespaces(ctx.paths), ["default"]);
  await assertRejects(() => inspectVolume(ctx, "default", "zzz"), NotFound);
});

Deno.test("a volume a recorded container names is not removed by rm, prune or a failed create's cleanup", async () => {
  await using dir = await tempDir();
  const ctx = contextIn(dir.path);
  await createVolume(ctx, "default", "used");
  await createVolume(ctx, "default", "free");
  await recordUser(ctx, "used");
  await assertRejects(() => removeVolume(ctx, "default", "used"), WrongState, '"c"');
  assertEquals((await inspectVolume(ctx, "default", "used")).usedBy, ["c"]);
  await removeUnusedVolumes(ctx, "default", ["used"]);
  assertEquals(await pruneVolumes(ctx, "default"), ["free"]);
  assertEquals((await listVolumes(ctx, "default")).map((v) => v.name), ["used"]);
  await ctx.store.destroy("default", "c");
  await removeVolume(ctx, "default", "used");
  await assertRejects(() => removeVolume(ctx, "default", "used"), NotFound);
  // Another namespace's volumes are its own.
  await createVolume(ctx, "other", "used");
  assertEquals((await listVolumes(ctx, "default")).length, 0);
});

Deno.test("leftovers of interrupted making and removal are found, then removed under the lock", async () => {
  await using dir = await tempDir();
  const ctx = contextIn(dir.path);
  await createVolume(ctx, "default", "keep");
  const vols = join(ctx.paths.dataRoot, "volumes/default");
  await Deno.mkdir(join(vols, ".tmp-x-12345678/_data"), { recursive: true });
  await Deno.mkdir(join(vols, ".trash-y-12345678/_data/deep"), { recursive: true });
  const found = await cleanVolumeLeftovers(ctx.paths, "default", false);
  assertEquals(found.map((p) => p.slice(vols.length + 1)), [
    ".tmp-x-12345678",
    ".trash-y-12345678",
  ]);
  assertEquals(await cleanVolumeLeftovers(ctx.paths, "default", true), found);
  const left = (await Array.fromAsync(Deno.readDir(vols))).map((e) => e.name);
  assertEquals(left, ["keep"]);
  assertTrue(await cleanVolumeLeftovers(ctx.paths, "default", false).then((l) => l.length === 0));
});
