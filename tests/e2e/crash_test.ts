// Fault injection: berth SIGKILLed at every crash point, then repaired.
import { assertEquals, assertRejects, assertTrue } from "../assert.ts";
import {
  berth,
  berthOk,
  busyboxRootfs,
  cleanup,
  eventually,
  freePort,
  freeTestSubnet,
  hasNetworking,
  listTree,
  makeRoots,
  type Roots,
  withRoots,
} from "../helpers.ts";
import { assertInvariants, assertUsable } from "./invariants.ts";
import { fileURLToPath as fromFileUrl } from "node:url";
import { CRASH_POINTS } from "../../lib/container/crash.ts";
import { startTimeOf } from "../../lib/host/proc.ts";
import { parseMountInfo } from "../../lib/host/mounts.ts";
import { join } from "node:path";
import { busyboxLayer, tarOf, writeOciLayout } from "../image_fixture.ts";
import { haveRegistryTools, push, startRegistry } from "../image_registry.ts";

const WORKER = fromFileUrl(new URL("../fixtures/worker.ts", import.meta.url));
const STAND_IN = fromFileUrl(new URL("../fixtures/criu_stand_in.sh", import.meta.url));

/** Stands for the case's image directory in the case table. */
const IMAGES = "<images>";

let serial = 0;
/** A sleep command whose argument marks its processes. */
function marked(): { cmd: string[]; marker: string } {
  const n = 100_000 + (Deno.pid % 1000) * 100 + serial++;
  return { cmd: ["sleep", String(n)], marker: `sleep ${n}` };
}

async function crash(roots: Roots, point: string, args: string[]): Promise<void> {
  const r = await berth(roots, args, { BERTH_CRASH_AT: point });
  assertEquals(r.code, 137, `${point}: expected to die there, got ${r.code}: ${r.stderr}`);
}

/** What repairs the damage: `gc`, or simply the next command touching the container. */
const REPAIRERS = ["gc", "touch"] as const;

async function repair(roots: Roots, how: typeof REPAIRERS[number], id: string): Promise<void> {
  if (how === "gc") {
    const r = await berth(roots, ["gc"]);
    assertEquals(r.code, 0, r.stderr);
    // A second run finds nothing left to do.
    assertEquals(await berthOk(roots, ["gc", "--dry-run"]), "");
  } else {
    const r = await berth(roots, ["state", id]);
    if (r.code !== 0) assertEquals(r.code, 3, r.stderr);
  }
}

