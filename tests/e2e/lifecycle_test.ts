// Lifecycle commands against the real runc.
import { join } from "node:path";
import { assertEquals, assertTrue } from "../assert.ts";
import {
  berth,
  berthOk,
  busyboxRootfs,
  cleanup,
  eventsOf,
  eventually,
  leftovers,
  listTree,
  makeRoots,
  mountsUnder,
  stateOf,
  withRoots,
} from "../helpers.ts";

const LOOP = "trap 'exit 7' TERM; while true; do sleep 0.05; done";

Deno.test("full lifecycle with the status after each step", async (t) => {
  await withRoots(async (roots, rootfs) => {
    await t.step("create: created, with a pid and labels", async () => {
      await berthOk(roots, [
        "create",
        "--rootfs",
        rootfs,
        "--label",
        "app=web",
        "web1",
        "--",
        "sh",
        "-c",
        LOOP,
      ]);
      const s = await stateOf(roots, "web1");
      assertEquals(s.status, "created");
      assertTrue(typeof s.pid === "number" && s.pid > 0);
      assertEquals(s.labels, { app: "web" });
      assertEquals(s.exitCode, null);
      assertEquals(s.startedAt, null);
      // The contract's keys in its order; the newer fields it lists may follow.
      const keys = Object.keys(s);
      assertEquals(keys.slice(0, 13), [
        "id",
        "namespace",
        "status",
        "pid",
        "bundle",
        "rootfs",
        "createdAt",
        "startedAt",
        "exitCode",
        "exitedAt",
        "runtime",
        "sandbox",
        "labels",
      ]);
      const newer = ["image", "health", "restartCount", "network"];
      assertEquals(keys.slice(13).filter((k) => !newer.includes(k)), []);
      assertEquals(s.network, null); // --network none (the tests' BERTH_NETWORK)
    });
    await t.step("start: running", async () => {
      await berthOk(roots, ["start", "web1"]);
      const s = await stateOf(roots, "web1");
      assertEquals(s.status, "running");
      assertTrue(typeof s.startedAt === "string");
    });
    await t.step("start again: wrong status (exit 5)", async () => {
      const r = await berth(roots, ["start", "web1"]);
      assertEquals(r.code, 5);
      assertEquals(r.stderr, `berth: cannot start "web1": container is running\n`);
    });
    await t.step("pause: paused; resume: running", async () => {
      await berthOk(roots, ["pause", "web1"]);
      assertEquals((await stateOf(roots, "web1")).status, "paused");
      assertEquals((await berth(roots, ["pause", "web1"])).code, 5);
      await berthOk(roots, ["resume", "web1"]);
      assertEquals((await stateOf(roots, "web1")).status, "running");
    });
    await t.step("delete without -f is refused while running (exit 5)", async () => {
      const r = await berth(roots, ["delete", "web1"]);
      assertEquals(r.code, 5);
      assertTrue(r.stderr.includes("use -f"));
    });
    await t.step("kill TERM: stopped with the process's own exit code", async () => {
      await berthOk(roots, ["kill", "web1", "TERM"]);
      assertEquals((await berthOk(roots, ["wait", "web1"])).trim(), "7");
      const s = await stateOf(roots, "web1");
      assertEquals([s.status, s.exitCode, s.pid], ["stopped", 7, null]);
      assertTrue(typeof s.exitedAt === "string");
      assertEquals((await berth(roots, ["pause", "web1"])).code, 5);
    });
    await t.step("delete: gone, nothing left under either root or in the mount table", async () => {
      const bundle = String((await stateOf(roots, "web1")).bundle);
      await berthOk(roots, ["delete", "web1"]);
      assertEquals((await berth(roots, ["state", "web1"])).code, 3);
      assertEquals(await mountsUnder(bundle), []);
      assertEquals(await leftovers(roots), []);
    });
  });
});

