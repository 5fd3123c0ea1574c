// Security findings of issue 16, each against the real runc, as a hostile
// local user (setpriv to uid 65534), a hostile container, odd umasks and
// forged files under the roots.
import { dirname, join } from "node:path";
import { assertEquals, assertTrue } from "../assert.ts";
import {
  berth,
  berthArgv,
  berthOk,
  eventually,
  leftovers,
  monitorPids,
  mountsUnder,
  type Roots,
  stateOf,
  withRoots,
} from "../helpers.ts";

const decoder = new TextDecoder();

/** Runs `sh -c script` as uid/gid 65534 with no groups; its output. */
async function asNobody(script: string): Promise<{ code: number; out: string }> {
  const r = await new Deno.Command("setpriv", {
    args: ["--reuid=65534", "--regid=65534", "--clear-groups", "--", "sh", "-c", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: r.code, out: decoder.decode(r.stdout) + decoder.decode(r.stderr) };
}

/** Runs berth under `umask` (set by a shell in front of it). */
async function berthUmask(
  roots: Roots,
  umask: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const argv = [...berthArgv(), ...args];
  const r = await new Deno.Command("sh", {
    args: ["-c", `umask ${umask}; exec "$@"`, "sh", ...argv],
    env: roots.env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: r.code, stdout: decoder.decode(r.stdout), stderr: decoder.decode(r.stderr) };
}

/** Makes the roots' parent enterable by others, as /run and /var/lib are. */
async function openParent(roots: Roots): Promise<void> {
  await Deno.chmod(dirname(roots.root), 0o755);
}

const hasSetpriv = (() => {
  try {
    return Deno.statSync("/usr/bin/setpriv").isFile;
  } catch {
    return false;
  }
})();
if (!hasSetpriv) console.log("security_test: setpriv is missing; the unprivileged tests skip");

Deno.test({
  name: "1: under umask 000, an unprivileged user reaches nothing under either root",
  ignore: !hasSetpriv,
  fn: async () => {
    await withRoots(async (roots, rootfs) => {
      await openParent(roots);
      const r = await berthUmask(roots, "000", [
        "run",
        "-d",
        "--rootfs",
        rootfs,
        "c1",
        "--",
        "sh",
        "-c",
        "cp /bin/busybox /evil; chmod 4755 /evil; chmod 0666 /proc/self/fd/1; echo secret; sleep 100",
      ]);
      assertEquals(r.code, 0, r.stderr);
      const work = join(roots.dataRoot, "ns/default/c1");
      await eventually(
        async () => {
          try {
            return (await Deno.readTextFile(join(work, "stdout.log"))).includes("secret");
          } catch {
            return false;
          }
        },
        10_000,
        "the container's output",
      );
      const bundle = join(roots.root, "ns/default/containers/c1");
      const targets = [
        join(roots.root, "monitor.sock"),
        join(roots.root, "ns"),
        bundle,
        join(bundle, "init.pid"),
        join(bundle, "config.json"),
        join(bundle, "rootfs/evil"),
        work,
        join(work, "stdout.log"),
        join(work, "stderr.log"),
        join(work, "upper"),
        join(work, "upper/evil"),
        join(roots.dataRoot, "monitor.log"),
      ];
      // Each probe prints REACHED when any access (stat, read, list, write,
      // exec) works for uid 65534.
      const script = targets.map((p) =>
        `{ stat '${p}' || cat '${p}' || ls '${p}' || '${p}' true; } >/dev/null 2>&1 && echo "REACHED ${p}"`
      ).join("\n") + "\nexit 0";
      const probe = await asNobody(script);
      assertEquals(probe.out.trim(), "", "an unprivileged user reached:\n" + probe.out);
      // The walk from the top finds nothing either.
      const walk = await asNobody(`find '${roots.root}' '${roots.dataRoot}' 2>/dev/null; exit 0`);
      assertEquals(walk.out.trim().split("\n").sort(), [roots.dataRoot, roots.root].sort());
      // And the modes are private whatever the umask was.
      for (const dir of [roots.root, roots.dataRoot, bundle, work]) {
        assertEquals((await Deno.stat(dir)).mode! & 0o777, 0o700, dir);
      }
      assertEquals((await Deno.stat(join(work, "stderr.log"))).mode! & 0o777, 0o600);
    });
  },
});

Deno.test({
  name: "3: init.pid is out of reach, and the monitor refuses a pid that is not the container's",
  ignore: !hasSetpriv,
  fn: async () => {
    await withRoots(async (roots, rootfs) => {
      await openParent(roots);
      const r = await berthUmask(roots, "000", [
        "run",
        "-d",
        "--rootfs",
        rootfs,
        "c1",
        "--",
        "sleep",
        "100",
      ]);
      assertEquals(r.code, 0, r.stderr);
      const pidFile = join(roots.root, "ns/default/containers/c1/init.pid");
      const w = await asNobody(`echo 1 > '${pidFile}' && echo WROTE`);
      assertTrue(!w.out.includes("WROTE"), "uid 65534 wrote init.pid");
      assertTrue(
        ((await Deno.stat(pidFile)).mode! & 0o022) === 0,
        "init.pid is writable by others",
      );
      // A victim process that is no container's: the monitor must not
      // adopt it (wait) and so never SIGKILL it (kill).
      const victim = new Deno.Command("sleep", { args: ["100"] }).spawn();
      try {
        const send = async (msg: unknown) => {
          const conn = await Deno.connect({
            transport: "unix",
            path: join(roots.root, "monitor.sock"),
          });
          await conn.write(new TextEncoder().encode(JSON.stringify(msg) + "\n"));
          return conn;
        };
        const target = { ns: "default", id: "ghost", pid: victim.pid, startTime: null };
        const waitConn = await send({ op: "wait", ...target });
        const killConn = await send({ op: "kill", ...target });
        const buf = new Uint8Array(4096);
        const n = await killConn.read(buf);
        killConn.close();
        const reply = JSON.parse(decoder.decode(buf.subarray(0, n ?? 0)).trim() || "null");
        assertEquals(reply?.ok, false, `kill of a foreign pid: ${JSON.stringify(reply)}`);
        const m = await waitConn.read(buf);
        waitConn.close();
        const waited = JSON.parse(decoder.decode(buf.subarray(0, m ?? 0)).trim() || "null");
        assertEquals(waited?.watched, false);
        // Still alive: not killed, not reaped by anyone else.
        await new Promise((res) => setTimeout(res, 300));
        assertEquals(
          (await Deno.readTextFile(`/proc/${victim.pid}/stat`)).split(" ")[2] !== "Z",
          true,
        );
      } finally {
        try {
          victim.kill("SIGKILL");
        } catch { /* gone */ }
        await victim.status;
      }
    });
  },
});

/** A config whose process runs as uid/gid 65534. */
async function nobodyConfig(roots: Roots): Promise<string> {
  const spec = JSON.parse(await berthOk(roots, ["spec"]));
  spec.process.user = { uid: 65534, gid: 65534 };
  const file = join(dirname(roots.root), "nobody.json");
  await Deno.writeTextFile(file, JSON.stringify(spec));
  return file;
}

Deno.test("3: the container's side does not inherit berth's umask (077)", async () => {
  await withRoots(async (roots, rootfs) => {
    const config = await nobodyConfig(roots);
    const r = await berthUmask(roots, "077", [
      "run",
      "--rm",
      "--rootfs",
      rootfs,
      "--config",
      config,
      "u1",
      "--",
      "sh",
      "-c",
      "echo hi > /tmp/f; ls -ld / | cut -c1-10; ls -l /tmp/f | cut -c1-10; id -u",
    ]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(r.stdout, "drwxr-xr-x\n-rw-r--r--\n65534\n");
  });
});

Deno.test("6: the default seccomp profile, pids limit and masked powercap", async (t) => {
  await withRoots(async (roots, rootfs) => {
    const run = (extra: string[], script: string) =>
      berth(roots, ["run", "--rm", "--rootfs", rootfs, ...extra, "s1", "--", "sh", "-c", script]);
    await t.step("default: namespaces, mounts and ptrace are refused (EPERM)", async () => {
      const r = await run(
        [],
        "grep '^Seccomp:' /proc/self/status; unshare -U true 2>/dev/null; echo unshare=$?; " +
          "mount -t tmpfs t /mnt 2>/dev/null; echo mount=$?; " +
          "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max",
      );
      assertEquals(r.code, 0, r.stderr);
      assertEquals(r.stdout, "Seccomp:\t2\nunshare=1\nmount=1\n2048\n");
    });
    await t.step("--security-opt seccomp=unconfined: no filter", async () => {
      const r = await run(
        ["--security-opt", "seccomp=unconfined"],
        "grep '^Seccomp:' /proc/self/status; unshare -U true; echo unshare=$?",
      );
      assertEquals(r.stdout, "Seccomp:\t0\nunshare=0\n", r.stderr);
    });
    await t.step("--security-opt seccomp=FILE replaces the profile", async () => {
      const file = join(dirname(roots.root), "profile.json");
      await Deno.writeTextFile(
        file,
        JSON.stringify({
          defaultAction: "SCMP_ACT_ALLOW",
          syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 1 }],
        }),
      );
      const r = await run(
        ["--security-opt", `seccomp=${file}`],
        "mkdir /tmp/x 2>/dev/null; echo mkdir=$?; unshare -U true; echo unshare=$?",
      );
      assertEquals(r.stdout, "mkdir=1\nunshare=0\n", r.stderr);
    });
    await t.step("--privileged: no filter, the host's capabilities, nothing masked", async () => {
      const r = await run(
        ["--privileged"],
        "grep '^Seccomp:' /proc/self/status; unshare -n true; echo unshare=$?; " +
          "grep -c . /proc/timer_list >/dev/null && echo unmasked",
      );
      assertEquals(r.stdout, "Seccomp:\t0\nunshare=0\nunmasked\n", r.stderr);
    });
    await t.step("bad --security-opt values: usage error, nothing on disk", async () => {
      for (
        const [opt, msg] of [
          ["apparmor=x", 'berth: --security-opt "apparmor=x" is not supported'],
          ["seccomp=/nonexistent.json", "berth: cannot read seccomp profile /nonexistent.json"],
        ]
      ) {
        const r = await run(["--security-opt", opt!], "true");
        assertEquals(r.code, 2);
        assertTrue(r.stderr.startsWith(msg!), r.stderr);
        assertEquals(await leftovers(roots), []);
      }
    });
  });
});

/** Makes a directory chain `depth` levels deep under `dir` (perl: fast). */
async function deepTree(dir: string, depth: number): Promise<void> {
  const r = await new Deno.Command("perl", {
    args: [
      "-e",
      `chdir $ARGV[0] or die; for (1..${depth}) { mkdir "d" or die; chdir "d" or die; } open(F, ">f") or die;`,
      dir,
    ],
  }).output();
  if (r.code !== 0) throw new Error(`perl: ${decoder.decode(r.stderr)}`);
}

Deno.test("7: a container 25,000 directories deep is deleted, and gc finishes a leftover one", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, ["create", "--rootfs", rootfs, "deep", "--", "true"]);
    await deepTree(join(roots.dataRoot, "ns/default/deep/upper"), 25_000);
    const r = await berth(roots, ["delete", "-f", "deep"]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(await leftovers(roots), []);
    // A leftover of an interrupted removal, as deep, goes with gc.
    const trash = join(roots.dataRoot, "ns/default/.trash-x-0000abcd");
    await Deno.mkdir(trash, { recursive: true });
    await deepTree(trash, 25_000);
    const g = await berth(roots, ["gc"]);
    assertEquals(g.code, 0, g.stderr);
    assertEquals(await leftovers(roots), []);
  });
});

