// The CLI contract: one-line errors, exit codes, no change on disk, help.
import { join } from "node:path";
import { assertEquals, assertTrue } from "../assert.ts";
import {
  berth,
  berthArgv,
  berthOk,
  busyboxRootfs,
  cleanup,
  eventually,
  hasNetworking,
  listTree,
  makeRoots,
  monitorPids,
  withRoots,
} from "../helpers.ts";
import { loadCommands } from "../../lib/cli/commands/mod.ts";
import { INSPECTOR_GUARD_DELAY_MS, main } from "../../lib/cli/cli.ts";
import { type Libc, libc as realLibc } from "../../lib/host/libc.ts";
import type { StateStore } from "../../lib/container/state_file.ts";

Deno.test("bad input: one-line error, documented exit code, nothing on disk", async () => {
  const roots = await makeRoots();
  const rootfs = await busyboxRootfs();
  const cases: [string[], number][] = [
    [["create", "--rootfs", rootfs, "../evil"], 2],
    [["create", "--rootfs", rootfs, "a/b"], 2],
    [["create", "--rootfs", rootfs, "x".repeat(77)], 2],
    [["create", "--rootfs", "/nonexistent", "ok1"], 2],
    // The podman form (IMAGE first): no image, a bad reference, a bad boolean.
    [["create", "--name", "ok1"], 2],
    [["create", "Bad//Ref"], 2],
    [["run", "--rm=maybe", "busybox"], 2],
    [["run", "-d", "--name", "../x", "busybox"], 2],
    [["create", "--rootfs", rootfs, "--bundle", rootfs, "ok1"], 2],
    [["create", "--bundle", rootfs, "ok1"], 2], // no config.json there
    [["create", "--rootfs", rootfs, "--config", "/nonexistent.json", "ok1"], 2],
    [["create", "--rootfs", rootfs, "--cwd", "relative", "ok1"], 2],
    [["create", "--rootfs", rootfs, "--bogus", "ok1"], 2],
    [["--runtime", "/nonexistent/runc", "create", "--rootfs", rootfs, "ok1", "--", "true"], 1],
    [["-n", "../ns", "list"], 2],
    [["--nope", "list"], 2],
    [["frobnicate"], 2],
    [["state", "missing"], 3],
    [["delete", "missing"], 3],
    [["kill", "-s", "BOGUS", "missing"], 2],
    [["start"], 2],
  ];
  try {
    for (const [args, code] of cases) {
      const r = await berth(roots, args);
      assertEquals(r.code, code, `${args.join(" ")}: ${r.stderr}`);
      assertTrue(r.stderr.startsWith("berth: "), r.stderr);
      assertEquals(r.stderr.split("\n").length, 2, `one line: ${JSON.stringify(r.stderr)}`);
      assertEquals(r.stdout, "");
    }
    // Not even the roots were created.
    assertEquals(await listTree(join(roots.root, "..")), []);
  } finally {
    await cleanup(roots);
  }
});

Deno.test("a malformed bundle config is rejected before anything is created", async () => {
  const roots = await makeRoots();
  const bundle = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(bundle, "rootfs"));
    await Deno.writeTextFile(join(bundle, "config.json"), "{ nope");
    const r = await berth(roots, ["create", "--bundle", bundle, "b1"]);
    assertEquals(r.code, 2);
    assertTrue(r.stderr.startsWith("berth: invalid config"));
    await Deno.writeTextFile(
      join(bundle, "config.json"),
      JSON.stringify({ process: {}, root: {} }),
    );
    assertEquals((await berth(roots, ["create", "--bundle", bundle, "b1"])).code, 2);
    assertEquals(await listTree(join(roots.root, "..")), []);
  } finally {
    await Deno.remove(bundle, { recursive: true });
    await cleanup(roots);
  }
});

