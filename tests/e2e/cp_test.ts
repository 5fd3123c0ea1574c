// `berth cp` against real busybox containers: both directions, running and
// stopped, docker's destination rules, a volume and a tmpfs of a running
// container, and hostile containers (`/x -> /`, `/etc2 -> HOSTDIR`, a
// directory swapped for a link while copying) that must never make cp read
// or write outside the container's root, in either direction.
import { join } from "node:path";
import { assertEquals, assertTrue } from "../assert.ts";
import { berth, berthArgv, berthOk, eventually, type Roots, withRoots } from "../helpers.ts";
import { closeFd, openAt } from "../../lib/host/at_file.ts";

closeFd(-1); // loads the FFI library before the tests

async function sh(roots: Roots, id: string, script: string): Promise<string> {
  return await berthOk(roots, ["exec", id, "--", "sh", "-c", script]);
}

/** A host directory the hostile containers point at: a secret and a FIFO no one may read. */
async function hostDir(): Promise<{ path: string; fifo: string; listing: () => string[] }> {
  const path = await Deno.makeTempDir({ prefix: "berth-cp-host-" });
  await Deno.writeTextFile(join(path, "secret"), "HOST SECRET\n");
  const fifo = join(path, "f");
  assertEquals((await new Deno.Command("mkfifo", { args: [fifo] }).output()).code, 0);
  return {
    path,
    fifo,
    listing: () => Deno.readDirSync(path).toArray().map((e) => e.name).sort(),
  };
}

/** True if someone has `fifo` open for reading (an O_NONBLOCK writer open succeeds only then). */
function fifoHasReader(fifo: string): boolean {
  try {
    closeFd(openAt(-100, fifo, 0o1 | 0o4000));
    return true;
  } catch {
    return false;
  }
}

Deno.test("cp both ways with a running container: files, directories, docker's destination rules", async () => {
  await withRoots(async (roots, rootfs) => {
    const host = await Deno.makeTempDir({ prefix: "berth-cp-" });
    try {
      await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "c1", "--", "sleep", "600"]);
      await Deno.mkdir(join(host, "tree/sub"), { recursive: true });
      await Deno.writeTextFile(join(host, "tree/a.txt"), "A\n");
      await Deno.writeTextFile(join(host, "tree/sub/b.txt"), "B\n");
      await Deno.chmod(join(host, "tree/sub/b.txt"), 0o640);
      await Deno.symlink("a.txt", join(host, "tree/link"));
      await Deno.writeTextFile(join(host, "one.txt"), "one\n");
      await Deno.chown(join(host, "one.txt"), 1234, 2345);

      // A file into a directory (its name kept), to a new name, over a file.
      await berthOk(roots, ["cp", join(host, "one.txt"), "c1:/tmp"]);
      await berthOk(roots, ["cp", join(host, "one.txt"), "c1:tmp/renamed"]);
      await berthOk(roots, ["cp", join(host, "tree/a.txt"), "c1:/tmp/renamed"]);
      // -a keeps the owner; without it root owns the copy.
      await berthOk(roots, ["cp", "-a", join(host, "one.txt"), "c1:/tmp/kept"]);
      // A directory to a new path, into an existing directory, and its contents (/.).
      await berthOk(roots, ["cp", join(host, "tree"), "c1:/tmp/newtree"]);
      await berthOk(roots, ["cp", join(host, "tree"), "c1:/tmp/newtree"]);
      await sh(roots, "c1", "mkdir /tmp/flat");
      await berthOk(roots, ["cp", join(host, "tree") + "/.", "c1:/tmp/flat"]);
      const inside = await sh(
        roots,
        "c1",
        "cat /tmp/one.txt /tmp/renamed; stat -c '%u:%g %n' /tmp/one.txt /tmp/kept; " +
          "cat /tmp/newtree/sub/b.txt /tmp/newtree/tree/a.txt /tmp/flat/a.txt; " +
          "stat -c '%a' /tmp/newtree/sub/b.txt; readlink /tmp/newtree/link",
      );
      assertEquals(inside.trim().split("\n"), [
        "one",
        "A",
        "0:0 /tmp/one.txt",
        "1234:2345 /tmp/kept",
        "B",
        "A",
        "A",
        "640",
        "a.txt",
      ]);
      // A missing DST/ for a file: the directory must exist (exit 3), nothing made.
      const r = await berth(roots, ["cp", join(host, "one.txt"), "c1:/tmp/nodir/"]);
      assertEquals(r.code, 3, r.stderr);
      assertTrue(/^berth: cp: "c1:\/tmp\/nodir\/": /.test(r.stderr), r.stderr);
      // A directory onto a file: refused.
      assertEquals((await berth(roots, ["cp", join(host, "tree"), "c1:/tmp/one.txt"])).code, 1);

      // Out: a file, a directory, contents, and a missing source (exit 3).
      await sh(roots, "c1", "mkdir -p /srv/d/e; echo made-inside > /srv/d/e/f; echo x > /srv/g");
      const out = join(host, "out");
      await Deno.mkdir(out);
      await berthOk(roots, ["cp", "c1:/srv/g", out]);
      await berthOk(roots, ["cp", "c1:/srv/d", join(out, "d2")]);
      await berthOk(roots, ["cp", "c1:/srv/d", out]);
      await berthOk(roots, ["cp", "c1:/srv/.", join(out, "all")]);
      assertEquals(await Deno.readTextFile(join(out, "g")), "x\n");
      assertEquals(await Deno.readTextFile(join(out, "d2/e/f")), "made-inside\n");
      assertEquals(await Deno.readTextFile(join(out, "d/e/f")), "made-inside\n");
      assertEquals(await Deno.readTextFile(join(out, "all/d/e/f")), "made-inside\n");
      const missing = await berth(roots, ["cp", "c1:/srv/nope", out]);
      assertEquals(missing.code, 3);
      assertEquals(missing.stderr, `berth: cp: "c1:/srv/nope": no such file or directory\n`);
      // Usage: both sides on the host, both in containers (exit 2); an unknown container (3).
      assertEquals((await berth(roots, ["cp", join(host, "one.txt"), out])).code, 2);
      assertEquals((await berth(roots, ["cp", "c1:/srv/g", "c1:/tmp/g"])).code, 2);
      assertEquals((await berth(roots, ["cp", join(host, "one.txt"), "nosuch:/tmp"])).code, 3);
    } finally {
      await Deno.remove(host, { recursive: true });
    }
  });
});

