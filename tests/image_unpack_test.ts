// Layer unpacking with the real node-tar and the real libc calls: whiteouts,
// opaque directories, absolute symlinks, refused entries, compressions,
// and the diff_id; the verifying stream's size and digest checks.

import { join } from "../lib/_std/path.ts";
import { RuntimeError } from "../lib/host/errors.ts";
import { loadNode } from "../lib/image/_node.ts";
import { checkSizes, openUmask, unpackLayer } from "../lib/image/_unpack.ts";
import type { LayerLimits } from "../lib/image/_layer_limits.ts";
import { sha256Of, verifying } from "../lib/image/_verify.ts";
import { assertEquals, assertRejects, assertThrows, assertTrue } from "./assert.ts";
import { gzip, sha256, tarOf } from "./image_fixture.ts";
import { getXattr, getXattrText as xattr } from "./xattr.ts";

const streamOf = (b: Uint8Array) => new Blob([b as BlobPart]).stream();

async function unpack(
  bytes: Uint8Array,
  c: "gzip" | "zstd" | "none" = "none",
  o: { limits?: LayerLimits; under?: string } = {},
) {
  await loadNode();
  const dir = await Deno.makeTempDir({
    prefix: "berth-unpack-",
    ...o.under ? { dir: o.under } : {},
  });
  const restore = openUmask();
  try {
    return { dir, got: await unpackLayer(streamOf(bytes), c, dir, o.limits) };
  } catch (err) {
    await Deno.remove(dir, { recursive: true });
    throw err;
  } finally {
    restore();
  }
}

