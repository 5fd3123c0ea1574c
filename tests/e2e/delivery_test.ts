// Delivery: restart policies, systemd units, shell completion, the installer.
import { join } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { assertEquals, assertTrue } from "../assert.ts";
import { createContext } from "../../lib/container/context.ts";
import { parseGlobals } from "../../lib/container/globals.ts";
import { waitExit } from "../../lib/ops/wait.ts";
import {
  berth,
  berthArgv,
  berthOk,
  busyboxRootfs,
  cleanup,
  eventsOf,
  eventually,
  listTree,
  makeRoots,
  monitorPids,
  stateOf,
  withRoots,
} from "../helpers.ts";

/** True when `program` can be run. */
async function hasCommand(program: string): Promise<boolean> {
  try {
    await new Deno.Command(program, { args: ["--version"], stdout: "null", stderr: "null" })
      .output();
    return true;
  } catch {
    return false;
  }
}

const INSTALL = fromFileUrl(new URL("../../scripts/install.sh", import.meta.url));

Deno.test("--restart on-failure restarts with back-off and stops after a success", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, [
      "run",
      "-d",
      "--restart",
      "on-failure",
      "--rootfs",
      rootfs,
      "rf",
      "--",
      "sh",
      "-c",
      "n=$(cat /n 2>/dev/null || echo 0); n=$((n+1)); echo $n > /n; [ $n -ge 4 ] && exit 0; exit 3",
    ]);
    await eventually(
      async () => {
        const s = await stateOf(roots, "rf");
        return s.status === "stopped" && s.exitCode === 0;
      },
      15_000,
      "the fourth run to succeed",
    );
    const starts = (await eventsOf(roots, "rf")).filter((e) => e.type === "start");
    assertEquals(starts.map((e) => e.restart ?? 0), [0, 1, 2, 3]);
    // Back-off: 100, 200, 400 ms between an exit and the next start.
    const exits = (await eventsOf(roots, "rf")).filter((e) => e.type === "exit");
    for (let i = 1; i < starts.length; i++) {
      const gap = Date.parse(starts[i]!.time) - Date.parse(exits[i - 1]!.time);
      assertTrue(gap >= 100 * 2 ** (i - 1), `gap ${i}: ${gap} ms`);
    }
    await new Promise((r) => setTimeout(r, 600));
    assertEquals((await stateOf(roots, "rf")).status, "stopped", "not restarted after success");
  });
});

Deno.test("a wait for an init that a restart policy has replaced answers that init's exit code", async () => {
  await withRoots(async (roots, rootfs) => {
    // Fails once (exit 7), then runs on.
    await berthOk(roots, [
      "run",
      "-d",
      "--restart",
      "on-failure",
      "--rootfs",
      rootfs,
      "rw",
      "--",
      "sh",
      "-c",
      "[ -e /once ] && exec sleep 1000; touch /once; sleep 0.3; exit 7",
    ]);
    const first = await stateOf(roots, "rw");
    await eventually(
      async () => {
        const s = await stateOf(roots, "rw");
        return s.status === "running" && s.pid !== first.pid;
      },
      15_000,
      "restarted",
    );
    // As attach does when its wait reaches the monitor only after the restart.
    const { globals } = parseGlobals(
      ["--root", roots.root, "--data-root", roots.dataRoot, "--network-dir", roots.networkDir],
      () => undefined,
    );
    const ctx = createContext(globals);
    const known = { pid: first.pid as number, startTime: first.pidStartTime as number };
    assertEquals(await within(10_000, waitExit(ctx, "default", "rw", known)), {
      exitCode: 7,
      removed: false,
    });
    // Without a known init, a wait is for the container: it still runs.
    const plain = waitExit(ctx, "default", "rw");
    assertEquals(await within(1000, plain), null);
    await berthOk(roots, ["delete", "-f", "rw"]);
    assertEquals((await plain).exitCode, 137);
  });
});