Deno.test("cp both ways with a stopped container, and into its volume", async () => {
  await withRoots(async (roots, rootfs) => {
    const host = await Deno.makeTempDir({ prefix: "berth-cp-" });
    try {
      await berthOk(roots, [
        "run",
        "--rootfs",
        rootfs,
        "-v",
        "vol1:/data",
        "c1",
        "--",
        "sh",
        "-c",
        "echo from-run > /made; echo in-volume > /data/v",
      ]);
      assertEquals((await berthOk(roots, ["state", "c1"])).includes('"stopped"'), true);
      await Deno.writeTextFile(join(host, "in.txt"), "copied in\n");
      await berthOk(roots, ["cp", join(host, "in.txt"), "c1:/in.txt"]);
      await berthOk(roots, ["cp", join(host, "in.txt"), "c1:/data/"]);
      await berthOk(roots, ["cp", "c1:/made", join(host, "made")]);
      await berthOk(roots, ["cp", "c1:/data/v", join(host, "v")]);
      assertEquals(await Deno.readTextFile(join(host, "made")), "from-run\n");
      assertEquals(await Deno.readTextFile(join(host, "v")), "in-volume\n");
      // In the container's root (its overlay, as the next start would see it).
      const state = JSON.parse(await berthOk(roots, ["state", "c1"])) as { rootfs: string };
      assertEquals(await Deno.readTextFile(join(state.rootfs, "in.txt")), "copied in\n");
      // The volume's copy is there for the next container that mounts it.
      await berthOk(roots, ["delete", "c1"]);
      const again = await berthOk(roots, [
        "run",
        "--rm",
        "--rootfs",
        rootfs,
        "-v",
        "vol1:/data",
        "c2",
        "--",
        "cat",
        "/data/in.txt",
      ]);
      assertEquals(again, "copied in\n");
    } finally {
      await Deno.remove(host, { recursive: true });
    }
  });
});