Deno.test("run -d creates and starts in one runtime call; a command that cannot start stays created until delete", async () => {
  await withRoots(async (roots, rootfs) => {
    const r = await berth(roots, [
      "--debug",
      "run",
      "-d",
      "--rootfs",
      rootfs,
      "r1",
      "--",
      "sleep",
      "100",
    ]);
    assertEquals(r.code, 0, r.stderr);
    // The monitor ran the runtime, once; this process ran no runtime command itself.
    const traced = r.stderr.split("\n").filter((l) => l.startsWith("+ "));
    assertEquals(traced.length, 1, r.stderr);
    assertTrue(
      /^\+ \[monitor\] \/\S*runc .* run --detach --bundle \S+ --pid-file \S+ r1$/.test(traced[0]!),
    );
    const s = await stateOf(roots, "r1");
    assertEquals(s.status, "running");
    assertTrue(typeof s.pid === "number" && typeof s.startedAt === "string");
    const kinds = (await eventsOf(roots, "r1")).map((e) => e.type);
    assertEquals(kinds, ["create", "start"]);
    await berthOk(roots, ["delete", "-f", "r1"]);
    // The runtime refuses to start it: one-line error; a command that is not found
    // is exit 127 (podman's code, both forms) and the container stays, created
    // (the contract), until delete takes all of it.
    const bad = await berth(roots, [
      "run",
      "-d",
      "--rootfs",
      rootfs,
      "r2",
      "--",
      "/no/such/program",
    ]);
    assertEquals(bad.code, 127, bad.stderr);
    assertEquals(bad.stderr.trim().split("\n").length, 1, bad.stderr);
    assertTrue(bad.stderr.startsWith("berth: "), bad.stderr);
    assertEquals((await stateOf(roots, "r2")).status, "created");
    await berthOk(roots, ["delete", "r2"]);
    assertEquals(await leftovers(roots), []);
  });
});

Deno.test("create --image with an ID in use is refused (exit 4) before any pull", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, ["create", "--rootfs", rootfs, "taken", "--", "true"]);
    // Nothing listens there: a pull would fail with a connection error (exit 1).
    const r = await berth(roots, [
      "create",
      "--image",
      "127.0.0.1:9/none:1",
      "taken",
      "--",
      "true",
    ]);
    assertEquals(r.code, 4, r.stderr);
    assertEquals(r.stderr, 'berth: container "taken" already exists\n');
    await berthOk(roots, ["delete", "taken"]);
  });
});

Deno.test("foreground run passes stdout, stderr and the exit code", async () => {
  await withRoots(async (roots, rootfs) => {
    const r = await berth(roots, [
      "run",
      "--rm",
      "--rootfs",
      rootfs,
      "-e",
      "GREETING=hi",
      "--cwd",
      "/tmp",
      "fg",
      "--",
      "sh",
      "-c",
      'echo "$GREETING from $(pwd)"; echo oops >&2; exit 3',
    ]);
    assertEquals(r.stdout, "hi from /tmp\n");
    assertEquals(r.stderr, "oops\n");
    assertEquals(r.code, 3);
    // --rm: gone.
    assertEquals((await berth(roots, ["state", "fg"])).code, 3);
    // The init is PID 1 of its namespace, which no signal kills from inside:
    // a nested shell dies of SIGKILL and the init passes on its status.
    const k = await berth(roots, [
      "run",
      "--rootfs",
      rootfs,
      "sig",
      "--",
      "sh",
      "-c",
      'sh -c "kill -9 \\$\\$"; exit $?',
    ]);
    assertEquals(k.code, 137);
    assertEquals((await stateOf(roots, "sig")).exitCode, 137);
  });
});

Deno.test("a detached container's exit code is recorded after berth has exited", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, [
      "run",
      "-d",
      "--rootfs",
      rootfs,
      "d1",
      "--",
      "sh",
      "-c",
      "sleep 0.3; exit 42",
    ]);
    assertEquals((await stateOf(roots, "d1")).status, "running");
    await eventually(async () => (await stateOf(roots, "d1")).status === "stopped", 10_000, "exit");
    const s = await stateOf(roots, "d1");
    assertEquals(s.exitCode, 42);
    assertEquals((await berthOk(roots, ["wait", "d1"])).trim(), "42");
    // run -d --rm: deleted once it exits.
    await berthOk(roots, ["run", "-d", "--rm", "--rootfs", rootfs, "d2", "--", "true"]);
    await eventually(async () => (await berth(roots, ["state", "d2"])).code === 3, 10_000, "--rm");
  });
});