for (const how of REPAIRERS) {
  Deno.test(`every crash point of create, run -d, start, pause, resume, restart, update and delete -f is repaired by ${how}`, async (t) => {
    const rootfs = await busyboxRootfs();
    const cases: {
      point: string;
      setup: string[][];
      crash: (m: string[]) => string[];
      standIn?: boolean;
    }[] = [
      ...CRASH_POINTS.create.map((point) => ({
        point,
        setup: [],
        crash: (m: string[]) => ["create", "--rootfs", rootfs, "c1", "--", ...m],
      })),
      // run -d creates and starts in one runtime call: create's points.
      ...CRASH_POINTS.create.map((point) => ({
        point: `${point} (run -d)`,
        setup: [],
        crash: (m: string[]) => ["run", "-d", "--rootfs", rootfs, "c1", "--", ...m],
      })),
      ...CRASH_POINTS.start.map((point) => ({
        point,
        setup: [["create", "--rootfs", rootfs, "c1", "--"]],
        crash: () => ["start", "c1"],
      })),
      ...CRASH_POINTS.pause.map((point) => ({
        point,
        setup: [["run", "-d", "--rootfs", rootfs, "c1", "--"]],
        crash: () => ["pause", "c1"],
      })),
      ...CRASH_POINTS.resume.map((point) => ({
        point,
        setup: [["run", "-d", "--rootfs", rootfs, "c1", "--"], ["pause", "c1"]],
        crash: () => ["resume", "c1"],
      })),
      ...CRASH_POINTS.checkpoint.map((point) => ({
        point,
        setup: [["run", "-d", "--rootfs", rootfs, "c1", "--"]],
        crash: () => ["checkpoint", "--image-path", IMAGES, "c1"],
        standIn: true,
      })),
      ...CRASH_POINTS.restore.map((point) => ({
        point,
        setup: [
          ["run", "-d", "--rootfs", rootfs, "c1", "--"],
          ["checkpoint", "--image-path", IMAGES, "c1"],
        ],
        crash: () => ["restore", "-d", "--image-path", IMAGES, "c1"],
        standIn: true,
      })),
      ...CRASH_POINTS.restart.map((point) => ({
        point,
        setup: [["run", "-d", "--rootfs", rootfs, "c1", "--"], ["stop", "-t", "0", "c1"]],
        crash: () => ["restart", "c1"],
      })),
      ...CRASH_POINTS.update.map((point) => ({
        point,
        setup: [["run", "-d", "--rootfs", rootfs, "c1", "--"]],
        crash: () => ["update", "--pids-limit", "77", "c1"],
      })),
      ...CRASH_POINTS.delete.map((point) => ({
        point,
        setup: [["run", "-d", "--rootfs", rootfs, "c1", "--"]],
        crash: () => ["delete", "-f", "c1"],
      })),
      // On a bridge network with a published port: set-up's points during
      // run -d, tear-down's (and delete's own) during delete -f.
      ...(hasNetworking() ? CRASH_POINTS.network : []).map((point) => {
        const net = ["--network", "cn", "-p", `127.0.0.1:${freePort()}:8080`];
        const makeNet = ["network", "create", "--subnet", freeTestSubnet(), "cn"];
        return point.startsWith("network:del") || point === "network:deleted" ||
            point === "network:unrecorded"
          ? {
            point: `${point} (network)`,
            setup: [makeNet, ["run", "-d", ...net, "--rootfs", rootfs, "c1", "--"]],
            crash: () => ["delete", "-f", "c1"],
          }
          : {
            point: `${point} (network)`,
            setup: [makeNet],
            crash: (m: string[]) => ["run", "-d", ...net, "--rootfs", rootfs, "c1", "--", ...m],
          };
      }),
    ];
    for (const c of cases) {
      await t.step(c.point, async () => {
        const roots = await makeRoots();
        if (c.standIn) roots.env.BERTH_RUNTIME = STAND_IN;
        try {
          const { cmd, marker } = marked();
          // Each case's checkpoint images live inside its own roots' directory.
          const images = (a: string[]) =>
            a.map((w) => w === IMAGES ? `${roots.root}/../images` : w);
          for (const s of c.setup) {
            await berthOk(roots, images([...s, ...(s.at(-1) === "--" ? cmd : [])]));
          }
          await crash(roots, c.point.split(" ")[0]!, images(c.crash(cmd)));
          await repair(roots, how, "c1");
          const ids = await assertInvariants(roots, { c1: marker }, `${c.point} + ${how}`);
          await assertUsable(roots, rootfs, "c1", ids.includes("c1"), c.point);
          await assertInvariants(roots, { c1: marker }, `${c.point} + ${how}, reused`);
        } finally {
          await cleanup(roots);
        }
      });
    }
  });
}

Deno.test("gc --dry-run on a healthy root prints nothing and changes nothing", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "h1", "--", "sleep", "100"]);
    await berthOk(roots, ["create", "--rootfs", rootfs, "h2", "--", "true"]);
    await berthOk(roots, ["run", "--rootfs", rootfs, "h3", "--", "true"]);
    await berthOk(roots, ["pause", "h1"]);
    const { listTree } = await import("../helpers.ts");
    const before = await listTree(roots.root);
    assertEquals(await berthOk(roots, ["gc", "--dry-run"]), "");
    assertEquals(await berthOk(roots, ["gc"]), "");
    assertEquals(await listTree(roots.root), before);
  });
});