Deno.test("cp into a running container's volume and tmpfs lands in the mount", async () => {
  await withRoots(async (roots, rootfs) => {
    const host = await Deno.makeTempDir({ prefix: "berth-cp-" });
    try {
      await berthOk(roots, [
        "run",
        "-d",
        "--rootfs",
        rootfs,
        "-v",
        "vol1:/data",
        "--tmpfs",
        "/scratch",
        "c1",
        "--",
        "sleep",
        "600",
      ]);
      await Deno.writeTextFile(join(host, "f"), "to the mount\n");
      await berthOk(roots, ["cp", join(host, "f"), "c1:/data/f"]);
      await berthOk(roots, ["cp", join(host, "f"), "c1:/scratch/f"]);
      await sh(roots, "c1", "echo tmpfs-made > /scratch/g");
      await berthOk(roots, ["cp", "c1:/scratch/g", join(host, "g")]);
      assertEquals(await Deno.readTextFile(join(host, "g")), "tmpfs-made\n");
      // The volume's data on the host has it; the tmpfs copy is on the tmpfs (its
      // device is the mount's, not the root's), and not in the root's upper layer.
      const vol = join(roots.dataRoot, "volumes/default/vol1/_data/f");
      assertEquals(await Deno.readTextFile(vol), "to the mount\n");
      const devs = await sh(roots, "c1", "stat -c %d /scratch /scratch/f / /data /data/f");
      const [scratch, sf, root, data, df] = devs.trim().split("\n");
      assertEquals(sf, scratch);
      assertTrue(scratch !== root);
      assertEquals(df, data);
      const upper = await berthOk(roots, ["exec", "c1", "--", "ls", "/scratch"]);
      assertEquals(upper.trim().split("\n").sort(), ["f", "g"]);
      // Stopped, the tmpfs is gone and its files with it; the volume's copy stays.
      await berthOk(roots, ["kill", "c1", "KILL"]);
      await eventually(async () => (await berthOk(roots, ["state", "c1"])).includes('"stopped"'));
      assertEquals((await berth(roots, ["cp", "c1:/scratch/f", join(host, "x")])).code, 3);
      await berthOk(roots, ["cp", "c1:/data/f", join(host, "y")]);
      assertEquals(await Deno.readTextFile(join(host, "y")), "to the mount\n");
    } finally {
      await Deno.remove(host, { recursive: true });
    }
  });
});

/** The hostile links inside a container: `/x -> /`, `/etc2 -> HOST`, `/up -> ../../..`. */
function hostileScript(host: string): string {
  return `ln -s / /x; ln -s ${host} /etc2; ln -s ../../../../../.. /up; ` +
    `mkdir -p /c${host}; echo container-copy > /c${host}/secret; ln -s /c${host} /mirror`;
}

async function checkHostile(
  roots: Roots,
  id: string,
  hd: Awaited<ReturnType<typeof hostDir>>,
  out: string,
): Promise<void> {
  const before = hd.listing();
  // Out of the container: /x/etc/passwd is the container's, not the host's.
  await berthOk(roots, ["cp", `${id}:/x/etc/passwd`, join(out, "passwd")]);
  assertEquals(
    await Deno.readTextFile(join(out, "passwd")),
    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
  );
  // /etc2 points at the host directory's path: inside the container it does not exist.
  for (const path of ["/etc2/secret", "/etc2/f", `/up${hd.path}/secret`, `/x${hd.path}/f`]) {
    const r = await berth(roots, ["cp", `${id}:${path}`, join(out, "leak")]);
    assertEquals(r.code, 3, `${path}: ${r.stderr}`);
  }
  // A link to a path the container does have: its own copy.
  await berthOk(roots, ["cp", `${id}:/mirror/secret`, join(out, "mirror")]);
  assertEquals(await Deno.readTextFile(join(out, "mirror")), "container-copy\n");
  // The whole root, links and all: copied as links, nothing from the host.
  await berthOk(roots, ["cp", `${id}:/`, join(out, "all")]);
  assertEquals(Deno.readLinkSync(join(out, "all/etc2")), hd.path);
  const grep = await new Deno.Command("grep", { args: ["-rq", "HOST SECRET", out] }).output();
  assertEquals(grep.code, 1, "a copy holds the host's secret");

  // Into the container through the same links: never into the host directory.
  const src = join(out, "passwd");
  for (const path of ["/etc2/new", `/up${hd.path}/new`, `/x${hd.path}/new`]) {
    const r = await berth(roots, ["cp", src, `${id}:${path}`]);
    assertEquals(r.code, 3, `${path}: ${r.stderr}`);
  }
  await berthOk(roots, ["cp", src, `${id}:/x/tmp/via-x`]);
  await berthOk(roots, ["cp", src, `${id}:/mirror/new`]);
  await berthOk(roots, ["cp", src, `${id}:/etc2`]); // a dangling link: created in the container
  assertEquals(hd.listing(), before);
  assertEquals(await Deno.readTextFile(join(hd.path, "secret")), "HOST SECRET\n");
  assertTrue(!fifoHasReader(hd.fifo));
}

