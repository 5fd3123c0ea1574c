/**
 * The layer diff on a real overlay: a lower, an upper and a work directory
 * mounted by the test; whiteouts and opaque directories made by overlayfs
 * itself (rm of a lower file, rmdir + mkdir of a lower directory), then the
 * upper's tar read back entry by entry. The blob written from it unpacks
 * (through `unpackLayer`, the pull path) to the upper's tree again.
 *
 * @module
 */

import { join } from "../lib/_std/path.ts";
import { treeTar, writeLayerBlob } from "../lib/image/_layer_diff.ts";
import { loadNode } from "../lib/image/_node.ts";
import { XattrScanner } from "../lib/image/_tar_xattrs.ts";
import { openUmask, unpackLayer } from "../lib/image/_unpack.ts";
import { sha256Of } from "../lib/image/_verify.ts";
import { readTar } from "../lib/host/tar_stream.ts";
import { assertEquals, assertRejects, assertTrue } from "./assert.ts";
import { RuntimeError } from "../lib/host/errors.ts";
import { unpackCalls } from "../lib/image/_ffi.ts";
import { tempDir } from "./temp_dir.ts";
import { getXattrText } from "./xattr.ts";

function sh(script: string): void {
  const r = new Deno.Command("sh", { args: ["-ec", script] }).outputSync();
  assertTrue(r.success, new TextDecoder().decode(r.stderr));
}

async function collect(gen: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of gen) parts.push(c.slice());
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Makes lower/upper/work, mounts the overlay on merged, runs `changes` in it, unmounts. */
function overlayWith(dir: string, changes: string): string {
  sh(`cd ${dir} && mkdir lower upper work merged
    mkdir -p lower/etc lower/d/sub lower/keep
    echo one > lower/etc/a; echo two > lower/etc/b; echo x > lower/d/x; echo y > lower/d/sub/y
    echo k > lower/keep/k
    mount -t overlay overlay -o lowerdir=lower,upperdir=upper,workdir=work merged`);
  try {
    sh(`cd ${dir}/merged && ${changes}`);
  } finally {
    sh(`umount ${dir}/merged`);
  }
  return join(dir, "upper");
}

Deno.test("layer diff: overlay whiteouts, opaque dirs, hard links, setuid, xattrs", {
  sanitizeResources: false, // libc is opened once for the process
}, async () => {
  await using t = await tempDir();
  const upper = overlayWith(
    t.path,
    `rm etc/a; rm -r d; mkdir d; echo z > d/z; echo changed > etc/b
     echo new > n; ln n n2; chown 12:34 n; chmod 4755 n
     mkdir -p deep/x; setfattr -n user.k -v val deep/x 2>/dev/null || \
       python3 -c 'import os; os.setxattr("deep/x", "user.k", b"val")'
     ln -s /etc/b abs; touch -d @1000000000 etc/b`,
  );
  await loadNode();
  const tar = await collect(treeTar(upper, "upper"));
  const entries: { path: string; type: string; mode: number; uid: number; link: string }[] = [];
  for await (const e of readTar(ReadableStream.from([tar]))) {
    entries.push({
      path: e.path,
      type: e.type,
      mode: e.stat.mode & 0o7777,
      uid: e.stat.uid,
      link: e.linkname,
    });
    if (e.path === "etc/b") assertEquals(e.stat.mtime[0], 1000000000n);
    await e.data.cancel();
  }
  const paths = entries.map((e) => e.path);
  assertEquals(paths, [
    "abs",
    "d",
    "d/.wh..wh..opq",
    "d/z",
    "deep",
    "deep/x",
    "etc",
    "etc/.wh.a",
    "etc/b",
    "n",
    "n2",
  ]);
  const by = new Map(entries.map((e) => [e.path, e]));
  assertEquals(by.get("n")!.mode, 0o4755);
  assertEquals(by.get("n")!.uid, 12);
  assertEquals(by.get("n2")!.type, "hardlink");
  assertEquals(by.get("n2")!.link, "n");
  assertEquals(by.get("abs")!.link, "/etc/b");
  assertEquals(by.get("etc/.wh.a")!.type, "file");
  // Attributes: user.k kept; overlay's trusted.* (opaque, origin, impure) never.
  const scan = new XattrScanner();
  scan.write(tar);
  const found = scan.found.map((f) => [f.path, f.xattrs.map(([n]) => n)]);
  assertEquals(found, [["deep/x", ["user.k"]]]);
  // The same tree gives the same bytes.
  assertEquals(await sha256Of(await collect(treeTar(upper, "upper"))), await sha256Of(tar));

  // The gzip blob: its diff_id is the tar's, and the pull path unpacks it back to overlay form.
  const blobPath = join(t.path, "blob");
  const f = Deno.openSync(blobPath, { write: true, createNew: true });
  const w = await writeLayerBlob(treeTar(upper, "upper"), f);
  f.close();
  assertEquals(w.diffId, await sha256Of(tar));
  assertEquals(w.digest, await sha256Of(Deno.readFileSync(blobPath)));
  assertEquals(w.size, Deno.statSync(blobPath).size);
  const out = join(t.path, "unpacked");
  Deno.mkdirSync(out);
  const restore = openUmask();
  try {
    const got = await unpackLayer(
      ReadableStream.from([Deno.readFileSync(blobPath)]),
      "gzip",
      out,
    );
    assertEquals(got.diffId, w.diffId);
  } finally {
    restore();
  }
  assertEquals(getXattrText(join(out, "d"), "trusted.overlay.opaque"), "y");
  const wh = Deno.lstatSync(join(out, "etc/a"));
  assertTrue(wh.isCharDevice && wh.rdev === 0, "etc/a is a whiteout again");
  assertEquals(Deno.statSync(join(out, "n")).mode! & 0o7777, 0o4755);
  assertEquals(Deno.statSync(join(out, "n")).ino, Deno.statSync(join(out, "n2")).ino);
  assertEquals(getXattrText(join(out, "deep/x"), "user.k"), "val");
  assertEquals(Deno.readLinkSync(join(out, "abs")), "/etc/b");
});