Deno.test("a runtime that fails at create leaves no container behind", async () => {
  const roots = await makeRoots();
  const rootfs = await busyboxRootfs();
  const dir = await Deno.makeTempDir();
  const fake = join(dir, "failing-runc");
  await Deno.writeTextFile(
    fake,
    `#!/bin/sh\nfor a; do case "$prev" in --log) log=$a;; esac; prev=$a; done\n` +
      `echo '{"level":"error","msg":"boom: cgroup trouble"}' >> "$log"\nexit 1\n`,
    { mode: 0o755 },
  );
  try {
    const r = await berth(roots, [
      "--runtime",
      fake,
      "create",
      "--rootfs",
      rootfs,
      "f1",
      "--",
      "true",
    ]);
    assertEquals(r.code, 1);
    assertEquals(r.stderr, `berth: create "f1": runtime: boom: cgroup trouble\n`);
    assertEquals(await listTree(join(roots.root, "ns/default/containers")), []);
    assertEquals(await listTree(join(roots.root, "ns/default/locks")), []);
    assertEquals(await listTree(join(roots.dataRoot, "ns/default")), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await cleanup(roots);
  }
});

Deno.test("--help lists every command and every flag; COMMAND --help shows defaults and examples", async () => {
  const roots = await makeRoots();
  const top = await berthOk(roots, ["--help"]);
  for (const c of (await loadCommands()).filter((c) => !c.hidden)) {
    assertTrue(top.includes(`  ${c.name} `), c.name);
    const help = await berthOk(roots, [c.name, "--help"]);
    assertTrue(help.startsWith(`Usage: berth [GLOBAL OPTIONS] ${c.usage}`), help);
    for (const o of c.options) assertTrue(help.includes(`--${o.name}`), `${c.name} --${o.name}`);
    if (c.examples.length > 0) assertTrue(help.includes("Examples:"));
  }
  for (
    const g of [
      "--root",
      "--data-root",
      "--namespace",
      "--runtime",
      "--network-dir",
      "--debug",
      "BERTH_ROOT",
      "BERTH_NETWORK_DIR",
    ]
  ) {
    assertTrue(top.includes(g), g);
  }
  assertTrue((await berthOk(roots, ["list", "--help"])).includes("(default: table)"));
  assertEquals((await berth(roots, [])).code, 2);
  await cleanup(roots);
});

Deno.test("spec prints the config create --rootfs starts from; version names all three", async () => {
  const roots = await makeRoots();
  const spec = JSON.parse(await berthOk(roots, ["spec"]));
  assertEquals(spec.process.terminal, false);
  assertEquals(spec.root.path, "rootfs");
  const v = await berthOk(roots, ["version"]);
  assertTrue(/^berth \d+\.\d+\.\d+\ndeno 2\./.test(v), v);
  assertTrue(/runtime \/\S*runc: runc version/.test(v), v);
  await cleanup(roots);
});

/** True when something listens on 127.0.0.1:9229. */
function inspectorListening(): boolean {
  const text = Deno.readTextFileSync("/proc/net/tcp");
  // local_address 0100007F:240D is 127.0.0.1:9229; state 0A is LISTEN.
  const local = `0100007F:${(9229).toString(16).toUpperCase().padStart(4, "0")}`;
  return text.split("\n").some((l) => {
    const f = l.trim().split(/\s+/);
    return f[1] === local && f[3] === "0A";
  });
}

Deno.test("SIGUSR1 cannot open a V8 inspector in any berth process", async () => {
  await withRoots(async (roots, rootfs) => {
    assertEquals(inspectorListening(), false);
    await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "u1", "--", "sleep", "100"]);
    const [monitor] = await monitorPids(roots);
    // A long-lived CLI process as well.
    const [exe, ...pre] = berthArgv();
    const waiter = new Deno.Command(exe!, {
      args: [...pre, "wait", "u1"],
      env: roots.env,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // Deno arms its SIGUSR1 handler 500 ms after start.
    await new Promise((r) => setTimeout(r, 1200));
    for (const pid of [monitor!, waiter.pid]) {
      Deno.kill(pid, "SIGUSR1");
      await new Promise((r) => setTimeout(r, 300));
      assertEquals(inspectorListening(), false, `pid ${pid} opened an inspector`);
    }
    // Both are still alive and working.
    await berthOk(roots, ["kill", "u1", "KILL"]);
    const out = await waiter.output();
    assertEquals(new TextDecoder().decode(out.stdout).trim(), "137");
    await eventually(async () => (await monitorPids(roots)).length === 0, 5000, "monitor exit");
  });
});

Deno.test("main() disarms SIGUSR1 once a process runs past the guard delay, and only then", async () => {
  let disarmed = 0;
  const libc: Libc = {
    ...realLibc,
    disarmInspectorSignal: () => void disarmed++,
  } as Libc;
  const io = { out: () => {}, err: () => {} };
  // A quick command is done long before Deno arms its inspector (500 ms). Its command module
  // is loaded once first (compiling it can take longer than the delay on a loaded host); a
  // run that still took longer than the delay (descheduled) may be disarmed, at most once.
  assertEquals(await main(["version"], { libc, io }), 0);
  await new Promise((r) => setTimeout(r, INSPECTOR_GUARD_DELAY_MS + 50));
  disarmed = 0;
  const t0 = performance.now();
  assertEquals(await main(["version"], { libc, io }), 0);
  const took = performance.now() - t0;
  await new Promise((r) => setTimeout(r, INSPECTOR_GUARD_DELAY_MS + 50));
  if (took < INSPECTOR_GUARD_DELAY_MS) assertEquals(disarmed, 0, `took ${took} ms`);
  else assertTrue(disarmed <= 1, `took ${took} ms, disarmed ${disarmed} times`);
  disarmed = 0;
  // A slow one (a state store that takes 250 ms to answer) is disarmed.
  const slowStore = {
    exists: async () => {
      await new Promise((r) => setTimeout(r, INSPECTOR_GUARD_DELAY_MS + 150));
      return false;
    },
    ids: () => Promise.resolve([]),
  } as unknown as StateStore;
  assertEquals(await main(["state", "x"], { libc, io, store: slowStore }), 3);
  assertEquals(disarmed, 1);
});

/** True when `item` (a path, or a tool name on $PATH) exists on this host. */
function onHost(item: string): boolean {
  const dirs = item.includes("/") ? [""] : (Deno.env.get("PATH") ?? "").split(":");
  return dirs.some((d) => {
    try {
      return Deno.statSync(d === "" ? item : join(d, item)).isFile;
    } catch {
      return false;
    }
  });
}

Deno.test("doctor checks the host, runs a throwaway container, and fails without a runtime", async () => {
  const roots = await makeRoots();
  try {
    const ok = await berth(roots, ["doctor"]);
    assertEquals(ok.code, 0, ok.stdout + ok.stderr);
    const lines = ok.stdout.trim().split("\n");
    const names = lines.map((l) => l.split(/\s+/)[1]);
    for (
      const n of [
        "user",
        "runtime",
        "cgroups",
        "freezer",
        "overlay",
        "root",
        "data-root",
        "criu",
        "networks",
        "container",
      ]
    ) {
      assertTrue(names.includes(n), `${n} in ${ok.stdout}`);
    }
    for (const l of lines) assertTrue(/^(ok|warn|fail) /.test(l), l);
    assertTrue(ok.stdout.includes("a throwaway container ran"));
    // "ok networks" where the network tests run (the plugins, iptables and ip are there);
    // elsewhere doctor may warn, and then only about what this host really lacks.
    if (hasNetworking()) {
      assertTrue(/^ok\s+networks/m.test(ok.stdout), ok.stdout);
    } else {
      const warn = /^warn\s+networks\s.*?missing (.*?)(?: \(hint:.*)?$/m.exec(ok.stdout);
      assertTrue(warn !== null || /^ok\s+networks/m.test(ok.stdout), ok.stdout);
      for (const item of warn?.[1]?.split(", ") ?? []) {
        assertTrue(!onHost(item), `doctor says ${item} is missing: ${ok.stdout}`);
      }
    }
    // Without the plugins: a warning that names --network none.
    const noCni = await berth(roots, ["doctor"], { BERTH_CNI_PATH: "/nonexistent" });
    assertTrue(/^warn\s+networks.*--network none/m.test(noCni.stdout), noCni.stdout);
    // Nothing was left in the roots by the probe (it uses its own).
    assertEquals(await listTree(join(roots.root, "..")), []);
    const bad = await berth(roots, ["--runtime", "/nonexistent/runc", "doctor"]);
    assertEquals(bad.code, 1);
    assertTrue(/^fail\s+runtime/m.test(bad.stdout), bad.stdout);
    // An unsafe root is a failure too.
    await Deno.mkdir(roots.root, { mode: 0o777 });
    await Deno.chmod(roots.root, 0o777);
    const unsafe = await berth(roots, ["doctor"]);
    assertEquals(unsafe.code, 1);
    assertTrue(/^fail\s+root/m.test(unsafe.stdout), unsafe.stdout);
  } finally {
    await cleanup(roots);
  }
});