Deno.test("hostile links (/x -> /, /etc2 -> a host dir, ..) never reach the host: running and stopped, both ways", async () => {
  await withRoots(async (roots, rootfs) => {
    const hd = await hostDir();
    const out = await Deno.makeTempDir({ prefix: "berth-cp-out-" });
    try {
      const script = hostileScript(hd.path);
      await berthOk(roots, ["run", "--rootfs", rootfs, "stopped", "--", "sh", "-c", script]);
      await checkHostile(roots, "stopped", hd, out);
      // The file made through the dangling link is in the container's root.
      await berthOk(roots, ["cp", `stopped:/c${hd.path}/new`, join(out, "back")]);
      await Deno.remove(out, { recursive: true });
      await Deno.mkdir(out);
      await berthOk(roots, [
        "run",
        "-d",
        "--rootfs",
        rootfs,
        "running",
        "--",
        "sh",
        "-c",
        `${script}; touch /ready; exec sleep 600`,
      ]);
      await eventually(async () =>
        (await berth(roots, ["exec", "running", "--", "test", "-e", "/ready"])).code === 0
      );
      await checkHostile(roots, "running", hd, out);
      const inside = await sh(roots, "running", `cat /tmp/via-x /c${hd.path}/new | wc -l`);
      assertEquals(inside.trim(), "4");
    } finally {
      await Deno.remove(hd.path, { recursive: true });
      await Deno.remove(out, { recursive: true });
    }
  });
});

/**
 * The container's own /etc replaced by a link to a host directory's path
 * (the issue's `/etc -> /host-etc`): every cp through it, both ways, stays
 * in the container's root; the host directory is never read or written.
 */
async function checkEtcLink(
  roots: Roots,
  id: string,
  hd: Awaited<ReturnType<typeof hostDir>>,
  out: string,
): Promise<void> {
  const before = hd.listing();
  // Out: the link's target does not exist inside; the link itself copies as a link.
  for (const path of ["/etc/secret", "/etc/f", "/etc/", "/etc/."]) {
    const r = await berth(roots, ["cp", `${id}:${path}`, join(out, "leak")]);
    assertEquals(r.code, 3, `${path}: ${r.stderr}`);
  }
  await berthOk(roots, ["cp", `${id}:/etc`, join(out, "etc")]);
  assertEquals(Deno.readLinkSync(join(out, "etc")), hd.path);
  // The container's real files, under the name it moved them to.
  await berthOk(roots, ["cp", `${id}:/etc.real/passwd`, join(out, "passwd")]);
  assertTrue((await Deno.readTextFile(join(out, "passwd"))).startsWith("root:x:0:0:"));
  // In: through the link never lands in the host directory.
  const src = join(out, "passwd");
  for (const path of ["/etc/passwd", "/etc/secret", "/etc/", "/etc/."]) {
    const r = await berth(roots, ["cp", src, `${id}:${path}`]);
    // Refused (one line) or made inside the root: either way not on the host.
    assertTrue(r.code === 0 || /^berth: [^\n]*\n$/.test(r.stderr), `${path}: ${r.stderr}`);
  }
  const dir = join(out, "tree");
  await Deno.mkdir(dir);
  await Deno.writeTextFile(join(dir, "hosts"), "1.2.3.4 evil\n");
  const r = await berth(roots, ["cp", `${dir}/.`, `${id}:/etc`]);
  assertTrue(r.code === 0 || /^berth: [^\n]*\n$/.test(r.stderr), r.stderr);
  assertEquals(hd.listing(), before);
  assertEquals(await Deno.readTextFile(join(hd.path, "secret")), "HOST SECRET\n");
  assertTrue(!fifoHasReader(hd.fifo));
  const grep = await new Deno.Command("grep", { args: ["-rq", "HOST SECRET", out] }).output();
  assertEquals(grep.code, 1, "a copy holds the host's secret");
}