Deno.test("8: roots owned by another user or writable by others are refused", async () => {
  await withRoots(async (roots) => {
    await Deno.mkdir(roots.root, { recursive: true });
    await Deno.chown(roots.root, 65534, 65534);
    let r = await berth(roots, ["list"]);
    assertEquals(r.code, 1);
    assertTrue(
      r.stderr.startsWith(`berth: refusing root ${roots.root}: it is owned by uid 65534`),
      r.stderr,
    );
    await Deno.chown(roots.root, 0, 0);
    await Deno.chmod(roots.root, 0o777);
    r = await berth(roots, ["list"]);
    assertEquals(r.code, 1);
    assertTrue(r.stderr.includes("others may write it"), r.stderr);
    // A root others may only enter is tightened, not refused.
    await Deno.chmod(roots.root, 0o711);
    await berthOk(roots, ["list"]);
    assertEquals((await Deno.stat(roots.root)).mode! & 0o777, 0o700);
  });
});

Deno.test("8: paths in a state file are not trusted: delete removes only the container's own", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, ["create", "--rootfs", rootfs, "c1", "--", "true"]);
    const victim = join(dirname(roots.root), "victim");
    await Deno.mkdir(victim);
    await Deno.writeTextFile(join(victim, "precious"), "x");
    const file = join(roots.root, "ns/default/containers/c1/state.json");
    const s = JSON.parse(await Deno.readTextFile(file));
    s.workDir = victim;
    s.bundle = victim;
    await Deno.writeTextFile(file, JSON.stringify(s));
    assertEquals((await stateOf(roots, "c1")).bundle, join(roots.root, "ns/default/containers/c1"));
    await berthOk(roots, ["delete", "-f", "c1"]);
    assertEquals(await Deno.readTextFile(join(victim, "precious")), "x");
    assertEquals(await leftovers(roots), []);
  });
});

