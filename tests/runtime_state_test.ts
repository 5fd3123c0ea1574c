// What a killed runtime process leaves in a container's runtime state
// directory (lib/container/runtime_state.ts), with real bind mounts.
import { assertEquals, assertTrue } from "./assert.ts";
import { Paths } from "../lib/container/paths.ts";
import {
  removeRuntimeState,
  RUNC_STATE_ENV,
  unmountStaleRuntimeMounts,
} from "../lib/container/runtime_state.ts";
import { mountsUnder } from "../lib/host/mounts.ts";
import { libc } from "../lib/host/libc.ts";
import { join } from "node:path";

const ignore = Deno.uid() !== 0;
// Load libc's mount symbols now: the tests' sanitizers count a library opened inside a test.
try {
  libc.umount("/nonexistent-berth-runtime-state-test", 0);
} catch { /* EINVAL/ENOENT: loaded */ }

/** A runtime state directory of c1 with runc's binary bind-mounted as runc does. */
async function withLeftover(fn: (paths: Paths, mount: string) => Promise<void>): Promise<void> {
  const base = await Deno.makeTempDir({ prefix: "berth-rtstate-" });
  const paths = new Paths(join(base, "run"), join(base, "data"));
  const dir = paths.runtimeStateDir("default", "c1");
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(join(dir, "state.json"), "{}");
  const mount = join(dir, "runc.AbC123");
  await Deno.writeFile(mount, new Uint8Array());
  const r = await new Deno.Command("mount", { args: ["--bind", "/bin/true", mount] }).output();
  assertTrue(r.success, "bind mount");
  try {
    await fn(paths, mount);
  } finally {
    for (const m of await mountsUnder(base)) libc.umount(m, 2);
    await Deno.remove(base, { recursive: true });
  }
}

Deno.test({
  name: "removeRuntimeState unmounts what the runtime left and removes the directory",
  ignore,
  fn: () =>
    withLeftover(async (paths, mount) => {
      assertEquals(await removeRuntimeState(paths, "default", "c1"), [mount]);
      assertEquals(await mountsUnder(paths.root), []);
      assertTrue(!(await exists(paths.runtimeStateDir("default", "c1"))), "directory removed");
      assertEquals(await removeRuntimeState(paths, "default", "c1"), [], "nothing there is fine");
    }),
});

Deno.test({
  name: "unmountStaleRuntimeMounts waits for no runc process of the container, and keeps the state",
  ignore,
  fn: () =>
    withLeftover(async (paths, mount) => {
      const dir = paths.runtimeStateDir("default", "c1");
      const runc = new Deno.Command("sleep", { args: ["30"], env: { [RUNC_STATE_ENV]: dir } })
        .spawn();
      try {
        // A runc process of it runs (it may be between its mount and unmount): left alone.
        assertEquals(await unmountStaleRuntimeMounts(paths, "default", "c1", null), []);
        // Unless that process is the container's own init (a created container's runc init).
        assertEquals(
          await unmountStaleRuntimeMounts(paths, "default", "c1", runc.pid, true),
          [mount],
        );
      } finally {
        runc.kill("SIGKILL");
        await runc.status;
      }
      assertEquals(await unmountStaleRuntimeMounts(paths, "default", "c1", null, true), [mount]);
      assertEquals(await mountsUnder(paths.root), [mount], "a dry run changes nothing");
      assertEquals(await unmountStaleRuntimeMounts(paths, "default", "c1", null), [mount]);
      assertEquals(await mountsUnder(paths.root), []);
      assertTrue(await exists(join(dir, "state.json")), "the live container's state stays");
    }),
});

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}
