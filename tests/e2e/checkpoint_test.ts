// Checkpoint and restore. CRIU cannot run on this kernel, so the flow runs
// through a scripted runtime stand-in (tests/fixtures/criu_stand_in.sh);
// the last test uses the real runc + CRIU where `criu check` passes.
import { join } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { assertEquals, assertTrue } from "../assert.ts";
import {
  berth,
  berthOk,
  busyboxRootfs,
  cleanup,
  eventsOf,
  eventually,
  makeRoots,
  type Roots,
  stateOf,
} from "../helpers.ts";

const STAND_IN = fromFileUrl(new URL("../fixtures/criu_stand_in.sh", import.meta.url));
const COUNTER =
  "n=$(cat /count 2>/dev/null || echo 0); while true; do n=$((n+1)); echo $n > /count; sleep 0.05; done";

async function standInRoots(): Promise<Roots> {
  const roots = await makeRoots();
  roots.env.BERTH_RUNTIME = STAND_IN;
  return roots;
}

async function counter(roots: Roots, id: string): Promise<number> {
  return Number((await berthOk(roots, ["exec", id, "--", "cat", "/count"])).trim());
}

Deno.test("checkpoint stops the container and restore brings it back, exits still recorded", async (t) => {
  const roots = await standInRoots();
  const rootfs = await busyboxRootfs();
  const images = join(roots.root, "..", "images");
  try {
    await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "ck", "--", "sh", "-c", COUNTER]);
    await eventually(async () => (await counter(roots, "ck")) > 3, 5000, "counter");
    await t.step("checkpoint: stopped, image path recorded, runtime forgot it", async () => {
      await berthOk(roots, ["checkpoint", "--image-path", images, "ck"]);
      const s = await stateOf(roots, "ck");
      assertEquals(s.status, "stopped");
      const file = JSON.parse(await Deno.readTextFile(join(String(s.bundle), "state.json")));
      assertEquals(file.checkpoint, images);
      const runc = await new Deno.Command("runc", {
        args: ["--root", join(roots.root, "ns/default/runc"), "state", "ck"],
        stderr: "null",
        stdout: "null",
      }).output();
      assertEquals(runc.code, 1, "runc still knows it");
      assertEquals((await berth(roots, ["exec", "ck", "--", "true"])).code, 5);
    });
    let before = 0;
    await t.step("restore -d: running again, with its filesystem state", async () => {
      before = Number(
        await Deno.readTextFile(join(String((await stateOf(roots, "ck")).rootfs), "count")),
      );
      await berthOk(roots, ["restore", "-d", "--image-path", images, "ck"]);
      const s = await stateOf(roots, "ck");
      assertEquals([s.status, s.exitCode], ["running", null]);
      await eventually(
        async () => (await counter(roots, "ck")) > before + 2,
        5000,
        "counter resumes",
      );
    });
    await t.step("the restored container's exit code is recorded", async () => {
      await berthOk(roots, ["kill", "ck", "KILL"]);
      assertEquals((await berthOk(roots, ["wait", "ck"])).trim(), "137");
    });
    await t.step("events show checkpoint and restore", async () => {
      const types = (await eventsOf(roots, null)).map((e) => e.type);
      assertEquals(types, ["create", "start", "checkpoint", "exit", "restore", "kill", "exit"]);
    });
    await t.step("delete after a checkpoint works although the runtime forgot it", async () => {
      await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "ck2", "--", "sleep", "100"]);
      await berthOk(roots, ["checkpoint", "--image-path", images + "2", "ck2"]);
      await berthOk(roots, ["delete", "ck2"]);
      assertEquals((await berth(roots, ["state", "ck2"])).code, 3);
    });
  } finally {
    await cleanup(roots);
  }
});

Deno.test("checkpoint --leave-running keeps it running; a failed checkpoint changes nothing", async () => {
  const roots = await standInRoots();
  const rootfs = await busyboxRootfs();
  const images = join(roots.root, "..", "images");
  try {
    await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "lr", "--", "sleep", "100"]);
    const pid = (await stateOf(roots, "lr")).pid;
    await berthOk(roots, ["checkpoint", "--leave-running", "--image-path", images, "lr"]);
    assertEquals([(await stateOf(roots, "lr")).status, (await stateOf(roots, "lr")).pid], [
      "running",
      pid,
    ]);
    const stateFile = join(String((await stateOf(roots, "lr")).bundle), "state.json");
    const before = await Deno.readTextFile(stateFile);
    const r = await berth(roots, ["checkpoint", "--image-path", images, "lr"], {
      STANDIN_FAIL_CHECKPOINT: "1",
    });
    assertEquals(r.code, 1);
    assertTrue(r.stderr.startsWith(`berth: checkpoint "lr": runtime: criu failed`), r.stderr);
    assertEquals(await Deno.readTextFile(stateFile), before);
    assertEquals((await stateOf(roots, "lr")).status, "running");
    // Restore needs a stopped container and existing images.
    assertEquals((await berth(roots, ["restore", "--image-path", images, "lr"])).code, 5);
    assertEquals((await berth(roots, ["restore", "--image-path", "/nonexistent", "lr"])).code, 2);
    assertEquals((await berth(roots, ["checkpoint", "lr"])).code, 2);
  } finally {
    await cleanup(roots);
  }
});

Deno.test("restore without -d streams the output and exits with the container's code", async () => {
  const roots = await standInRoots();
  const rootfs = await busyboxRootfs();
  const images = join(roots.root, "..", "images");
  try {
    await berthOk(roots, [
      "run",
      "-d",
      "--rootfs",
      rootfs,
      "fg",
      "--",
      "sh",
      "-c",
      "if [ -f /restored ]; then echo back; exit 5; fi; touch /restored; sleep 100",
    ]);
    await eventually(
      async () => (await berth(roots, ["exec", "fg", "--", "test", "-f", "/restored"])).code === 0,
      5000,
      "/restored",
    );
    await berthOk(roots, ["checkpoint", "--image-path", images, "fg"]);
    const r = await berth(roots, ["restore", "--image-path", images, "fg"]);
    assertEquals([r.code, r.stdout], [5, "back\n"]);
  } finally {
    await cleanup(roots);
  }
});

async function criuWorks(): Promise<boolean> {
  try {
    const r = await new Deno.Command("criu", { args: ["check"], stdout: "null", stderr: "null" })
      .output();
    return r.code === 0;
  } catch {
    return false;
  }
}

const realCriu = await criuWorks();
if (!realCriu) {
  console.log("skipping the real-CRIU checkpoint test: `criu check` does not pass on this host");
}

Deno.test({
  name: "checkpoint and restore with the real runc and CRIU",
  ignore: !realCriu,
  async fn() {
    const roots = await makeRoots();
    const rootfs = await busyboxRootfs();
    const images = join(roots.root, "..", "images");
    try {
      await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "real", "--", "sh", "-c", COUNTER]);
      await eventually(async () => (await counter(roots, "real")) > 3, 5000, "counter");
      await berthOk(roots, ["checkpoint", "--image-path", images, "real"]);
      assertEquals((await stateOf(roots, "real")).status, "stopped");
      await berthOk(roots, ["restore", "-d", "--image-path", images, "real"]);
      assertEquals((await stateOf(roots, "real")).status, "running");
      await berthOk(roots, ["kill", "real", "KILL"]);
      assertEquals((await berthOk(roots, ["wait", "real"])).trim(), "137");
    } finally {
      await cleanup(roots);
    }
  },
});