Deno.test("9: gc unmounts only berth's own layout, never a mount an administrator made", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, ["create", "--rootfs", rootfs, "c1", "--", "true"]);
    const mine = [join(roots.dataRoot, "backups"), join(roots.root, "extra")];
    for (const m of mine) {
      await Deno.mkdir(m, { recursive: true });
      const r = await new Deno.Command("mount", { args: ["-t", "tmpfs", "tmpfs", m] }).output();
      assertEquals(r.code, 0);
      await Deno.writeTextFile(join(m, "keep"), "x");
    }
    try {
      const g = await berth(roots, ["gc"]);
      assertEquals(g.code, 0, g.stderr);
      assertEquals(g.stdout, "");
      for (const m of mine) {
        assertEquals(await mountsUnder(m), [m]);
        assertEquals(await Deno.readTextFile(join(m, "keep")), "x");
      }
      // A rootfs mount left by a container that is gone is still berth's to remove.
      await Deno.remove(join(roots.root, "ns/default/containers/c1/state.json"));
      const g2 = await berth(roots, ["gc"]);
      assertEquals(g2.code, 0, g2.stderr);
      assertEquals(await mountsUnder(join(roots.root, "ns")), []);
      for (const m of mine) assertEquals(await mountsUnder(m), [m]);
    } finally {
      for (const m of mine) await new Deno.Command("umount", { args: ["-l", m] }).output();
    }
  });
});