Deno.test("after a reboot (--root emptied), gc removes the work directories left in --data-root", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "r1", "--", "sleep", "100"]);
    await berthOk(roots, ["run", "--rootfs", rootfs, "r2", "--", "true"]);
    // What a reboot does: processes and mounts are gone, tmpfs --root is empty.
    const { monitorPids, mountsUnder, listTree } = await import("../helpers.ts");
    for (const pid of await monitorPids(roots)) Deno.kill(pid, "SIGKILL");
    await new Deno.Command("runc", {
      args: ["--root", `${roots.root}/ns/default/runc`, "delete", "--force", "r1"],
    }).output();
    for (const m of (await mountsUnder(roots.root)).reverse()) {
      await new Deno.Command("umount", { args: [m] }).output();
    }
    await Deno.remove(roots.root, { recursive: true });
    assertEquals((await listTree(`${roots.dataRoot}/ns/default`)).filter((p) => !p.includes("/")), [
      "r1",
      "r2",
    ]);
    const out = await berthOk(roots, ["gc"]);
    assertEquals(out.trim().split("\n").length, 2, out);
    await assertInvariants(roots, {}, "after reboot");
    assertEquals(await listTree(`${roots.dataRoot}/ns/default`), []);
    assertEquals(await berthOk(roots, ["gc", "--dry-run"]), "");
  });
});

Deno.test("a stale monitor socket is removed by gc and replaced by the next monitor", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "s1", "--", "sleep", "100"]);
    const { monitorPids } = await import("../helpers.ts");
    const [mon] = await monitorPids(roots);
    Deno.kill(mon!, "SIGKILL");
    await new Promise((r) => setTimeout(r, 200));
    const sock = `${roots.root}/monitor.sock`;
    await Deno.lstat(sock); // left behind
    assertEquals(
      await berthOk(roots, ["gc", "--dry-run"]),
      `would remove the stale monitor socket ${sock}\n`,
    );
    await berthOk(roots, ["gc"]);
    await assertRejects(() => Deno.lstat(sock), Deno.errors.NotFound);
    // The next command starts a monitor that re-adopts s1 and serves a new socket.
    await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "s2", "--", "sleep", "100"]);
    await Deno.lstat(sock);
    assertEquals((await monitorPids(roots)).length, 1);
    await berthOk(roots, ["kill", "s1", "KILL"]);
    assertEquals((await berthOk(roots, ["wait", "s1"])).trim(), "255");
  });
});

Deno.test("the command that touches an interrupted delete settles it, even while the lock is busy", async () => {
  await withRoots(async (roots, rootfs) => {
    const { cmd, marker } = marked();
    await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "c1", "--", ...cmd]);
    // A delete recorded by a process that has died ...
    const victim = new Deno.Command("sleep", { args: ["30"] }).spawn();
    const op = {
      name: "delete",
      pid: victim.pid,
      pidStartTime: startTimeOf(victim.pid),
      since: new Date().toISOString(),
    };
    victim.kill("SIGKILL");
    await victim.status;
    const file = join(roots.root, "ns/default/containers/c1/state.json");
    await Deno.writeTextFile(
      file,
      JSON.stringify({ ...JSON.parse(await Deno.readTextFile(file)), op }),
    );
    // ... while another process (as the monitor recording an exit would) holds the lock a while.
    const holder = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--quiet",
        WORKER,
        "hold",
        join(roots.root, "ns/default/locks/c1.lock"),
        "700",
      ],
      stdout: "piped",
    }).spawn();
    const reader = holder.stdout.getReader();
    assertEquals(new TextDecoder().decode((await reader.read()).value).trim(), "locked");
    reader.releaseLock();
    // The reader waits for the lock and finishes the delete: the container is gone.
    const r = await berth(roots, ["state", "c1"]);
    assertEquals(r.code, 3, r.stdout + r.stderr);
    await holder.output();
    assertEquals(await assertInvariants(roots, { c1: marker }, "settled by a reader"), []);
  });
});

