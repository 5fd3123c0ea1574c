// Resolving inside a root (host/scoped_path.ts) and copying on descriptors
// (host/tree_copy.ts): symlinks absolute and relative, `..` past the root,
// loops, a root's mounts, and a racing process swapping a directory for a
// symlink out of the root while berth resolves and copies, in both
// directions. A sentinel FIFO outside the root would block any reader (the
// racer reports one), and the outside directory must stay as it was.
import { join } from "node:path";
import { assertEquals, assertThrows, assertTrue } from "./assert.ts";
import { tempDir } from "./temp_dir.ts";
import {
  closeFd,
  ELOOP,
  ENOENT,
  ENOTDIR,
  O_DIRECTORY,
  O_NOFOLLOW,
  O_PATH,
  openAt,
} from "../lib/host/at_file.ts";
import { ErrnoError } from "../lib/host/libc.ts";
import {
  type Found,
  type Missing,
  resolveInRoot,
  type ScopedRoot,
} from "../lib/host/scoped_path.ts";
import { CopyConflict, copyTree } from "../lib/host/tree_copy.ts";

const AT_FDCWD = -100;
closeFd(-1); // loads the library before the tests (it stays loaded)

function openRoot(path: string, mounts: ScopedRoot["mounts"] = []): ScopedRoot {
  return { fd: openAt(AT_FDCWD, path, O_PATH | O_DIRECTORY), mounts, readOnly: false };
}

/** What a resolution names on the host (the descriptor's own path), and closes it. */
function hostPathOf(r: Found | Missing): string {
  if (r.kind === "found") {
    const p = Deno.readLinkSync(`/proc/self/fd/${r.fd}`);
    closeFd(r.fd);
    if (r.parentFd !== null) closeFd(r.parentFd);
    return p;
  }
  const p = join(Deno.readLinkSync(`/proc/self/fd/${r.parentFd}`), r.name);
  closeFd(r.parentFd);
  return `missing:${p}`;
}

function errnoThrown(fn: () => unknown): number {
  return assertThrows(fn, ErrnoError).errno;
}

/** A root with hostile links, and a host directory outside it. */
async function hostileRoot(base: string): Promise<{ root: string; outside: string }> {
  const root = join(base, "root");
  const outside = join(base, "host-etc");
  await Deno.mkdir(join(root, "etc"), { recursive: true });
  await Deno.mkdir(outside);
  await Deno.writeTextFile(join(root, "etc/passwd"), "inside\n");
  await Deno.writeTextFile(join(outside, "passwd"), "HOST\n");
  await Deno.symlink("/", join(root, "x"));
  await Deno.symlink(outside, join(root, "hostetc")); // an absolute host path
  await Deno.symlink("../../../../..", join(root, "up"));
  await Deno.symlink("b", join(root, "a"));
  await Deno.symlink("a", join(root, "b"));
  await Deno.symlink("/etc/passwd", join(root, "pw"));
  await Deno.symlink("/nowhere-yet", join(root, "dangling"));
  return { root, outside };
}