/** What `p` resolves to within `ms`, else null. */
async function within<T>(ms: number, p: Promise<T>): Promise<T | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<null>((r) => (timer = setTimeout(() => r(null), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const FLAKY = fromFileUrl(new URL("../fixtures/flaky_runtime.sh", import.meta.url));

Deno.test("--restart always keeps trying after a failed restart, with back-off, and records why", async () => {
  await withRoots(async (roots, rootfs) => {
    roots.env.BERTH_RUNTIME = FLAKY;
    await berthOk(roots, [
      "run",
      "-d",
      "--restart",
      "always",
      "--rootfs",
      rootfs,
      "rf2",
      "--",
      "sh",
      "-c",
      "sleep 0.5",
    ]);
    // The next two launches fail, as a runtime that cannot start it would.
    await Deno.writeTextFile(join(roots.root, "ns", "default", "flaky-fails"), "2");
    let sawError = false;
    await eventually(
      async () => {
        const [c] = JSON.parse(await berthOk(roots, ["inspect", "rf2"]));
        if (typeof c.Berth.config.restart.lastError === "string") sawError = true;
        return (await eventsOf(roots, "rf2")).some((e) => e.type === "start" && e.restart === 3);
      },
      20_000,
      "the third restart to succeed after two failures",
    );
    const events = await eventsOf(roots, "rf2");
    const failed = events.filter((e) => e.type === "restart_failed");
    assertEquals(failed.map((e) => e.restart), [1, 2]);
    for (const e of failed) {
      assertTrue(String(e.error).includes("injected launch failure"), String(e.error));
    }
    // Back-off between failures grows: 200 ms after the first, 400 after the second.
    const t = (e: { time: string }) => Date.parse(e.time);
    const third = events.find((e) => e.type === "start" && e.restart === 3)!;
    assertTrue(t(failed[1]!) - t(failed[0]!) >= 200, "second try after >= 200 ms");
    assertTrue(t(third) - t(failed[1]!) >= 400, "third try after >= 400 ms");
    assertTrue(sawError, "inspect showed the failure while the next try was pending");
    const [c] = JSON.parse(await berthOk(roots, ["inspect", "rf2"]));
    assertEquals(
      c.Berth.config.restart.lastError,
      undefined,
      "a success clears the recorded failure",
    );
    assertEquals(c.Berth.config.restart.count, 3);
    assertEquals([c.RestartCount, c.HostConfig.RestartPolicy.Name], [3, "always"]);
    await berthOk(roots, ["delete", "-f", "rf2"]);
  });
});

Deno.test("--restart always restarts after success; kill or delete ends it", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, [
      "run",
      "-d",
      "--restart",
      "always",
      "--rootfs",
      rootfs,
      "ra",
      "--",
      "true",
    ]);
    await eventually(
      async () => (await eventsOf(roots, "ra")).filter((e) => e.type === "start").length >= 3,
      10_000,
      "restarts",
    );
    await berthOk(roots, ["delete", "-f", "ra"]);
    assertEquals((await berth(roots, ["state", "ra"])).code, 3);
    await eventually(async () => (await monitorPids(roots)).length === 0, 15_000, "monitor exit");
    // A container stopped with kill stays stopped.
    await berthOk(roots, [
      "run",
      "-d",
      "--restart",
      "always",
      "--rootfs",
      rootfs,
      "rk",
      "--",
      "sleep",
      "100",
    ]);
    await berthOk(roots, ["kill", "rk", "KILL"]);
    assertEquals((await berthOk(roots, ["wait", "rk"])).trim(), "137");
    await new Promise((r) => setTimeout(r, 500));
    assertEquals((await stateOf(roots, "rk")).status, "stopped");
    // --restart needs -d, and a valid policy.
    assertEquals(
      (await berth(roots, ["run", "--restart", "always", "--rootfs", rootfs, "x", "--", "true"]))
        .code,
      2,
    );
    assertEquals(
      (await berth(roots, [
        "run",
        "-d",
        "--restart",
        "sometimes",
        "--rootfs",
        rootfs,
        "x",
        "--",
        "true",
      ])).code,
      2,
    );
  });
});