Deno.test("11: a FIFO state does not hang list; a directory lock file does not stop gc", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, ["create", "--rootfs", rootfs, "c1", "--", "true"]);
    await berthOk(roots, ["create", "--rootfs", rootfs, "c2", "--", "true"]);
    const state = join(roots.root, "ns/default/containers/c1/state.json");
    await Deno.remove(state);
    const mk = await new Deno.Command("mkfifo", { args: [state] }).output();
    assertEquals(mk.code, 0);
    const [exe, ...pre] = berthArgv();
    const child = new Deno.Command(exe!, {
      args: [...pre, "list", "-q"],
      env: roots.env,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    const out = await child.output();
    clearTimeout(timer);
    assertEquals(out.code, 0, "list hung on a FIFO state file");
    assertEquals(decoder.decode(out.stdout), "c2\n");
    // A lock file that is a directory (namespace a) and a leftover (namespace b).
    await Deno.mkdir(join(roots.root, "ns/a/locks/zz.lock"), { recursive: true });
    const trash = join(roots.root, "ns/b/containers/.trash-x-0000abcd");
    await Deno.mkdir(trash, { recursive: true });
    const g = await berth(roots, ["gc"]);
    assertEquals(g.code, 1);
    assertTrue(g.stderr.includes("cannot examine the lock file of a/zz"), g.stderr);
    assertTrue(g.stdout.includes(`removed the leftover ${trash}`), g.stdout);
    await berthOk(roots, ["delete", "-f", "c1"]);
  });
});

