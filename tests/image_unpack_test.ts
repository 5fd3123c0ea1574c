// Layer unpacking with the real node-tar and the real libc calls: whiteouts,
// opaque directories, absolute symlinks, refused entries, compressions,
// and the diff_id; the verifying stream's size and digest checks.

import { join } from "../lib/_std/path.ts";
import { RuntimeError } from "../lib/host/errors.ts";
import { loadNode } from "../lib/image/node.ts";
import { openUmask, unpackLayer } from "../lib/image/unpack.ts";
import { sha256Of, verifying } from "../lib/image/verify.ts";
import { assertEquals, assertRejects, assertTrue } from "./assert.ts";
import { gzip, sha256, tarOf } from "./image_fixture.ts";

const streamOf = (b: Uint8Array) => new Blob([b as BlobPart]).stream();

async function unpack(bytes: Uint8Array, c: "gzip" | "zstd" | "none" = "none") {
  await loadNode();
  const dir = await Deno.makeTempDir({ prefix: "berth-unpack-" });
  const restore = openUmask();
  try {
    return { dir, got: await unpackLayer(streamOf(bytes), c, dir) };
  } catch (err) {
    await Deno.remove(dir, { recursive: true });
    throw err;
  } finally {
    restore();
  }
}

function xattr(path: string, name: string): string | null {
  const r = new Deno.Command("python3", {
    args: [
      "-c",
      "import os,sys\ntry: print(os.getxattr(sys.argv[1], sys.argv[2], follow_symlinks=False).decode())\nexcept OSError: print('-')",
      path,
      name,
    ],
    stdout: "piped",
  }).outputSync();
  const out = new TextDecoder().decode(r.stdout).trim();
  return out === "-" ? null : out;
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