Deno.test("symlinks and .. resolve inside the root, never to the host", async () => {
  await using dir = await tempDir();
  const { root } = await hostileRoot(dir.path);
  const r = openRoot(root);
  try {
    const at = (p: string, followLast = true) => hostPathOf(resolveInRoot(r, p, { followLast }));
    assertEquals(at("/etc/passwd"), join(root, "etc/passwd"));
    assertEquals(at("etc/passwd"), join(root, "etc/passwd"));
    assertEquals(at("/x/etc/passwd"), join(root, "etc/passwd")); // x -> /
    assertEquals(at("/x/x/x/etc"), join(root, "etc"));
    assertEquals(at("/../../../etc/passwd"), join(root, "etc/passwd"));
    assertEquals(at("/etc/../../../etc/passwd"), join(root, "etc/passwd"));
    assertEquals(at("/up/etc/passwd"), join(root, "etc/passwd")); // up -> ../../../..
    assertEquals(at("/pw"), join(root, "etc/passwd"));
    assertEquals(at("/pw", false), join(root, "pw")); // the link itself
    assertEquals(at("/"), root);
    assertEquals(at("/.."), root);
    // A missing last name: its directory and the name, for a create.
    assertEquals(at("/etc/new"), `missing:${join(root, "etc/new")}`);
    // A dangling absolute link is followed inside the root.
    assertEquals(at("/dangling"), `missing:${join(root, "nowhere-yet")}`);
    // An absolute link to a host path exists on the host, not in the root.
    assertEquals(errnoThrown(() => resolveInRoot(r, "/hostetc/passwd")), ENOENT);
    assertEquals(errnoThrown(() => resolveInRoot(r, "/a")), ELOOP);
    assertEquals(errnoThrown(() => resolveInRoot(r, "/a/x")), ELOOP);
    assertEquals(errnoThrown(() => resolveInRoot(r, "/etc/passwd/x")), ENOTDIR);
    assertEquals(errnoThrown(() => resolveInRoot(r, "/no/such")), ENOENT);
  } finally {
    closeFd(r.fd);
  }
});

Deno.test("a root's mounts: the mounted directory replaces the path; .. leaves it", async () => {
  await using dir = await tempDir();
  const root = join(dir.path, "root");
  const vol = join(dir.path, "vol");
  await Deno.mkdir(join(root, "data"), { recursive: true });
  await Deno.mkdir(join(root, "etc"));
  await Deno.mkdir(vol);
  await Deno.writeTextFile(join(vol, "v.txt"), "volume\n");
  await Deno.symlink("/data", join(root, "d"));
  const r = openRoot(root, [{
    destination: "/data",
    open: () => openAt(AT_FDCWD, vol, O_PATH | O_DIRECTORY),
    readOnly: true,
  }]);
  try {
    const found = resolveInRoot(r, "/d/v.txt") as Found;
    assertEquals(found.path, "/data/v.txt");
    assertTrue(found.readOnly);
    assertEquals(hostPathOf(found), join(vol, "v.txt"));
    const back = resolveInRoot(r, "/data/../etc") as Found;
    assertEquals(back.readOnly, false);
    assertEquals(hostPathOf(back), join(root, "etc"));
  } finally {
    closeFd(r.fd);
  }
});

Deno.test("copyTree keeps modes, times and symlinks; -a keeps owners, otherwise root's", async () => {
  await using dir = await tempDir();
  const src = join(dir.path, "src");
  const dst = join(dir.path, "dst");
  await Deno.mkdir(join(src, "sub"), { recursive: true });
  await Deno.mkdir(dst);
  await Deno.writeTextFile(join(src, "sub/f"), "data\n");
  await Deno.chown(join(src, "sub/f"), 1234, 2345);
  await Deno.chmod(join(src, "sub/f"), 0o4751); // after chown, which clears setuid
  await Deno.chmod(join(src, "sub"), 0o750);
  await Deno.utime(join(src, "sub/f"), 1000, 2000);
  await Deno.symlink("/etc/shadow", join(src, "sub/l"));
  const s = openAt(AT_FDCWD, src, O_PATH | O_NOFOLLOW);
  const d = openAt(AT_FDCWD, dst, O_PATH | O_DIRECTORY);
  try {
    await copyTree(s, d, "plain", { archive: false });
    await copyTree(s, d, "kept", { archive: true });
  } finally {
    closeFd(s);
    closeFd(d);
  }
  const plain = Deno.statSync(join(dst, "plain/sub/f"));
  assertEquals(Deno.readTextFileSync(join(dst, "plain/sub/f")), "data\n");
  assertEquals(plain.mode! & 0o7777, 0o4751);
  assertEquals([plain.uid, plain.gid], [0, 0]);
  assertEquals(plain.mtime!.getTime(), 2000_000);
  assertEquals(Deno.statSync(join(dst, "plain/sub")).mode! & 0o7777, 0o750);
  assertEquals(Deno.readLinkSync(join(dst, "plain/sub/l")), "/etc/shadow");
  const kept = Deno.statSync(join(dst, "kept/sub/f"));
  assertEquals([kept.uid, kept.gid, kept.mode! & 0o7777], [1234, 2345, 0o4751]);
  assertEquals(Deno.readDirSync(join(dst, "plain/sub")).toArray().length, 2); // no temp names left
});