Deno.test("layer diff: tree mode keeps a 0/0 device and .wh. names as they are", {
  sanitizeResources: false,
}, async () => {
  await using t = await tempDir();
  sh(`cd ${t.path} && mkdir r && mknod r/c c 0 0 && mkfifo r/p && echo a > r/f`);
  await loadNode();
  const tar = await collect(treeTar(join(t.path, "r"), "tree"));
  const types: string[] = [];
  for await (const e of readTar(ReadableStream.from([tar]))) {
    types.push(`${e.path}:${e.type}`);
    await e.data.cancel();
  }
  assertEquals(types, ["c:chardev", "f:file", "p:fifo"]);
});

Deno.test("layer diff: an unchanged container's empty upper is an empty layer that unpacks", {
  sanitizeResources: false,
}, async () => {
  await using t = await tempDir();
  Deno.mkdirSync(join(t.path, "upper"));
  await loadNode();
  const tar = await collect(treeTar(join(t.path, "upper"), "upper"));
  assertEquals(tar, new Uint8Array(1024)); // end blocks only, as docker's empty layers
  const out = join(t.path, "out");
  Deno.mkdirSync(out);
  const restore = openUmask();
  try {
    const got = await unpackLayer(ReadableStream.from([tar]), "none", out);
    assertEquals(got.diffId, await sha256Of(tar));
  } finally {
    restore();
  }
  assertEquals([...Deno.readDirSync(out)], []);
});

Deno.test(
  "layer diff: a redirected directory or a metacopy file (content below the upper) is refused",
  {
    sanitizeResources: false,
  },
  async () => {
    await using t = await tempDir();
    await loadNode();
    for (
      const [name, dir] of [["trusted.overlay.redirect", true], [
        "trusted.overlay.metacopy",
        false,
      ]] as const
    ) {
      const upper = join(t.path, name);
      Deno.mkdirSync(upper);
      const p = join(upper, "x");
      if (dir) Deno.mkdirSync(p);
      else Deno.writeTextFileSync(p, "");
      unpackCalls.setXattr(p, name, dir ? "/lowerdir" : "");
      const err = await assertRejects(() => collect(treeTar(upper, "upper")), RuntimeError);
      assertTrue(err.message.startsWith(`x: the overlay keeps it as ${name}`), err.message);
      await collect(treeTar(upper, "tree")); // a plain tree: no overlay form to read
    }
  },
);