Deno.test("generate systemd prints a unit that verifies and names the right commands", async () => {
  const roots = await makeRoots();
  const rootfs = await busyboxRootfs();
  const dir = await Deno.makeTempDir();
  try {
    await berthOk(roots, [
      "create",
      "--rootfs",
      rootfs,
      "-e",
      "MSG=100% $HOME",
      "--cwd",
      "/tmp",
      "web1",
      "--",
      "sh",
      "-c",
      'echo "$MSG"',
    ]);
    const unit = await berthOk(roots, ["generate", "systemd", "--berth", "/usr/bin/true", "web1"]);
    assertTrue(
      unit.includes(
        `ExecStart=/usr/bin/true run --rm --rootfs ${rootfs} --env "MSG=100%% $$HOME" --cwd /tmp web1 -- sh -c "echo \\"$$MSG\\""`,
      ),
      unit,
    );
    assertTrue(unit.includes("ExecStop=/usr/bin/true kill web1 TERM"));
    assertTrue(unit.includes("ExecStopPost=-/usr/bin/true delete -f web1"));
    assertTrue(unit.includes("Restart=on-failure"));
    assertTrue(unit.includes(`Environment=BERTH_ROOT=${roots.root}`));
    assertTrue(unit.includes("WantedBy=multi-user.target"));
    const analyze = await hasCommand("systemd-analyze");
    if (!analyze) {
      console.log("skipping systemd-analyze verify: systemd-analyze is not installed");
    } else {
      const file = join(dir, "berth-web1.service");
      await Deno.writeTextFile(file, unit);
      const v = await new Deno.Command("systemd-analyze", {
        args: ["verify", file],
        stderr: "piped",
      }).output();
      assertEquals(v.code, 0, new TextDecoder().decode(v.stderr));
    }
    assertEquals((await berth(roots, ["generate", "systemd", "nope"])).code, 3);
    assertEquals((await berth(roots, ["generate", "upstart", "web1"])).code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await cleanup(roots);
  }
});

Deno.test("the bash completion loads cleanly and completes commands, flags and existing IDs", async () => {
  const roots = await makeRoots();
  const rootfs = await busyboxRootfs();
  const dir = await Deno.makeTempDir();
  try {
    await berthOk(roots, ["create", "--rootfs", rootfs, "web1", "--", "true"]);
    const script = join(dir, "berth.bash");
    await Deno.writeTextFile(script, await berthOk(roots, ["completion", "bash"]));
    const wrapper = join(dir, "berth");
    await Deno.writeTextFile(
      wrapper,
      `#!/bin/sh\nexec ${berthArgv().map((a) => `'${a}'`).join(" ")} "$@"\n`,
      { mode: 0o755 },
    );
    const complete = async (...words: string[]) => {
      const r = await new Deno.Command("bash", {
        args: [
          "-c",
          `set -u; source '${script}' || exit 9; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _berth; printf '%s\\n' "\${COMPREPLY[@]}"`,
          "bash",
          wrapper,
          ...words,
        ],
        env: roots.env,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals(r.code, 0, new TextDecoder().decode(r.stderr));
      assertEquals(new TextDecoder().decode(r.stderr), "");
      return new TextDecoder().decode(r.stdout).trim().split("\n").filter((l) => l);
    };
    assertEquals(await complete("state", "we"), ["web1"]);
    assertEquals(await complete("delete", "-f", ""), ["web1"]);
    assertEquals(await complete("paus"), ["pause"]);
    assertEquals(await complete("list", "--form"), ["--format"]);
    assertEquals(await complete("--root", roots.root, "kill", "w"), ["web1"]);
    assertEquals(await complete("run", "x", "--", "sh"), []);
    await berthOk(roots, ["network", "create", "--subnet", "10.89.250.0/24", "backnet"]);
    assertEquals(await complete("run", "--network", ""), ["none", "host", "bridge", "backnet"]);
    for (const shell of ["zsh", "fish"]) {
      const text = await berthOk(roots, ["completion", shell]);
      assertTrue(text.includes("berth"), shell);
      const has = await hasCommand(shell);
      if (!has) {
        console.log(`skipping the ${shell} syntax check: ${shell} is not installed`);
        continue;
      }
      const f = join(dir, `berth.${shell}`);
      await Deno.writeTextFile(f, text);
      const r = await new Deno.Command(shell, { args: ["-n", f] }).output();
      assertEquals(r.code, 0, shell);
    }
    assertEquals((await berth(roots, ["completion", "tcsh"])).code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await cleanup(roots);
  }
});

Deno.test("install, run, install again (no change), refuse and then uninstall (nothing left)", async (t) => {
  const roots = await makeRoots();
  const rootfs = await busyboxRootfs();
  const base = join(roots.root, "..");
  const prefix = join(base, "bin");
  const stateDir = join(base, "install-state");
  const args = [
    "--from-source",
    "--prefix",
    prefix,
    "--root",
    roots.root,
    "--data-root",
    roots.dataRoot,
    "--state-dir",
    stateDir,
  ];
  const install = (extra: string[]) =>
    new Deno.Command("bash", { args: [INSTALL, ...extra], stdout: "piped", stderr: "piped" })
      .output()
      .then((o) => ({
        code: o.code,
        out: new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr),
      }));
  const installed = join(prefix, "berth");
  const run = (a: string[]) =>
    new Deno.Command(installed, { args: a, env: roots.env, stdout: "piped", stderr: "piped" })
      .output();
  try {
    await t.step("install: the command, the roots (0711), doctor", async () => {
      const r = await install(args);
      assertEquals(r.code, 0, r.out);
      assertTrue(r.out.includes(`installed ${installed}`));
      assertEquals((await Deno.stat(roots.root)).mode! & 0o777, 0o711);
      assertEquals((await Deno.stat(roots.dataRoot)).mode! & 0o777, 0o711);
      assertTrue(r.out.includes("a throwaway container ran"), r.out);
    });
    await t.step("the installed berth runs a container", async () => {
      const r = await run(["run", "--rm", "--rootfs", rootfs, "inst", "--", "echo", "installed"]);
      assertEquals([r.code, new TextDecoder().decode(r.stdout)], [0, "installed\n"]);
    });
    await t.step("a second install changes nothing and says so", async () => {
      const before = (await Deno.stat(installed)).mtime?.getTime();
      const r = await install([...args, "--no-doctor"]);
      assertEquals(r.code, 0, r.out);
      assertTrue(r.out.includes("nothing to do"), r.out);
      assertEquals((await Deno.stat(installed)).mtime?.getTime(), before);
    });
    await t.step("uninstall is refused while a root holds containers", async () => {
      await run(["create", "--rootfs", rootfs, "keep", "--", "true"]);
      const r = await install(["--uninstall", "--prefix", prefix, "--state-dir", stateDir]);
      assertEquals(r.code, 4, r.out);
      assertTrue(r.out.includes("keep"), r.out);
      await Deno.stat(installed);
    });
    await t.step("uninstall removes exactly what was installed", async () => {
      assertEquals((await run(["delete", "keep"])).code, 0);
      const r = await install(["--uninstall", "--prefix", prefix, "--state-dir", stateDir]);
      assertEquals(r.code, 0, r.out);
      assertEquals(await listTree(prefix), []);
      assertEquals(await listTree(base).then((l) => l.filter((p) => !p.startsWith("bin"))), []);
    });
    await t.step("bad usage exits 2", async () => {
      assertEquals((await install([])).code, 2);
      assertEquals((await install(["--bogus"])).code, 2);
      assertEquals((await install(["--from-source", "--prefix", "relative"])).code, 2);
    });
  } finally {
    await cleanup(roots);
  }
});