Deno.test("copyTree replaces a symlink at the target instead of writing through it", async () => {
  await using dir = await tempDir();
  const outside = join(dir.path, "outside");
  const dst = join(dir.path, "dst");
  await Deno.mkdir(outside);
  await Deno.mkdir(dst);
  await Deno.writeTextFile(join(outside, "victim"), "untouched\n");
  await Deno.writeTextFile(join(dir.path, "f"), "new\n");
  await Deno.symlink(join(outside, "victim"), join(dst, "f"));
  await Deno.symlink(outside, join(dst, "sub"));
  await Deno.mkdir(join(dir.path, "sub"));
  await Deno.writeTextFile(join(dir.path, "sub/victim"), "through the link\n");
  const d = openAt(AT_FDCWD, dst, O_PATH | O_DIRECTORY);
  const f = openAt(AT_FDCWD, join(dir.path, "f"), O_PATH | O_NOFOLLOW);
  const sub = openAt(AT_FDCWD, join(dir.path, "sub"), O_PATH | O_NOFOLLOW);
  try {
    await copyTree(f, d, "f", { archive: false });
    // A directory never merges into a symlink to one.
    let conflict: unknown = null;
    await copyTree(sub, d, "sub", { archive: false }).catch((e) => conflict = e);
    assertTrue(conflict instanceof CopyConflict, String(conflict));
  } finally {
    closeFd(d);
    closeFd(f);
    closeFd(sub);
  }
  assertEquals(Deno.readTextFileSync(join(dst, "f")), "new\n");
  assertEquals(Deno.lstatSync(join(dst, "f")).isFile, true);
  assertEquals(Deno.readTextFileSync(join(outside, "victim")), "untouched\n");
  assertEquals(Deno.readDirSync(outside).toArray().map((e) => e.name), ["victim"]);
});

/** Runs the racer on `dir/name` for `ms`; resolves to its output. */
function startRacer(dir: string, name: string, ms: number, fifo: string) {
  const racer = new URL("./fixtures/swap_racer.ts", import.meta.url).pathname;
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", racer, dir, name, String(ms), fifo],
    stdout: "piped",
    stderr: "inherit",
  }).output().then((o) => ({ code: o.code, out: new TextDecoder().decode(o.stdout) }));
}