Deno.test("exec -t killed at exec:terminal: its process is hung up, gc removes the console socket and the exec's files", async () => {
  await withRoots(async (roots, rootfs) => {
    const { cmd, marker } = marked();
    await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "c1", "--", "sleep", "1000"]);
    assertEquals(CRASH_POINTS.exec, ["exec:terminal"]);
    await crash(roots, "exec:terminal", ["exec", "-t", "c1", "--", ...cmd]);
    const bundle = join(roots.root, "ns/default/containers/c1");
    const scratch = async () =>
      (await listTree(bundle)).filter((f) => f.startsWith(".exec-")).sort();
    assertEquals((await scratch()).map((f) => f.replace(/.*\./, "")).sort(), ["json", "pid"]);
    assertEquals((await listTree(join(roots.root, "console"))).length, 1);
    // Nobody received the terminal: it closed with the killed berth, which hangs up the process.
    const running = async () => {
      for await (const e of Deno.readDir("/proc")) {
        if (!/^\d+$/.test(e.name)) continue;
        const line = await Deno.readTextFile(`/proc/${e.name}/cmdline`).catch(() => "");
        if (line.replaceAll("\0", " ").trim() === marker) return true;
      }
      return false;
    };
    await eventually(async () => !(await running()), 10_000, "the exec'd process hung up");
    const r = await berthOk(roots, ["gc"]);
    assertTrue(/stale console socket/.test(r) && /its exec is gone/.test(r), r);
    assertEquals(await berthOk(roots, ["gc", "--dry-run"]), "");
    assertEquals(await scratch(), []);
    assertEquals(await listTree(join(roots.root, "console")), []);
    assertEquals(await stateOfRunning(roots, "c1"), "running");
  });
});

async function stateOfRunning(roots: Roots, id: string): Promise<string> {
  return JSON.parse(await berthOk(roots, ["state", id])).status;
}

Deno.test(
  "a pull killed at any crash point leaves nothing listed, gc removes its partial downloads; a create --image killed at any point leaves no use of the image",
  { ignore: !haveRegistryTools(), sanitizeResources: false, sanitizeOps: false },
  async () => {
    const roots = await makeRoots();
    const rootfs = await busyboxRootfs();
    const reg = await startRegistry();
    const layout = await Deno.makeTempDir({ prefix: "berth-oci-" });
    const store = join(roots.dataRoot, "image");
    const names = (d: string) => {
      try {
        return [...Deno.readDirSync(join(store, d))].map((e) => e.name).sort();
      } catch {
        return [];
      }
    };
    try {
      const big = new Uint8Array(3_000_000);
      for (let i = 0; i < big.length; i += 65536) {
        crypto.getRandomValues(big.subarray(i, Math.min(big.length, i + 65536)));
      }
      const w = await writeOciLayout(layout, "1", {
        layers: [busyboxLayer(rootfs), tarOf([{ name: "big", data: big }])],
      });
      const ref = `${reg.host}/crash:1`;
      await push(layout, "1", ref);
      for (const point of CRASH_POINTS.pull) {
        const r = await berth(roots, ["pull", "-q", ref], { BERTH_CRASH_AT: point });
        assertEquals(r.code, 137, `${point}: ${r.stderr}`);
        assertEquals(await berthOk(roots, ["images", "-q"]), "", point);
        await berthOk(roots, ["gc"]);
        for (const d of ["images", "layers", "blobs", "tmp"]) {
          assertEquals(names(d), [], `${point}: ${d}/`);
        }
      }
      assertEquals((await berthOk(roots, ["pull", "-q", ref])).trim(), w.configDigest);
      for (const point of CRASH_POINTS.create) {
        const r = await berth(roots, ["create", "--image", ref, "c1", "--", "true"], {
          BERTH_CRASH_AT: point,
        });
        assertEquals(r.code, 137, `${point}: ${r.stderr}`);
        await berthOk(roots, ["gc"]);
        assertEquals((await berth(roots, ["state", "c1"])).code, 3, point);
        assertEquals(names("uses/default"), [], `${point}: the use of the image is left`);
        assertEquals(names("layers").length, 2, point);
      }
      // Nothing holds the image: rmi is not refused, and prune empties the store.
      await berthOk(roots, ["rmi", ref]);
      await berthOk(roots, ["image", "prune"]);
      for (const d of ["images", "layers", "blobs", "tmp"]) assertEquals(names(d), [], d);
    } finally {
      await cleanup(roots);
      await reg.stop();
      await Deno.remove(layout, { recursive: true });
    }
  },
);