Deno.test("logs prints what the container wrote; logs -f follows until it exits", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, [
      "run",
      "-d",
      "--rootfs",
      rootfs,
      "l1",
      "--",
      "sh",
      "-c",
      "echo one; echo err1 >&2; sleep 0.5; echo two; exit 0",
    ]);
    const follow = berth(roots, ["logs", "-f", "l1"]);
    const r = await follow;
    assertEquals(r.code, 0);
    assertEquals(r.stdout, "one\ntwo\n");
    assertEquals(r.stderr, "err1\n");
    const again = await berth(roots, ["logs", "l1"]);
    assertEquals([again.stdout, again.stderr], ["one\ntwo\n", "err1\n"]);
  });
});

Deno.test("exec exits with the process's code and sees -e and --cwd", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "e1", "--", "sh", "-c", LOOP]);
    const r = await berth(roots, [
      "exec",
      "-e",
      "X=5",
      "--cwd",
      "/etc",
      "e1",
      "--",
      "sh",
      "-c",
      'echo "$X $(pwd)"; exit 4',
    ]);
    assertEquals([r.code, r.stdout], [4, "5 /etc\n"]);
    const ps = JSON.parse(await berthOk(roots, ["ps", "e1", "--format", "json"]));
    assertTrue(ps.length >= 1 && typeof ps[0].pid === "number");
    await berthOk(roots, ["kill", "e1", "KILL"]);
    await berthOk(roots, ["wait", "e1"]);
    const stopped = await berth(roots, ["exec", "e1", "--", "true"]);
    assertEquals(stopped.code, 5);
  });
});

Deno.test("kill accepts names and numbers; delete -f kills and removes", async () => {
  await withRoots(async (roots, rootfs) => {
    // PID 1 of a namespace gets only the signals it handles (and KILL).
    const trapHup = "trap 'exit 11' HUP; while true; do sleep 0.05; done";
    for (
      const [id, sig, code] of [["k1", "SIGKILL", 137], ["k2", "9", 137], [
        "k3",
        "HUP",
        11,
      ]] as const
    ) {
      await berthOk(roots, ["run", "-d", "--rootfs", rootfs, id, "--", "sh", "-c", trapHup]);
      await berthOk(roots, ["kill", id, sig]);
      assertEquals((await berthOk(roots, ["wait", id])).trim(), String(code));
    }
    await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "k4", "--", "sleep", "100"]);
    await berthOk(roots, ["pause", "k4"]);
    const bundle = String((await stateOf(roots, "k4")).bundle);
    await berthOk(roots, ["delete", "-f", "k4", "k1"]);
    assertEquals(await mountsUnder(bundle), []);
    assertEquals((await berthOk(roots, ["list", "-q"])).split("\n").filter((s) => s), ["k2", "k3"]);
    // (kill k2 NOPE is two containers now: a bad signal is one given with -s.)
    const bad = await berth(roots, ["kill", "-s", "NOPE", "k2"]);
    assertEquals(bad.code, 2);
  });
});

Deno.test("prefix IDs resolve, ambiguity names the candidates, exact wins", async () => {
  await withRoots(async (roots, rootfs) => {
    for (const id of ["app", "app1", "app2", "db"]) {
      await berthOk(roots, ["create", "--rootfs", rootfs, id, "--", "true"]);
    }
    assertEquals((await stateOf(roots, "d")).id, "db");
    assertEquals((await stateOf(roots, "app")).id, "app");
    const r = await berth(roots, ["state", "a"]);
    assertEquals(r.code, 2);
    assertEquals(r.stderr, `berth: "a" is ambiguous: it matches app, app1, app2\n`);
    assertEquals((await berth(roots, ["state", "zz"])).code, 3);
    await berthOk(roots, ["delete", "db"]);
    assertEquals((await berth(roots, ["state", "db"])).code, 3);
  });
});

Deno.test("namespaces isolate containers with the same ID", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, [
      "-n",
      "blue",
      "run",
      "-d",
      "--rootfs",
      rootfs,
      "same",
      "--",
      "sleep",
      "100",
    ]);
    await berthOk(roots, ["-n", "green", "create", "--rootfs", rootfs, "same", "--", "true"]);
    assertEquals(
      (await stateOf({ ...roots, env: { ...roots.env, BERTH_NAMESPACE: "blue" } }, "same")).status,
      "running",
    );
    const green = JSON.parse(await berthOk(roots, ["-n", "green", "state", "same"]));
    assertEquals([green.status, green.namespace], ["created", "green"]);
    assertEquals((await berth(roots, ["state", "same"])).code, 3); // default namespace
    const all = JSON.parse(await berthOk(roots, ["list", "--all-namespaces", "--format", "json"]));
    assertEquals(all.map((s: { namespace: string }) => s.namespace).sort(), ["blue", "green"]);
    await berthOk(roots, ["-n", "green", "delete", "same"]);
    assertEquals(
      (await stateOf({ ...roots, env: { ...roots.env, BERTH_NAMESPACE: "blue" } }, "same")).status,
      "running",
    );
  });
});