Deno.test("/etc -> a host directory (the issue's /etc -> /host-etc): cp stays in the root, both ways, running and stopped", async () => {
  await withRoots(async (roots, rootfs) => {
    const hd = await hostDir();
    const out = await Deno.makeTempDir({ prefix: "berth-cp-out-" });
    try {
      const script = `mv /etc /etc.real && ln -s ${hd.path} /etc`;
      await berthOk(roots, ["run", "--rootfs", rootfs, "stopped", "--", "sh", "-c", script]);
      await checkEtcLink(roots, "stopped", hd, out);
      await Deno.remove(out, { recursive: true });
      await Deno.mkdir(out);
      await berthOk(roots, [
        "run",
        "-d",
        "--rootfs",
        rootfs,
        "running",
        "--",
        "sh",
        "-c",
        `${script}; touch /ready; exec sleep 600`,
      ]);
      await eventually(async () =>
        (await berth(roots, ["exec", "running", "--", "test", "-e", "/ready"])).code === 0
      );
      await checkEtcLink(roots, "running", hd, out);
      // What cp put "into /etc" went into the container's root, under the link's path.
      const inside = await berth(roots, ["exec", "running", "--", "ls", `/${hd.path}`]);
      assertTrue(inside.code !== 0 || !inside.stdout.includes("secret"), inside.stdout);
      // A stopped one started again: berth's start writes nothing through the link either.
      await berthOk(roots, ["start", "stopped"]);
      assertEquals(hd.listing().includes("hosts"), false);
    } finally {
      await Deno.remove(hd.path, { recursive: true });
      await Deno.remove(out, { recursive: true });
    }
  });
});

Deno.test("a directory swapped for a link to the host while cp runs: nothing outside is read or written", async () => {
  await withRoots(async (roots, rootfs) => {
    const hd = await hostDir();
    const out = await Deno.makeTempDir({ prefix: "berth-cp-out-" });
    try {
      const before = hd.listing();
      await Deno.writeTextFile(join(out, "in.txt"), "copied in\n");
      // /d swaps between a real directory and a link to the host directory's path.
      const racer = `mkdir /d; echo inside > /d/f; ln -s ${hd.path} /spare; touch /ready; ` +
        `i=0; while [ ! -e /stop ] && [ $i -lt 500000 ]; do ` +
        `mv /d /hold; mv /spare /d; mv /hold /spare; i=$((i+1)); done; ` +
        `echo $i > /swaps; exec sleep 600`;
      await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "r1", "--", "sh", "-c", racer]);
      await eventually(async () =>
        (await berth(roots, ["exec", "r1", "--", "test", "-e", "/ready"])).code === 0
      );
      let leaks = 0;
      const watcher = setInterval(() => {
        if (fifoHasReader(hd.fifo)) leaks++;
      }, 2);
      let copiedOut = 0;
      let copiedIn = 0;
      try {
        // At least 15 rounds, more (up to 60) until a copy got through each
        // way: on a loaded host the racer may hold /d as the link for long.
        for (let i = 0; i < 60 && (i < 15 || copiedOut === 0 || copiedIn === 0); i++) {
          const o = await berth(roots, ["cp", "r1:/d/f", join(out, `f${i}`)]);
          if (o.code === 0) {
            assertTrue(
              Deno.lstatSync(join(out, `f${i}`)).isFile,
              "a copy of a file outside the root",
            );
            assertEquals(await Deno.readTextFile(join(out, `f${i}`)), "inside\n");
            copiedOut++;
          } else assertEquals(o.code, 3, o.stderr);
          const n = await berth(roots, ["cp", join(out, "in.txt"), `r1:/d/new${i}`]);
          if (n.code === 0) copiedIn++;
          else assertEquals(n.code, 3, n.stderr);
          const t = await berth(roots, ["cp", "r1:/d", join(out, `t${i}`)]);
          assertTrue(t.code === 0 || t.code === 3, t.stderr);
        }
      } finally {
        clearInterval(watcher);
      }
      await sh(roots, "r1", "touch /stop");
      await eventually(async () =>
        (await berth(roots, ["exec", "r1", "--", "test", "-e", "/swaps"])).code === 0
      );
      const swaps = Number((await sh(roots, "r1", "cat /swaps")).trim());
      console.log(`swaps ${swaps}, copied out ${copiedOut}, in ${copiedIn}`);
      assertTrue(swaps > 100, `swaps ${swaps}`);
      assertEquals(leaks, 0, "the host FIFO was opened for reading");
      assertTrue(copiedOut > 0 && copiedIn > 0, `out ${copiedOut} in ${copiedIn}`);
      assertEquals(hd.listing(), before);
      assertEquals(await Deno.readTextFile(join(hd.path, "secret")), "HOST SECRET\n");
      const grep = await new Deno.Command("grep", { args: ["-rq", "HOST SECRET", out] }).output();
      assertEquals(grep.code, 1, "a copy holds the host's secret");
    } finally {
      await Deno.remove(hd.path, { recursive: true });
      await Deno.remove(out, { recursive: true });
    }
  });
});