Deno.test("every crash point of volume creation and removal is repaired by gc", async (t) => {
  const rootfs = await busyboxRootfs();
  const volumes = (roots: Roots) => join(roots.dataRoot, "volumes/default");
  assertEquals(CRASH_POINTS.volume, ["volume:built", "volume:renamed"]);
  const cases: { name: string; setup: string[][]; point: string; crash: string[]; left: RegExp }[] =
    [
      {
        name: "volume create",
        setup: [],
        point: "volume:built",
        crash: ["volume", "create", "v"],
        left: /^\.tmp-v-/,
      },
      {
        name: "create -v (made on first use)",
        setup: [],
        point: "volume:built",
        crash: ["create", "--rootfs", rootfs, "-v", "v:/d", "c1", "--", "true"],
        left: /^\.tmp-v-/,
      },
      {
        name: "volume rm",
        setup: [["volume", "create", "v"]],
        point: "volume:renamed",
        crash: ["volume", "rm", "v"],
        left: /^\.trash-v-/,
      },
      {
        name: "create -v recorded, runtime not called",
        setup: [],
        point: "create:recorded",
        crash: ["create", "--rootfs", rootfs, "-v", "v:/d", "c1", "--", "true"],
        left: /^v$/,
      },
    ];
  for (const c of cases) {
    await t.step(`${c.point}: ${c.name}`, async () => {
      const roots = await makeRoots();
      try {
        for (const s of c.setup) await berthOk(roots, s);
        await crash(roots, c.point, c.crash);
        const left = (await Array.fromAsync(Deno.readDir(volumes(roots)))).map((e) => e.name);
        assertTrue(left.some((n) => c.left.test(n)), `${c.point}: left ${left}`);
        await repair(roots, "gc", "c1");
        // Nothing half-made is left; a recorded create was rolled back, so its volume is free.
        const after = (await Array.fromAsync(Deno.readDir(volumes(roots)))).map((e) => e.name);
        assertEquals(after.filter((n) => n.startsWith(".")), []);
        if (after.includes("v")) await berthOk(roots, ["volume", "rm", "v"]);
        await berthOk(roots, [
          "run",
          "--rm",
          "--rootfs",
          rootfs,
          "-v",
          "v:/d",
          "c2",
          "--",
          "touch",
          "/d/ok",
        ]);
        assertEquals(await listTree(join(volumes(roots), "v/_data")), ["ok"]);
        await assertInvariants(roots, {}, c.point);
      } finally {
        await cleanup(roots);
      }
    });
  }
});

// ---- what a runtime process killed midway leaves in its state directory ----
// runc 1.1's `runc init` bind-mounts runc's binary on a temporary
// runc.XXXXXX in the container's runtime state directory and unmounts it a
// moment later (its cloned-binary protection); killed in between, it leaves
// the mount (seen once in random_kill_test: "stray mount …/runc/rk/runc.OAeEdg").
// Real runc is made to die exactly there: strace SIGKILLs it at that
// umount2, its first one.

const HAVE_STRACE = (() => {
  try {
    return Deno.statSync("/usr/bin/strace").isFile;
  } catch {
    return false;
  }
})();

/** Runs real runc on the roots' default namespace, killed at its binary's unmount. */
async function runcKilledAtItsMount(roots: Roots, args: string[]): Promise<string[]> {
  const runcRoot = join(roots.root, "ns/default/runc");
  await new Deno.Command("strace", {
    args: [
      "-f",
      "-qq",
      "-o",
      "/dev/null",
      "-e",
      "trace=umount2",
      "-e",
      "inject=umount2:signal=KILL:when=1",
      "runc",
      "--root",
      runcRoot,
      ...args,
    ],
    stdout: "null",
    stderr: "null",
  }).output();
  const { mountsUnder } = await import("../helpers.ts");
  const left = await mountsUnder(runcRoot);
  assertTrue(
    left.length === 1 && /\/runc\/[^/]+\/runc\.[A-Za-z0-9]{6}$/.test(left[0]!),
    `runc left its binary's mount: ${left.join(", ")}`,
  );
  return left;
}

/** The entries of the roots' runtime root (one directory per container the runtime has). */
async function runtimeDirs(roots: Roots): Promise<string[]> {
  return (await listTree(join(roots.root, "ns/default/runc"))).filter((p) => !p.includes("/"));
}