Deno.test("11: delete -f removes a container whose state is unreadable", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "c1", "--", "sleep", "100"]);
    await berthOk(roots, ["create", "--rootfs", rootfs, "c2", "--", "true"]);
    await Deno.writeTextFile(join(roots.root, "ns/default/containers/c1/state.json"), "{garbage");
    const fifo = join(roots.root, "ns/default/containers/c2/state.json");
    await Deno.remove(fifo);
    await new Deno.Command("mkfifo", { args: [fifo] }).output();
    assertEquals((await berth(roots, ["delete", "c1"])).code, 1);
    const r = await berth(roots, ["delete", "-f", "c1", "c2"]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(await leftovers(roots), []);
    assertEquals(await mountsUnder(join(roots.root, "ns")), []);
  });
});

Deno.test("12: an ID longer than 64 characters gets a 64-character hostname", async () => {
  await withRoots(async (roots, rootfs) => {
    const id = "a".repeat(60) + "-" + "b".repeat(15);
    const r = await berth(roots, ["run", "--rm", "--rootfs", rootfs, id, "--", "hostname"]);
    assertEquals(r.code, 0, r.stderr);
    const name = r.stdout.trim();
    assertEquals(name.length, 64);
    assertTrue(name.startsWith("a".repeat(55) + "-"), name);
  });
});

Deno.test("13: exec keeps config env keys named like Object.prototype members", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, [
      "run",
      "-d",
      "--rootfs",
      rootfs,
      "-e",
      "constructor=1",
      "-e",
      "toString=2",
      "c1",
      "--",
      "sleep",
      "100",
    ]);
    const r = await berth(roots, ["exec", "c1", "--", "env"]);
    assertEquals(r.code, 0, r.stderr);
    const env = r.stdout.split("\n");
    assertTrue(env.includes("constructor=1") && env.includes("toString=2"), r.stdout);
  });
});