/** Runs berth with `input` on stdin; its exit code, stdout bytes and stderr. */
async function berthPiped(
  roots: Roots,
  args: string[],
  input: Uint8Array | null,
): Promise<{ code: number; stdout: Uint8Array; stderr: string }> {
  const [exe, ...pre] = berthArgv();
  const child = new Deno.Command(exe!, {
    args: [...pre, ...args],
    env: roots.env,
    stdin: input === null ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (input !== null) {
    const w = child.stdin.getWriter();
    await w.write(input);
    await w.close();
  }
  const out = await child.output();
  return { code: out.code, stdout: out.stdout, stderr: new TextDecoder().decode(out.stderr) };
}

/** A tar made by the system's tar of `names` under `dir`. */
async function systemTar(dir: string, names: string[]): Promise<Uint8Array> {
  const r = await new Deno.Command("tar", { args: ["-C", dir, "-c", ...names], stdout: "piped" })
    .output();
  assertEquals(r.code, 0);
  return r.stdout;
}

Deno.test("cp with - : a tar stream out of and into a container (hostile entries stay inside)", async () => {
  await withRoots(async (roots, rootfs) => {
    const hd = await hostDir();
    const work = await Deno.makeTempDir({ prefix: "berth-cp-tar-" });
    try {
      const before = hd.listing();
      await berthOk(roots, [
        "run",
        "-d",
        "--rootfs",
        rootfs,
        "c1",
        "--",
        "sh",
        "-c",
        `mkdir -p /srv/d; echo one > /srv/d/a; ln -s / /x; ln -s ${hd.path} /etc2; ` +
        "touch /ready; exec sleep 600",
      ]);
      await eventually(async () =>
        (await berth(roots, ["exec", "c1", "--", "test", "-e", "/ready"])).code === 0
      );
      // Out: the system's tar reads what cp writes; links are entries, never followed.
      const out = await berthPiped(roots, ["cp", "c1:/srv/d", "-"], null);
      assertEquals(out.code, 0, out.stderr);
      await Deno.writeFile(join(work, "out.tar"), out.stdout);
      const list = await new Deno.Command("tar", { args: ["-tf", join(work, "out.tar")] }).output();
      assertEquals(new TextDecoder().decode(list.stdout).trim().split("\n"), ["d/", "d/a"]);
      const viaLink = await berthPiped(roots, ["cp", "c1:/x/srv/d/.", "-"], null);
      assertEquals(viaLink.code, 0, viaLink.stderr);
      await Deno.writeFile(join(work, "dot.tar"), viaLink.stdout);
      const dot = await new Deno.Command("tar", { args: ["-tf", join(work, "dot.tar")] }).output();
      assertEquals(new TextDecoder().decode(dot.stdout).trim().split("\n"), ["./", "a"]);
      assertEquals((await berthPiped(roots, ["cp", "c1:/etc2/secret", "-"], null)).code, 3);

      // In: a tree with a long name and a symlink, made by the system's tar.
      const src = join(work, "src");
      const long = "n".repeat(150);
      await Deno.mkdir(join(src, "t/sub"), { recursive: true });
      await Deno.writeTextFile(join(src, "t/sub", long), "long\n");
      await Deno.symlink("../elsewhere", join(src, "t/link"));
      await Deno.utime(join(src, "t"), 978307200, 978307200); // a directory's time comes last
      const put = await berthPiped(roots, ["cp", "-", "c1:/tmp"], await systemTar(src, ["t"]));
      assertEquals(put.code, 0, put.stderr);
      assertEquals(
        (await sh(roots, "c1", `cat /tmp/t/sub/${long}; readlink /tmp/t/link; stat -c %Y /tmp/t`))
          .trim(),
        "long\n../elsewhere\n978307200",
      );
      // A link to the host directory's path, then a file through it: the link
      // resolves inside the container, where that path does not exist.
      const evil = join(work, "evil");
      await Deno.mkdir(evil);
      await Deno.symlink(hd.path, join(evil, "l"));
      await Deno.mkdir(join(work, "evil2/l"), { recursive: true });
      await Deno.writeTextFile(join(work, "evil2/l/pwn"), "pwned\n");
      const both = new Uint8Array([
        ...(await systemTar(evil, ["l"])).slice(0, 512), // the link entry: one header block
        ...(await systemTar(join(work, "evil2"), ["l/pwn"])),
      ]);
      const r = await berthPiped(roots, ["cp", "-", "c1:/tmp"], both);
      assertEquals(r.code, 3, r.stderr);
      // Through /x (-> /): inside the container.
      await Deno.mkdir(join(work, "x/x"), { recursive: true });
      await Deno.writeTextFile(join(work, "x/x/via-x"), "in\n");
      assertEquals(
        (await berthPiped(
          roots,
          ["cp", "-", "c1:/"],
          await systemTar(join(work, "x"), ["x/via-x"]),
        ))
          .code,
        0,
      );
      assertEquals(await sh(roots, "c1", "cat /via-x"), "in\n");
      // An entry with .. is refused (exit 2).
      const dotdot = new Uint8Array(
        (await new Deno.Command("tar", {
          args: ["-C", work, "-c", "-P", "--transform", "s,^,../../,", "x/x/via-x"],
          stdout: "piped",
        }).output()).stdout,
      );
      assertEquals((await berthPiped(roots, ["cp", "-", "c1:/tmp"], dotdot)).code, 2);
      assertEquals(hd.listing(), before);
      assertEquals(await Deno.readTextFile(join(hd.path, "secret")), "HOST SECRET\n");
      // Both sides streams: usage.
      assertEquals((await berthPiped(roots, ["cp", "-", "-"], null)).code, 2);
    } finally {
      await Deno.remove(hd.path, { recursive: true });
      await Deno.remove(work, { recursive: true });
    }
  });
});

Deno.test("cp keeps hard links within the copied tree as links, both ways (inodes equal); a link to outside the tree is a file of its own", async () => {
  await withRoots(async (roots, rootfs) => {
    const host = await Deno.makeTempDir({ prefix: "berth-cp-links-" });
    try {
      await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "c1", "--", "sleep", "600"]);
      await Deno.mkdir(join(host, "tree/sub"), { recursive: true });
      await Deno.writeTextFile(join(host, "tree/a"), "A\n");
      await Deno.link(join(host, "tree/a"), join(host, "tree/b"));
      await Deno.link(join(host, "tree/a"), join(host, "tree/sub/c"));
      await Deno.writeTextFile(join(host, "outside"), "O\n");
      await Deno.link(join(host, "outside"), join(host, "tree/o"));

      // Host to container: a, b and sub/c are one inode there, o another (one name).
      await berthOk(roots, ["cp", join(host, "tree"), "c1:/tmp/t"]);
      const inodes = async (dir: string) =>
        (await sh(roots, "c1", `cd ${dir} && stat -c '%n %i %h' a b sub/c o`)).trim().split("\n")
          .map((l) => l.split(" "));
      const inC = await inodes("/tmp/t");
      assertEquals(inC.map(([n, , h]) => [n, h]), [["a", "3"], ["b", "3"], ["sub/c", "3"], [
        "o",
        "1",
      ]]);
      assertEquals(new Set(inC.slice(0, 3).map(([, i]) => i)).size, 1, JSON.stringify(inC));
      assertTrue(inC[3]![1] !== inC[0]![1]);
      assertEquals(await sh(roots, "c1", "cat /tmp/t/sub/c /tmp/t/o"), "A\nO\n");

      // Container to host: links made in the container come back as links.
      await sh(roots, "c1", "mkdir -p /tmp/u/d && echo X > /tmp/u/x && ln /tmp/u/x /tmp/u/d/y");
      await berthOk(roots, ["cp", "c1:/tmp/u", join(host, "back")]);
      const x = await Deno.lstat(join(host, "back/x"));
      const y = await Deno.lstat(join(host, "back/d/y"));
      assertEquals([x.ino === y.ino, x.nlink, y.nlink], [true, 2, 2]);
      assertEquals(await Deno.readTextFile(join(host, "back/d/y")), "X\n");
      // And the tree copied in goes back out whole (contents form, SRC/.).
      await Deno.mkdir(join(host, "again"));
      await berthOk(roots, ["cp", "c1:/tmp/t/.", join(host, "again")]);
      const [a, b, c] = await Promise.all(
        ["a", "b", "sub/c"].map((n) => Deno.lstat(join(host, "again", n))),
      );
      assertEquals([a!.ino === b!.ino, a!.ino === c!.ino, a!.nlink], [true, true, 3]);
    } finally {
      await Deno.remove(host, { recursive: true });
    }
  });
});