for (const how of REPAIRERS) {
  Deno.test({
    name:
      `a runc mount left in the runtime state by a killed exec, then delete -f killed at each ` +
      `crash point: ${how} unmounts it and removes the state`,
    ignore: !HAVE_STRACE,
    fn: async (t) => {
      const rootfs = await busyboxRootfs();
      for (const point of CRASH_POINTS.delete) {
        await t.step(point, async () => {
          const roots = await makeRoots();
          try {
            const { cmd, marker } = marked();
            await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "c1", "--", ...cmd]);
            await runcKilledAtItsMount(roots, ["exec", "c1", "true"]);
            await crash(roots, point, ["delete", "-f", "c1"]);
            await repair(roots, how, "c1");
            assertEquals(await assertInvariants(roots, { c1: marker }, `${point} + ${how}`), []);
            assertEquals(await runtimeDirs(roots), [], `${point} + ${how}: runtime state`);
            await assertUsable(roots, rootfs, "c1", false, point);
          } finally {
            await cleanup(roots);
          }
        });
      }
    },
  });

  Deno.test({
    name: `a runc create killed at its binary's mount for an ID berth has no state of: ` +
      `${how} unmounts it and removes the state directory`,
    ignore: !HAVE_STRACE,
    fn: async () => {
      await withRoots(async (roots, rootfs) => {
        const bundle = join(roots.root, "..", "x1-bundle");
        await Deno.mkdir(bundle);
        await new Deno.Command("runc", { args: ["spec", "--bundle", bundle] }).output();
        const spec = JSON.parse(await Deno.readTextFile(join(bundle, "config.json")));
        spec.root = { path: rootfs, readonly: true };
        spec.process.terminal = false;
        spec.process.args = ["sleep", "1"];
        await Deno.writeTextFile(join(bundle, "config.json"), JSON.stringify(spec));
        await runcKilledAtItsMount(roots, ["create", "--bundle", bundle, "x1"]);
        assertEquals(await runtimeDirs(roots), ["x1"]);
        if (how === "gc") {
          const out = await berthOk(roots, ["gc"]);
          assertTrue(
            /runtime's state directory of default\/x1 \(unmounting .*runc\./.test(out),
            out,
          );
          assertEquals(await berthOk(roots, ["gc", "--dry-run"]), "");
        } else {
          assertEquals((await berth(roots, ["state", "x1"])).code, 3);
        }
        assertEquals(await assertInvariants(roots, {}, how), []);
        assertEquals(await runtimeDirs(roots), [], `${how}: runtime state`);
        await assertUsable(roots, rootfs, "x1", false, how);
      });
    },
  });
}

Deno.test({
  name: "gc unmounts a runc mount a killed exec left in a running container's runtime state, " +
    "and leaves the container running",
  ignore: !HAVE_STRACE,
  fn: async () => {
    await withRoots(async (roots, rootfs) => {
      const { cmd, marker } = marked();
      await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "c1", "--", ...cmd]);
      const [m] = await runcKilledAtItsMount(roots, ["exec", "c1", "true"]);
      // While a runc process of c1 runs (it may be between its own mount and
      // unmount), gc leaves c1's runtime state alone: a process naming the
      // directory as runc names it for its runc init stands for one.
      const starting = new Deno.Command("sleep", {
        args: ["30"],
        env: { _LIBCONTAINER_STATEDIR: join(roots.root, "ns/default/runc/c1") },
      }).spawn();
      try {
        assertEquals(await berthOk(roots, ["gc"]), "");
      } finally {
        starting.kill("SIGKILL");
        await starting.status;
      }
      assertEquals(
        await berthOk(roots, ["gc", "--dry-run"]),
        `would unmount ${m}, which a killed runtime process of default/c1 left\n`,
      );
      const out = await berthOk(roots, ["gc"]);
      assertEquals(out, `unmounted ${m}, which a killed runtime process of default/c1 left\n`);
      assertEquals(await assertInvariants(roots, { c1: marker }, "gc"), ["c1"]);
      assertEquals(await stateOfRunning(roots, "c1"), "running");
      await assertUsable(roots, rootfs, "c1", true, "after gc");
    });
  },
});