Deno.test("10: a relative --runtime is resolved in the CLI; the monitor gets a clean environment", async () => {
  await withRoots(async (roots, rootfs) => {
    const dir = dirname(roots.root);
    const which = await new Deno.Command("sh", { args: ["-c", "command -v runc"] }).output();
    await Deno.symlink(decoder.decode(which.stdout).trim(), join(dir, "myrunc"));
    const [exe, ...pre] = berthArgv();
    const r = await new Deno.Command(exe!, {
      args: [
        ...pre,
        "--runtime",
        "./myrunc",
        "run",
        "-d",
        "--rootfs",
        rootfs,
        "c1",
        "--",
        "sleep",
        "100",
      ],
      cwd: dir,
      env: {
        ...roots.env,
        PATH: `${dir}/evil-bin:${Deno.env.get("PATH")}`,
        SECRET_TOKEN: "s3cret",
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(r.code, 0, decoder.decode(r.stderr));
    assertEquals((await stateOf(roots, "c1")).runtime, join(dir, "myrunc"));
    const [pid] = await monitorPids(roots);
    assertTrue(pid !== undefined, "no monitor");
    const env = (await Deno.readTextFile(`/proc/${pid}/environ`)).split("\0");
    assertTrue(!env.some((e) => e.startsWith("SECRET_TOKEN=")), "the monitor got the CLI's secret");
    assertEquals(
      env.find((e) => e.startsWith("PATH=")),
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    );
    // The monitor runs the runtime by its absolute path, from any directory.
    await berthOk(roots, ["delete", "-f", "c1"]);
  });
});

/** utime + stime of `pid` in clock ticks. */
async function cpuTicks(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]);
}

Deno.test("5: an exit recorded on a full disk is retried until saved; wait does not spin", async () => {
  await withRoots(async (roots, rootfs) => {
    await Deno.mkdir(roots.root, { recursive: true, mode: 0o700 });
    const m = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", roots.root],
    }).output();
    assertEquals(m.code, 0);
    await berthOk(roots, [
      "run",
      "-d",
      "--rootfs",
      rootfs,
      "c1",
      "--",
      "sh",
      "-c",
      "sleep 2; exit 7",
    ]);
    // Fill the root's filesystem: saving the exit fails with ENOSPC.
    const filler = join(roots.root, "filler");
    await new Deno.Command("dd", { args: ["if=/dev/zero", `of=${filler}`, "bs=64k"] }).output();
    const [exe, ...pre] = berthArgv();
    const waiter = new Deno.Command(exe!, {
      args: [...pre, "wait", "c1"],
      env: roots.env,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const log = join(roots.dataRoot, "monitor.log");
    await eventually(
      async () => {
        try {
          return /default\/c1.*No space left on device/.test(await Deno.readTextFile(log));
        } catch {
          return false;
        }
      },
      20_000,
      "a failed save of the exit",
    );
    // The state still says running; wait backs off instead of spinning.
    assertEquals((await stateOf(roots, "c1")).status, "running");
    const before = await cpuTicks(waiter.pid);
    await new Promise((r) => setTimeout(r, 2000));
    const used = (await cpuTicks(waiter.pid)) - before;
    assertTrue(used < 40, `wait used ${used} ticks of CPU in 2 s`);
    // Space again: the real code is saved, not a synthetic 255.
    await Deno.remove(filler);
    const out = await waiter.output();
    assertEquals(decoder.decode(out.stdout), "7\n", decoder.decode(out.stderr));
    const s = await stateOf(roots, "c1");
    assertEquals([s.status, s.exitCode], ["stopped", 7]);
  });
});

/** Sends one line as uid 65534 (perl, core modules); prints REPLY … or NOREPLY. */
function nobodyRequest(sock: string, line: string): Promise<{ code: number; out: string }> {
  const perl =
    `use IO::Socket::UNIX; $SIG{PIPE} = "IGNORE"; my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or ` +
    `do { print "NOCONNECT $!\\n"; exit 0 }; print $s $ARGV[1] . "\\n"; my $r = <$s>; ` +
    `print defined $r ? "REPLY $r" : "NOREPLY\\n";`;
  return asNobody(`exec perl -e '${perl}' '${sock}' '${line}'`);
}

Deno.test({
  name: "2: the monitor answers only root (SO_PEERCRED), and never runs a runtime from a request",
  ignore: !hasSetpriv,
  fn: async () => {
    await withRoots(async (roots, rootfs) => {
      await openParent(roots);
      await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "c1", "--", "sleep", "100"]);
      const sock = join(roots.root, "monitor.sock");
      assertEquals((await Deno.stat(sock)).mode! & 0o077, 0);
      // Open the way to the socket as a wrong umask or chmod once did: the
      // kernel lets uid 65534 connect, the monitor must still refuse it.
      await Deno.chmod(roots.root, 0o711);
      await Deno.chmod(sock, 0o777);
      const r = await nobodyRequest(sock, '{"op":"ping"}');
      assertTrue(!r.out.includes("REPLY {"), `uid 65534 got an answer: ${r.out}`);
      assertTrue(
        (await Deno.readTextFile(join(roots.dataRoot, "monitor.log"))).includes(
          "refused a connection from uid 65534",
        ),
      );
      await Deno.chmod(roots.root, 0o700);
      // Root's own request naming a runtime and paths: none of them is used.
      const dir = dirname(roots.root);
      const evil = join(dir, "evil.sh");
      await Deno.writeTextFile(evil, `#!/bin/sh\ntouch ${dir}/pwned\n`);
      await Deno.chmod(evil, 0o755);
      const conn = await Deno.connect({ transport: "unix", path: sock });
      await conn.write(
        new TextEncoder().encode(
          JSON.stringify({
            op: "delete",
            ns: "default",
            id: "ghost",
            runtime: evil,
            runtimeRoot: dir,
            logFile: join(dir, "log"),
          }) + "\n",
        ),
      );
      const buf = new Uint8Array(4096);
      await conn.read(buf);
      conn.close();
      await assertRejectsNotFound(join(dir, "pwned"));
      assertEquals((await stateOf(roots, "c1")).status, "running");
    });
  },
});