Deno.test("cp with - keeps hard links: tar's link entries land as links, cp NAME:SRC - writes them; a link entry naming .. or no file is refused", async () => {
  await withRoots(async (roots, rootfs) => {
    const work = await Deno.makeTempDir({ prefix: "berth-cp-tar-links-" });
    try {
      await berthOk(roots, ["run", "-d", "--rootfs", rootfs, "c1", "--", "sleep", "600"]);
      const src = join(work, "src");
      await Deno.mkdir(join(src, "t/sub"), { recursive: true });
      await Deno.writeTextFile(join(src, "t/a"), "A\n");
      await Deno.link(join(src, "t/a"), join(src, "t/b"));
      await Deno.link(join(src, "t/a"), join(src, "t/sub/c"));
      // In: the system's tar writes b and sub/c as link entries to t/a.
      const put = await berthPiped(roots, ["cp", "-", "c1:/tmp"], await systemTar(src, ["t"]));
      assertEquals(put.code, 0, put.stderr);
      const st = (await sh(roots, "c1", "cd /tmp/t && stat -c '%i %h' a b sub/c")).trim()
        .split("\n");
      assertEquals(new Set(st).size, 1, st.join("|"));
      assertTrue(st[0]!.endsWith(" 3"), st[0]);
      assertEquals(await sh(roots, "c1", "cat /tmp/t/sub/c"), "A\n");
      // Out: one copy of the data, the other names as link entries; tar makes them links.
      const out = await berthPiped(roots, ["cp", "c1:/tmp/t", "-"], null);
      assertEquals(out.code, 0, out.stderr);
      await Deno.writeFile(join(work, "out.tar"), out.stdout);
      const ex = join(work, "ex");
      await Deno.mkdir(ex);
      const x = await new Deno.Command("tar", { args: ["-C", ex, "-xf", join(work, "out.tar")] })
        .output();
      assertEquals(x.code, 0, new TextDecoder().decode(x.stderr));
      const [a, b, c] = await Promise.all(
        ["t/a", "t/b", "t/sub/c"].map((n) => Deno.lstat(join(ex, n))),
      );
      assertEquals([a!.ino === b!.ino, a!.ino === c!.ino, a!.nlink], [true, true, 3]);
      const tv = await new Deno.Command("tar", { args: ["-tvf", join(work, "out.tar")] }).output();
      assertEquals(
        new TextDecoder().decode(tv.stdout).split("\n").filter((l) => l.includes(" link to "))
          .map((l) => l.slice(l.indexOf(" t/"))),
        [" t/b link to t/a", " t/sub/c link to t/a"],
      );
      // Hostile link names: out of DST (..), or to no file there.
      await sh(roots, "c1", "mkdir /tmp/h1 /tmp/h2");
      const linkTo = async (target: string) =>
        new Uint8Array(
          (await new Deno.Command("tar", {
            args: [
              "-C",
              src,
              "-c",
              "-P",
              "--no-recursion",
              "--transform",
              `s,^t/a$,${target},RS`,
              "t",
              "t/a",
              "t/b",
            ],
            stdout: "piped",
          }).output()).stdout,
        );
      const up = await berthPiped(roots, ["cp", "-", "c1:/tmp/h1"], await linkTo("../etc/passwd"));
      assertEquals(up.code, 2, up.stderr);
      assertTrue(/links outside the destination/.test(up.stderr), up.stderr);
      const none = await berthPiped(roots, ["cp", "-", "c1:/tmp/h2"], await linkTo("t/nope"));
      assertTrue(none.code !== 0, none.stderr);
      assertTrue(/links to "t\/nope", which is not a file there/.test(none.stderr), none.stderr);
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  });
});