Deno.test("delete -f unmounts the rootfs while the runtime deletes a container whose init had its own PID namespace, and only after the runtime's delete for one without", async () => {
  await withRoots(async (roots, rootfs) => {
    // A --config without a PID namespace: its processes share the host's.
    const config = join(roots.root, "..", "no-pid-ns.json");
    const dir = join(roots.root, "..", "spec");
    await Deno.mkdir(dir);
    await new Deno.Command("runc", { args: ["spec", "--bundle", dir] }).output();
    const spec = JSON.parse(await Deno.readTextFile(join(dir, "config.json")));
    spec.process.terminal = false;
    spec.linux.namespaces = spec.linux.namespaces.filter((n: { type: string }) => n.type !== "pid");
    await Deno.writeTextFile(config, JSON.stringify(spec));
    const own = marked(), shared = marked();
    await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "c1", "--", ...own.cmd]);
    await berthOk(roots, [
      "run",
      "-d",
      "--rootfs",
      rootfs,
      "--config",
      config,
      "c2",
      "--",
      ...shared.cmd,
    ]);
    const mounted = async (id: string) =>
      parseMountInfo(await Deno.readTextFile("/proc/self/mountinfo"))
        .includes(join(roots.root, "ns/default/containers", id, "rootfs"));
    assertTrue(await mounted("c1") && await mounted("c2"));
    // Killed where the runtime has just forgotten each: c1's rootfs went meanwhile.
    await crash(roots, "delete:runtime", ["delete", "-f", "c1"]);
    await crash(roots, "delete:runtime", ["delete", "-f", "c2"]);
    assertEquals([await mounted("c1"), await mounted("c2")], [false, true]);
    assertEquals(await runtimeDirs(roots), []);
    // Either is finished by the next command.
    assertEquals((await berth(roots, ["state", "c1"])).code, 3);
    assertEquals((await berth(roots, ["state", "c2"])).code, 3);
    assertEquals(await assertInvariants(roots, { c1: own.marker, c2: shared.marker }, "after"), []);
    assertEquals([await mounted("c1"), await mounted("c2")], [false, false]);
  });
});

Deno.test("delete -f: the monitor starts the runtime's delete as soon as it has reaped the init, so it is done even when berth is killed right after the kill", async () => {
  await withRoots(async (roots, rootfs) => {
    const { cmd, marker } = marked();
    await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "c1", "--", ...cmd]);
    assertEquals(await runtimeDirs(roots), ["c1"]);
    await crash(roots, "delete:killed", ["delete", "-f", "c1"]);
    // No berth command runs meanwhile: the monitor forgets c1 in the runtime by itself.
    await eventually(async () => (await runtimeDirs(roots)).length === 0, 5_000, "runc delete");
    assertEquals((await berth(roots, ["state", "c1"])).code, 3);
    assertEquals(await assertInvariants(roots, { c1: marker }, "after"), []);
  });
});

Deno.test("an export -o killed before its rename leaves only its temp, which gc removes (and nothing it did not write)", async () => {
  await withRoots(async (roots, rootfs) => {
    const out = await Deno.makeTempDir({ prefix: "berth-export-crash-" });
    try {
      await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "c1", "--", "sleep", "600"]);
      // A user's file shaped like a temp of a dead process, not written by berth: kept.
      const lookalike = join(out, ".mine.tar.tmp-999999-0123abcd");
      await Deno.writeTextFile(lookalike, "mine\n");
      const r = await berth(roots, ["export", "-o", join(out, "c1.tar"), "c1"], {
        BERTH_CRASH_AT: "export:written",
      });
      assertEquals(r.code, 137, r.stderr);
      const left = () => [...Deno.readDirSync(out)].map((e) => e.name).sort();
      const temps = left().filter((n) => n.startsWith(".c1.tar.tmp-"));
      assertEquals(temps.length, 1, left().join(" "));
      assertTrue(!left().includes("c1.tar"));
      const dry = await berthOk(roots, ["gc", "--dry-run"]);
      assertTrue(dry.includes(`would remove ${join(out, temps[0]!)}, which a killed`), dry);
      assertEquals(left().filter((n) => n.startsWith(".c1.tar.tmp-")).length, 1);
      const gc = await berthOk(roots, ["gc"]);
      assertTrue(
        gc.includes(`removed ${join(out, temps[0]!)}, which a killed save or export left`),
        gc,
      );
      assertEquals(left(), [".mine.tar.tmp-999999-0123abcd"]);
      assertEquals((await berthOk(roots, ["gc"])).includes("killed save or export"), false);
      // The journal is empty again, and an export that completes leaves no record.
      await berthOk(roots, ["export", "-o", join(out, "c1.tar"), "c1"]);
      assertEquals(left(), [".mine.tar.tmp-999999-0123abcd", "c1.tar"]);
      assertEquals([...Deno.readDirSync(join(roots.dataRoot, "outputs"))].length, 0);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  });
});