Deno.test("a directory swapped for a link out of the root, racing: nothing outside is read or written", async () => {
  await using dir = await tempDir();
  const root = join(dir.path, "root");
  const outside = join(dir.path, "outside");
  const out = join(dir.path, "out");
  await Deno.mkdir(join(root, "d"), { recursive: true });
  await Deno.mkdir(outside);
  await Deno.mkdir(out);
  await Deno.writeTextFile(join(root, "d/f"), "inside\n");
  await Deno.writeTextFile(join(dir.path, "in.txt"), "copied in\n");
  // The link points at a host path that exists: a resolver that let the
  // kernel follow it would read the FIFO (and block) or write beside it.
  await Deno.symlink(outside, join(root, "d.spare"));
  const fifo = join(outside, "f");
  await new Deno.Command("mkfifo", { args: [fifo] }).output();
  await Deno.writeTextFile(join(outside, "secret"), "HOST SECRET\n");
  const before = Deno.readDirSync(outside).toArray().map((e) => e.name).sort();

  const racing = startRacer(root, "d", 2500, fifo);
  await new Promise((r) => setTimeout(r, 300)); // the racer has started
  const r = openRoot(root);
  const hostIn = openAt(AT_FDCWD, join(dir.path, "in.txt"), O_PATH | O_NOFOLLOW);
  const outFd = openAt(AT_FDCWD, out, O_PATH | O_DIRECTORY);
  let reads = 0;
  let writes = 0;
  let trees = 0;
  try {
    for (let i = 0; i < 300; i++) {
      // Out of the root: the file under the swapped directory.
      try {
        const src = resolveInRoot(r, "/d/f");
        if (src.kind === "found") {
          await copyTree(src.fd, outFd, `f${i}`, { archive: false });
          // Only the root's regular file may arrive (the outside FIFO is not read here either).
          assertTrue(
            Deno.lstatSync(join(out, `f${i}`)).isFile,
            "a copy of a file outside the root",
          );
          assertEquals(Deno.readTextFileSync(join(out, `f${i}`)), "inside\n");
          reads++;
          closeFd(src.fd);
          closeFd(src.parentFd!);
        } else closeFd(src.parentFd);
      } catch (err) {
        if (!(err instanceof ErrnoError)) throw err; // ENOENT: the link's target is not in the root
      }
      // Into the root: a new file under the swapped directory.
      try {
        const dst = resolveInRoot(r, `/d/new${i}`);
        if (dst.kind === "missing") {
          await copyTree(hostIn, dst.parentFd, dst.name, { archive: false });
          closeFd(dst.parentFd);
          writes++;
        } else hostPathOf(dst);
      } catch (err) {
        if (!(err instanceof ErrnoError)) throw err;
      }
      // The whole tree, the swapped entry included.
      if (i % 20 === 0) {
        const all = resolveInRoot(r, "/") as Found;
        await copyTree(all.fd, outFd, `tree${i}`, { archive: false });
        closeFd(all.fd);
        trees++;
      }
    }
  } finally {
    closeFd(r.fd);
    closeFd(hostIn);
    closeFd(outFd);
  }
  const racer = await racing;
  assertEquals(racer.code, 0);
  assertTrue(!racer.out.includes("LEAK"), "a sentinel outside the root was opened for reading");
  assertTrue(/swaps [1-9]/.test(racer.out), racer.out);
  assertTrue(reads > 0 && writes > 0 && trees > 0, `reads ${reads} writes ${writes}`);
  // Nothing was written outside, and no copy holds anything from there.
  assertEquals(Deno.readDirSync(outside).toArray().map((e) => e.name).sort(), before);
  assertEquals(Deno.readTextFileSync(join(outside, "secret")), "HOST SECRET\n");
  const grep = await new Deno.Command("grep", { args: ["-rq", "HOST SECRET", out] }).output();
  assertEquals(grep.code, 1, "a copy holds the host's secret");
});

Deno.test("to the host: setuid/setgid dropped, device nodes not made, FIFOs kept", async () => {
  await using dir = await tempDir();
  const src = join(dir.path, "src");
  const dst = join(dir.path, "dst");
  await Deno.mkdir(src);
  await Deno.mkdir(dst);
  await Deno.writeTextFile(join(src, "suid"), "#!/bin/sh\n");
  await Deno.chmod(join(src, "suid"), 0o6755);
  for (const args of [[join(src, "disk"), "b", "8", "0"], [join(src, "fifo"), "p"]]) {
    assertEquals((await new Deno.Command("mknod", { args }).output()).code, 0);
  }
  const s = openAt(AT_FDCWD, src, O_PATH | O_NOFOLLOW);
  const d = openAt(AT_FDCWD, dst, O_PATH | O_DIRECTORY);
  try {
    await copyTree(s, d, "host", { archive: true, toHost: true });
    await copyTree(s, d, "container", { archive: true });
  } finally {
    closeFd(s);
    closeFd(d);
  }
  assertEquals(Deno.statSync(join(dst, "host/suid")).mode! & 0o7777, 0o755);
  assertEquals(Deno.readDirSync(join(dst, "host")).toArray().map((e) => e.name).sort(), [
    "fifo",
    "suid",
  ]);
  assertTrue(Deno.lstatSync(join(dst, "host/fifo")).isFifo);
  // Into a container, as docker does: bits and nodes kept.
  assertEquals(Deno.statSync(join(dst, "container/suid")).mode! & 0o7777, 0o6755);
  assertTrue(Deno.lstatSync(join(dst, "container/disk")).isBlockDevice);
});