Deno.test("the source rootfs is untouched after a container writes and deletes files", async () => {
  const roots = await makeRoots();
  const rootfs = await busyboxRootfs();
  const before = await listTree(rootfs);
  const passwd = await Deno.readTextFile(join(rootfs, "etc/passwd"));
  try {
    const r = await berth(roots, [
      "run",
      "--rm",
      "--rootfs",
      rootfs,
      "w1",
      "--",
      "sh",
      "-c",
      "echo new > /new-file; rm /etc/passwd; rm /bin/ls; echo hacked > /etc/group; ls /new-file",
    ]);
    assertEquals(r.code, 0, r.stderr);
    // Two containers share the source at once, each with its own view.
    await berthOk(roots, [
      "run",
      "-d",
      "--rootfs",
      rootfs,
      "w2",
      "--",
      "sh",
      "-c",
      "echo mine > /f; sleep 100",
    ]);
    const other = await berth(roots, ["run", "--rm", "--rootfs", rootfs, "w3", "--", "cat", "/f"]);
    assertEquals(other.code, 1);
    assertEquals(await listTree(rootfs), before);
    assertEquals(await Deno.readTextFile(join(rootfs, "etc/passwd")), passwd);
  } finally {
    await cleanup(roots);
  }
});

Deno.test("exec -d returns at once; kill --all reaches every process; --debug adds detail", async () => {
  await withRoots(async (roots, rootfs) => {
    await berthOk(roots, [
      "run",
      "-d",
      "--rootfs",
      rootfs,
      "x1",
      "--",
      "sh",
      "-c",
      "trap 'exit 3' TERM; while true; do sleep 0.05; done",
    ]);
    const t0 = Date.now();
    await berthOk(roots, ["exec", "-d", "x1", "--", "sh", "-c", "sleep 30"]);
    assertTrue(Date.now() - t0 < 10_000, "exec -d waited for the process");
    const before = JSON.parse(await berthOk(roots, ["ps", "x1", "--format", "json"]));
    assertTrue(
      before.some((p: { command: string }) => p.command === "sleep 30"),
      JSON.stringify(before),
    );
    // USR1: the init (PID 1 of its namespace, no handler) ignores it; the exec'd sleep dies of
    // it. Without --all only the init gets it; with --all every process does.
    const sleeps = async () =>
      JSON.parse(await berthOk(roots, ["ps", "x1", "--format", "json"]))
        .filter((p: { command: string }) => p.command === "sleep 30").length;
    await berthOk(roots, ["kill", "x1", "USR1"]);
    await new Promise((r) => setTimeout(r, 200));
    assertEquals(await sleeps(), 1, "without --all the exec'd process is untouched");
    await berthOk(roots, ["kill", "--all", "x1", "USR1"]);
    await eventually(async () => (await sleeps()) === 0, 5000, "--all to reach the exec'd process");
    assertEquals((await stateOf(roots, "x1")).status, "running");
    await berthOk(roots, ["kill", "x1", "KILL"]);
    assertEquals((await berthOk(roots, ["wait", "x1"])).trim(), "137");
    // Errors are one line; --debug adds the runtime command lines and a stack trace.
    // (start of a stopped container starts it again now: exec is refused instead.)
    const plain = await berth(roots, ["exec", "x1", "true"]);
    assertEquals(plain.stderr.split("\n").length, 2);
    const debug = await berth(roots, ["--debug", "pause", "x1"]);
    assertEquals(debug.code, 5);
    assertTrue(
      debug.stderr.startsWith(`berth: cannot pause "x1": container is stopped\n`),
      debug.stderr,
    );
    assertTrue(debug.stderr.includes("WrongState"), debug.stderr);
    const traced = await berth(roots, ["--debug", "delete", "x1"]);
    assertEquals(traced.code, 0);
    assertTrue(
      /^\+ (\[monitor\] )?\/\S*runc --root \S+ --log \S+ --log-format json delete --force x1$/m
        .test(
          traced.stderr,
        ),
      traced.stderr,
    );
  });
});