async function assertRejectsNotFound(path: string): Promise<void> {
  try {
    await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  throw new Error(`${path} exists`);
}

Deno.test("4: the monitor survives EMFILE, drops idle and excess connections", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "c1", "--", "sleep", "100"]);
    const [pid] = await monitorPids(roots);
    assertTrue(pid !== undefined, "no monitor");
    const lim = await new Deno.Command("prlimit", {
      args: [`--pid=${pid}`, "--nofile=64:4096"],
    }).output();
    assertEquals(lim.code, 0);
    const sock = join(roots.root, "monitor.sock");
    const conns: Deno.UnixConn[] = [];
    for (let i = 0; i < 100; i++) conns.push(await Deno.connect({ transport: "unix", path: sock }));
    try {
      // The monitor ran out of descriptors (accept fails with EMFILE; even
      // its log cannot be opened then).
      await eventually(
        () => [...Deno.readDirSync(`/proc/${pid}/fd`)].length >= 63,
        10_000,
        "the monitor's descriptor limit",
      );
      // Idle connections are closed by the monitor after its read deadline.
      const buf = new Uint8Array(16);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const ended = await Promise.race([
        conns[0]!.read(buf).catch(() => null),
        new Promise((r) => (timer = setTimeout(() => r("still open"), 15_000))),
      ]);
      clearTimeout(timer);
      assertEquals(ended, null, "an idle connection was kept open");
    } finally {
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed by the monitor */ }
      }
    }
    // Accept ran into EMFILE meanwhile; it must serve again.
    const r = await berth(roots, ["run", "-d", "--rootfs", rootfs, "c2", "--", "sleep", "100"]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals((await stateOf(roots, "c2")).status, "running");
    // Past the cap, a connection is closed at once (unserved), not held.
    await new Deno.Command("prlimit", { args: [`--pid=${pid}`, "--nofile=4096:4096"] }).output();
    const many: Deno.UnixConn[] = [];
    for (let i = 0; i < 300; i++) many.push(await Deno.connect({ transport: "unix", path: sock }));
    try {
      const timers: ReturnType<typeof setTimeout>[] = [];
      const closedSoon = await Promise.all(many.map((c) =>
        Promise.race([
          c.read(new Uint8Array(16)).then(() => true, () => true),
          new Promise<boolean>((res) => timers.push(setTimeout(() => res(false), 2_000))),
        ])
      ));
      for (const t of timers) clearTimeout(t);
      assertTrue(closedSoon.filter((x) => x).length >= 300 - 256, "no connection cap");
    } finally {
      for (const c of many) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    }
  });
});

Deno.test("4: with the monitor SIGSTOPped, wait and delete -f fail after their timeout", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "c1", "--", "sleep", "100"]);
    // A container with a terminal the monitor holds: attach asks the monitor too.
    await berthOk(roots, ["run", "-d", "-t", "--rootfs", rootfs, "t1", "--", "sleep", "100"]);
    const [pid] = await monitorPids(roots);
    assertTrue(pid !== undefined, "no monitor");
    Deno.kill(pid!, "SIGSTOP");
    try {
      const run = async (args: string[]) => {
        const [exe, ...pre] = berthArgv();
        const child = new Deno.Command(exe!, {
          args: [...pre, ...args],
          env: roots.env,
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
        const out = await child.output();
        clearTimeout(timer);
        return { code: out.code, stderr: decoder.decode(out.stderr) };
      };
      const started = Date.now();
      const [w, d, a] = await Promise.all([
        run(["wait", "c1"]),
        run(["delete", "-f", "c1"]),
        run(["attach", "t1"]),
      ]);
      assertEquals(a.code, 1, a.stderr);
      assertTrue(a.stderr.includes("the berth monitor did not answer within"), a.stderr);
      assertEquals(w.code, 1, w.stderr);
      assertTrue(w.stderr.includes("the berth monitor did not answer within"), w.stderr);
      assertEquals(d.code, 1, d.stderr);
      assertTrue(Date.now() - started < 50_000);
    } finally {
      Deno.kill(pid!, "SIGCONT");
    }
  });
});