/** Holds the locks of containers `ids` (as an operation would) for `ms`, running `during` meanwhile. */
async function holdLocks(roots: Roots, ids: string[], ms: number, during: () => Promise<void>) {
  const files = await Promise.all(ids.map(async (id) => {
    const f = await Deno.open(join(roots.root, `ns/default/locks/${id}.lock`), {
      read: true,
      write: true,
    });
    await f.lock(true);
    return f;
  }));
  const released = new Promise<void>((r) =>
    setTimeout(() => {
      for (const f of files) f.close();
      r();
    }, ms)
  );
  try {
    await during();
  } finally {
    await released;
  }
}

Deno.test("gc waits a moment for a busy container lock (the monitor recording an exit, a command finishing): the interrupted delete is finished, not skipped; a lock held on is left alone", async () => {
  const rootfs = await busyboxRootfs();
  const roots = await makeRoots();
  try {
    const holdFor = (ms: number, during: () => Promise<void>) =>
      holdLocks(roots, ["c1"], ms, during);
    await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "c1", "--", "sleep", "1000"]);
    await crash(roots, "delete:unmounted", ["delete", "-f", "c1"]);
    // Held for 4 s (gc waits 2): gc leaves the container (an operation under way) and says nothing of it.
    await holdFor(4_000, async () => {
      const r = await berth(roots, ["gc"]);
      assertEquals(r.code, 0, r.stderr);
      assertTrue(!r.stdout.includes("c1"), r.stdout);
    });
    assertEquals(
      await berthOk(roots, ["gc", "--dry-run"]),
      "would finish the interrupted delete of default/c1\n",
    );
    // Held for half a second: gc waits for it and finishes the delete.
    await holdFor(500, async () => {
      const r = await berth(roots, ["gc"]);
      assertEquals(r.code, 0, r.stderr);
      assertTrue(r.stdout.includes("finished the interrupted delete of default/c1"), r.stdout);
    });
    assertEquals(await berthOk(roots, ["gc", "--dry-run"]), "");
    assertEquals((await berth(roots, ["state", "c1"])).code, 3);
  } finally {
    await cleanup(roots);
  }
});

Deno.test("gc waits for busy container locks 2 s in all, not 2 s each: five containers held by operations under way are left alone within 6 s (each alone would take 10), and the others are examined", async () => {
  const rootfs = await busyboxRootfs();
  const roots = await makeRoots();
  try {
    const held = ["b1", "b2", "b3", "b4", "b5"];
    for (const id of [...held, "free"]) {
      await berthOk(roots, ["create", "--rootfs", rootfs, id, "--", "true"]);
    }
    await crash(roots, "delete:unmounted", ["delete", "-f", "free"]);
    await holdLocks(roots, held, 8_000, async () => {
      const t0 = performance.now();
      const r = await berth(roots, ["gc"]);
      const took = performance.now() - t0;
      assertEquals(r.code, 0, r.stderr);
      assertEquals(r.stdout, "finished the interrupted delete of default/free\n");
      assertTrue(took < 6_000, `gc took ${Math.round(took)} ms`);
    });
    assertEquals((await berthOk(roots, ["ps", "-aq"])).trim().split("\n").length, 5);
  } finally {
    await cleanup(roots);
  }
});