// The libc calls are opened once per process and kept (like lib/host/libc.ts).
Deno.test(
  "whiteouts become 0/0 character devices, opaque markers an xattr; modes and absolute symlinks kept",
  {
    sanitizeResources: false,
  },
  async () => {
    const tar = tarOf([
      { name: "d/", type: "dir", mode: 0o755 },
      { name: "d/.wh.gone", data: "" },
      { name: "o/", type: "dir", mode: 0o750 },
      { name: "o/.wh..wh..opq", data: "" },
      { name: "o/kept", data: "k", mode: 0o4755 },
      { name: "abs", type: "symlink", linkname: "/bin/busybox" },
      { name: "rel", type: "symlink", linkname: "d/x" },
    ]);
    const { dir, got } = await unpack(tar);
    try {
      assertEquals(got.diffId, await sha256(tar));
      const wh = Deno.lstatSync(join(dir, "d", "gone"));
      assertTrue(wh.isCharDevice && wh.rdev === 0, "a 0/0 character device");
      assertEquals([...Deno.readDirSync(join(dir, "d"))].map((e) => e.name), ["gone"]);
      assertEquals(xattr(join(dir, "o"), "trusted.overlay.opaque"), "y");
      assertEquals(xattr(join(dir, "d"), "trusted.overlay.opaque"), null);
      assertEquals(Deno.statSync(join(dir, "o")).mode! & 0o7777, 0o750);
      assertEquals(Deno.statSync(join(dir, "o", "kept")).mode! & 0o7777, 0o4755);
      assertEquals(Deno.readLinkSync(join(dir, "abs")), "/bin/busybox");
      assertEquals(Deno.readLinkSync(join(dir, "rel")), "d/x");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("escaping entries are skipped and reported; nothing lands outside", async () => {
  const outside = await Deno.makeTempDir({ prefix: "berth-outside-" });
  const tar = tarOf([
    { name: `../../../../../../../..${outside}/x`, data: "x" },
    { name: "l", type: "symlink", linkname: outside },
    { name: "l/y", data: "y" },
    { name: "dev", type: "char", devmajor: 1, devminor: 3 },
  ]);
  const { dir, got } = await unpack(tar);
  try {
    assertEquals([...Deno.readDirSync(outside)], []);
    assertTrue(got.skipped.length >= 1, "skipped entries are reported");
    assertTrue(
      !Deno.lstatSync(join(dir, "l")).isSymlink || [...Deno.readDirSync(outside)].length === 0,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("gzip and zstd layers give the uncompressed diff_id", async () => {
  const tar = tarOf([{ name: "f", data: "hello ".repeat(1000) }]);
  const { zlib } = await loadNode();
  const zst = new Uint8Array(zlib.zstdCompressSync(tar));
  for (const [bytes, c] of [[await gzip(tar), "gzip"], [zst, "zstd"]] as const) {
    const { dir, got } = await unpack(bytes, c);
    assertEquals(got.diffId, await sha256(tar), c);
    assertEquals(Deno.readTextFileSync(join(dir, "f")), "hello ".repeat(1000));
    await Deno.remove(dir, { recursive: true });
  }
  await assertRejects(() => unpack(tar.subarray(0, 700), "gzip"), RuntimeError);
});

Deno.test("the verifying stream fails on extra bytes, missing bytes and a wrong digest", async () => {
  await loadNode();
  const data = new TextEncoder().encode("some blob");
  const digest = await sha256Of(data);
  const drain = (s: ReadableStream<Uint8Array>) => new Response(s).arrayBuffer();
  assertEquals(
    new Uint8Array(await drain(streamOf(data).pipeThrough(verifying(digest, data.length, "b")))),
    data,
  );
  await assertRejects(
    () => drain(streamOf(data).pipeThrough(verifying(digest, 4, "b"))),
    RuntimeError,
    "more than",
  );
  await assertRejects(
    () => drain(streamOf(data).pipeThrough(verifying(digest, 20, "b"))),
    RuntimeError,
    "expected 20",
  );
  const other = await sha256Of(new TextEncoder().encode("other"));
  await assertRejects(
    () => drain(streamOf(data).pipeThrough(verifying(other, data.length, "b"))),
    RuntimeError,
    "digest",
  );
});

/** A file capability (VFS_CAP_REVISION_2, effective): cap_net_raw. */
function capNetRaw(): Uint8Array {
  const v = new DataView(new ArrayBuffer(20));
  v.setUint32(0, 0x02000001, true);
  v.setUint32(4, 1 << 13, true); // permitted[0]: CAP_NET_RAW
  return new Uint8Array(v.buffer);
}

Deno.test(
  "extended attributes from GNU tar's pax headers are kept (user, capabilities), not trusted.*",
  { sanitizeResources: false },
  async () => {
    await loadNode();
    const { unpackCalls } = await import("../lib/image/_ffi.ts");
    const src = await Deno.makeTempDir({ prefix: "berth-xattr-src-" });
    const binary = Uint8Array.from({ length: 256 }, (_, i) => i);
    try {
      Deno.mkdirSync(join(src, "dir"));
      Deno.writeTextFileSync(join(src, "dir/file"), "data");
      Deno.writeTextFileSync(join(src, "ping"), "elf");
      Deno.chmodSync(join(src, "ping"), 0o755);
      Deno.symlinkSync("dir/file", join(src, "link"));
      unpackCalls.setXattr(join(src, "dir"), "user.on-a-dir", "d");
      unpackCalls.setXattr(join(src, "dir/file"), "user.binary", binary);
      unpackCalls.setXattr(join(src, "dir/file"), "trusted.overlay.redirect", "/elsewhere");
      unpackCalls.setXattr(join(src, "ping"), "security.capability", capNetRaw());
      const out = new Deno.Command("tar", {
        args: [
          "--xattrs",
          "--xattrs-include=*",
          "--format=posix",
          "--numeric-owner",
          "-C",
          src,
          "-cf",
          "-",
          "dir",
          "ping",
          "link",
        ],
        stdout: "piped",
      }).outputSync();
      assertTrue(out.success, "GNU tar --xattrs");
      const { dir, got } = await unpack(out.stdout);
      try {
        assertEquals(xattr(join(dir, "dir"), "user.on-a-dir"), "d");
        assertEquals(getXattr(join(dir, "dir/file"), "user.binary"), binary);
        assertEquals(getXattr(join(dir, "ping"), "security.capability"), capNetRaw());
        assertEquals(Deno.readTextFileSync(join(dir, "dir/file")), "data");
        // Overlay's own namespace is never taken from a layer.
        assertEquals(xattr(join(dir, "dir/file"), "trusted.overlay.redirect"), null);
        assertTrue(
          got.skipped.some((s) => s.includes("dir/file: trusted.overlay.redirect not kept")),
          got.skipped.join("; "),
        );
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    } finally {
      await Deno.remove(src, { recursive: true });
    }
  },
);

Deno.test(
  "an attribute of an entry node-tar refused, or of a path through a symlink, is set nowhere",
  { sanitizeResources: false },
  async () => {
    const tar = tarOf([
      { name: "real/", type: "dir" },
      { name: "sl", type: "symlink", linkname: "real" },
      // Written through the symlink: node-tar refuses it; so is its attribute.
      { name: "sl/f", data: "x", pax: { "SCHILY.xattr.user.a": "through" } },
      { name: "../up", data: "x", pax: { "SCHILY.xattr.user.a": "up" } },
      { name: "ok", data: "x", pax: { "SCHILY.xattr.user.a": "ok" } },
    ]);
    const { dir } = await unpack(tar);
    try {
      assertEquals(xattr(join(dir, "ok"), "user.a"), "ok");
      assertEquals([...Deno.readDirSync(join(dir, "real"))], []);
      assertEquals(xattr(join(dir, "real"), "user.a"), null);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

/** Mode (12 bits), uid and gid of `p`, as `1777 0:0`. */
function modeOf(p: string): string {
  const st = Deno.lstatSync(p);
  return `${(st.mode! & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
}

Deno.test(
  "directories get exactly their entry's mode and owner (sticky, setgid, below 0700); unlisted parents 0755 root",
  { sanitizeResources: false },
  async () => {
    const tar = tarOf([
      // Parents a/, a/b/ and s/ are not listed.
      { name: "a/b/c/", type: "dir", mode: 0o2775, uid: 1000, gid: 50 },
      { name: "a/b/c/f", data: "x" },
      // A hard link into the setgid directory, and attributes on the sticky one: kept.
      { name: "hl", type: "hardlink", linkname: "a/b/c/f" },
      { name: "tmp/", type: "dir", mode: 0o1777, pax: { "SCHILY.xattr.user.t": "sticky" } },
      { name: "ro/", type: "dir", mode: 0o555, uid: 7, gid: 8 },
      { name: "ro/f", data: "x" },
      { name: "s/file", data: "x" },
      // Listed twice: the last entry wins.
      { name: "twice/", type: "dir", mode: 0o700, uid: 3, gid: 3 },
      { name: "twice/", type: "dir", mode: 0o3751, uid: 4, gid: 5 },
    ]);
    const { dir } = await unpack(tar);
    try {
      assertEquals(modeOf(join(dir, "a")), "755 0:0");
      assertEquals(modeOf(join(dir, "a/b")), "755 0:0");
      assertEquals(modeOf(join(dir, "s")), "755 0:0");
      assertEquals(modeOf(join(dir, "a/b/c")), "2775 1000:50");
      assertEquals(modeOf(join(dir, "tmp")), "1777 0:0");
      assertEquals(modeOf(join(dir, "ro")), "555 7:8");
      assertEquals(modeOf(join(dir, "twice")), "3751 4:5");
      assertEquals(Deno.readTextFileSync(join(dir, "ro/f")), "x");
      assertEquals(Deno.statSync(join(dir, "hl")).ino, Deno.statSync(join(dir, "a/b/c/f")).ino);
      assertEquals(xattr(join(dir, "tmp"), "user.t"), "sticky");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "a directory over an existing one, and one whose path runs through a symlink, keep to the layer",
  { sanitizeResources: false },
  async () => {
    const outside = await Deno.makeTempDir({ prefix: "berth-outside-" });
    Deno.chmodSync(outside, 0o700);
    const tar = tarOf([
      { name: "d/", type: "dir", mode: 0o700 },
      { name: "d/f", data: "x" },
      { name: "d/", type: "dir", mode: 0o1555, uid: 2, gid: 2 },
      { name: "l", type: "symlink", linkname: outside },
      { name: "l/", type: "dir", mode: 0o777 },
    ]);
    const { dir } = await unpack(tar);
    try {
      assertEquals(modeOf(join(dir, "d")), "1555 2:2");
      assertEquals(Deno.statSync(outside).mode! & 0o7777, 0o700);
    } finally {
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(outside, { recursive: true });
    }
  },
);

/** A size-capped tmpfs made for the test (disk-filling tests write only there). */
async function withTmpfs(size: string, fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "berth-tmpfs-" });
  const mount = new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir],
  })
    .outputSync();
  assertTrue(mount.success, new TextDecoder().decode(mount.stderr));
  try {
    await fn(dir);
  } finally {
    new Deno.Command("umount", { args: [dir] }).outputSync();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Incompressible bytes. */
function noise(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) {
    crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  }
  return out;
}

Deno.test(
  "a full filesystem fails the layer: a write error or a file cut short is never taken for a whole layer",
  { sanitizeResources: false },
  async () => {
    await withTmpfs("1m", async (fs) => {
      // One file larger than the filesystem: its writes fail with ENOSPC.
      const big = tarOf([{ name: "bin/", type: "dir" }, {
        name: "bin/busybox",
        data: noise(3 << 20),
      }]);
      const e1 = await assertRejects(() => unpack(big, "none", { under: fs }), RuntimeError);
      assertTrue(/busybox/.test(e1.message) && !e1.message.includes("\n"), e1.message);
      assertEquals([...Deno.readDirSync(fs)], [], "the failed unpack's directory is removed");
      // Files that fit one by one but not together: the last one is cut short or fails.
      const many = tarOf(
        Array.from({ length: 6 }, (_, i) => ({ name: `f${i}`, data: noise(300 << 10) })),
      );
      await assertRejects(() => unpack(many, "none", { under: fs }), RuntimeError);
      // With room, the same layer unpacks whole.
      const { dir } = await unpack(many);
      try {
        for (let i = 0; i < 6; i++) assertEquals(Deno.statSync(join(dir, `f${i}`)).size, 300 << 10);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
);

Deno.test(
  "caps: a gzip bomb over the size cap and a layer over the entry cap fail while they stream",
  { sanitizeResources: false },
  async () => {
    // 64 MiB of zeros: about 64 KiB gzipped.
    const bomb = await gzip(tarOf([{ name: "zeros", data: new Uint8Array(64 << 20) }]));
    assertTrue(bomb.length < 1 << 20, `${bomb.length}`);
    const limits = { maxBytes: 8 << 20, maxEntries: 100 };
    const e = await assertRejects(() => unpack(bomb, "gzip", { limits }), RuntimeError);
    assertTrue(e.message.includes("more than 8 MiB"), e.message);
    const wide = tarOf(Array.from({ length: 101 }, (_, i) => ({ name: `e${i}`, data: "" })));
    const e2 = await assertRejects(() => unpack(wide, "none", { limits }), RuntimeError);
    assertTrue(e2.message.includes("more than 100 entries"), e2.message);
    // At the caps exactly, a layer unpacks.
    const fits = tarOf(Array.from({ length: 100 }, (_, i) => ({ name: `e${i}`, data: "" })));
    const ok = await unpack(fits, "none", { limits: { maxBytes: fits.length, maxEntries: 100 } });
    assertEquals([...Deno.readDirSync(ok.dir)].length, 100);
    await Deno.remove(ok.dir, { recursive: true });
  },
);

Deno.test("a file shorter than its entry fails the layer; one under a symlink is not looked at", () => {
  const dir = Deno.makeTempDirSync({ prefix: "berth-sizes-" });
  try {
    Deno.mkdirSync(join(dir, "bin"));
    Deno.writeTextFileSync(join(dir, "bin/busybox"), "abc");
    Deno.symlinkSync("bin", join(dir, "link"));
    checkSizes(dir, new Map([["bin/busybox", 3], ["missing", 10], ["link/busybox", 10]]));
    assertThrows(
      () => checkSizes(dir, new Map([["bin/busybox", 1 << 20]])),
      RuntimeError,
      "bin/busybox: 3 of its 1048576 bytes written",
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
