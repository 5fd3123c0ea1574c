// Symlinks of a layer keep their exact target (absolute, climbing out, to
// another symlink, through a symlinked directory, dangling), while nothing is
// ever written, linked, whited out or marked through one: the real node-tar
// and the real libc calls of lib/image/_unpack.ts.

import { join } from "../lib/_std/path.ts";
import { loadNode } from "../lib/image/_node.ts";
import { openUmask, unpackLayer } from "../lib/image/_unpack.ts";
import { assertEquals, assertTrue } from "./assert.ts";
import { tarOf } from "./image_fixture.ts";
import { getXattrText as xattr } from "./xattr.ts";

const streamOf = (b: Uint8Array) => new Blob([b as BlobPart]).stream();

async function unpack(bytes: Uint8Array) {
  await loadNode();
  const dir = await Deno.makeTempDir({ prefix: "berth-links-" });
  const restore = openUmask();
  try {
    return { dir, got: await unpackLayer(streamOf(bytes), "none", dir) };
  } finally {
    restore();
  }
}

/** The links every test layer has, and their targets (what readlink must give). */
const LINKS: [string, string][] = [
  ["abs", "/"],
  ["up", "../../.."],
  ["bin/sh", "/bin/busybox"],
  ["lib64", "/usr/lib64"],
  ["deep/rel", "../x"],
  ["deep/out", "../../../etc/passwd"],
  ["dangling", "no/such/thing"],
  ["usr/lib/libz.so.1", "libz.so.1.2"],
  // A link to a link, and one through a symlinked directory.
  ["usr/lib/libz.so", "libz.so.1"],
  ["lib", "usr/lib"],
  ["via", "lib/libz.so.1.2"],
  ["rootabs", "/lib/libz.so.1.2"],
  ["long", "/" + "long/".repeat(60) + "end"],
  ["dotdot", ".."],
  // node-tar reads these as Windows paths with a root to strip.
  ["win", "C:\\dir\\file"],
  ["drive", "c:x"],
  ["backslash", "a\\..\\..\\b"],
  ["self", "self"],
];

Deno.test(
  "every symlink keeps its exact target: absolute, climbing out, to a link, through a link, dangling",
  { sanitizeResources: false },
  async () => {
    const tar = tarOf([
      { name: "bin/", type: "dir" },
      { name: "bin/busybox", data: "bb", mode: 0o755 },
      { name: "deep/", type: "dir" },
      { name: "usr/", type: "dir" },
      { name: "usr/lib/", type: "dir" },
      { name: "usr/lib/libz.so.1.2", data: "z" },
      // A target over 100 bytes comes in a pax record (the header has its first 100).
      ...LINKS.map(([name, linkname]) =>
        linkname.length > 100
          ? {
            name,
            type: "symlink" as const,
            linkname: linkname.slice(0, 100),
            pax: { linkpath: linkname },
          }
          : { name, type: "symlink" as const, linkname }
      ),
    ]);
    const { dir, got } = await unpack(tar);
    try {
      const have = LINKS.map(([name]) => {
        try {
          return [name, Deno.readLinkSync(join(dir, name))];
        } catch (err) {
          return [name, `(${(err as Error).name})`];
        }
      });
      assertEquals(have, LINKS);
      assertEquals(got.skipped, []);
      assertEquals(Deno.readTextFileSync(join(dir, "usr/lib/libz.so")), "z");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "nothing goes through a symlink: a file, directory, hard link, whiteout or opaque mark under one stays out",
  { sanitizeResources: false },
  async () => {
    const outside = await Deno.makeTempDir({ prefix: "berth-outside-" });
    Deno.writeTextFileSync(join(outside, "secret"), "s");
    const depth = "../".repeat(outside.split("/").length + 4);
    const tar = tarOf([
      { name: "evil", type: "symlink", linkname: outside },
      { name: "evil/file", data: "x" },
      { name: "evil/sub/", type: "dir", mode: 0o777 },
      { name: "hl", type: "hardlink", linkname: "evil/secret" },
      { name: "evil/.wh.secret", data: "" },
      { name: "evil/.wh..wh..opq", data: "" },
      { name: "rel", type: "symlink", linkname: `${depth}${outside.slice(1)}` },
      { name: "rel/file2", data: "x" },
      { name: "rel/.wh.secret", data: "" },
      { name: "hl2", type: "hardlink", linkname: "rel/secret" },
      // A hard link through a symlinked directory inside the layer: refused too.
      { name: "real/", type: "dir" },
      { name: "real/f", data: "f" },
      { name: "alias", type: "symlink", linkname: "real" },
      { name: "hl3", type: "hardlink", linkname: "alias/f" },
    ]);
    const { dir, got } = await unpack(tar);
    try {
      const names = [...Deno.readDirSync(outside)].map((e) => e.name).sort();
      assertEquals(names, ["secret"]);
      assertEquals(Deno.readTextFileSync(join(outside, "secret")), "s");
      assertEquals(Deno.statSync(join(outside, "secret")).nlink, 1);
      assertEquals(xattr(outside, "trusted.overlay.opaque"), null);
      assertEquals(Deno.statSync(outside).mode! & 0o7777, 0o700);
      // The links themselves are kept as the layer has them.
      assertEquals(Deno.readLinkSync(join(dir, "evil")), outside);
      assertEquals(Deno.readLinkSync(join(dir, "rel")), `${depth}${outside.slice(1)}`);
      assertEquals(Deno.readLinkSync(join(dir, "alias")), "real");
      // What went through them is dropped, and reported.
      for (const p of ["hl", "hl2", "hl3"]) {
        assertTrue(!exists(join(dir, p)), `${p} is not made`);
      }
      // evil/file, evil/sub/, hl, rel/file2, hl2, hl3 (the whiteouts and the mark: silently).
      const through = got.skipped.filter((s) => s.includes("TAR_SYMLINK_ERROR"));
      assertEquals(through.length, 6, got.skipped.join("\n"));
    } finally {
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(outside, { recursive: true });
    }
  },
);

Deno.test(
  "a symlink replaced by a later entry of the same path is that entry; a later link replaces it",
  { sanitizeResources: false },
  async () => {
    const tar = tarOf([
      { name: "a", type: "symlink", linkname: "/" },
      { name: "a", data: "file now" },
      { name: "b", type: "symlink", linkname: "/" },
      { name: "b/", type: "dir", mode: 0o750 },
      { name: "c", data: "file first" },
      { name: "c", type: "symlink", linkname: "../../c" },
      { name: "d", type: "symlink", linkname: "/one" },
      { name: "d", type: "symlink", linkname: "/two" },
    ]);
    const { dir } = await unpack(tar);
    try {
      assertEquals(Deno.readTextFileSync(join(dir, "a")), "file now");
      assertTrue(Deno.lstatSync(join(dir, "b")).isDirectory);
      assertEquals(Deno.readLinkSync(join(dir, "c")), "../../c");
      assertEquals(Deno.readLinkSync(join(dir, "d")), "/two");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

function exists(p: string): boolean {
  try {
    Deno.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

Deno.test(
  "a hard link to a symlink is a second name of that symlink (its exact target, one inode), made in no directory that is a symlink",
  { sanitizeResources: false },
  async () => {
    const tar = tarOf([
      { name: "f", data: "data" },
      { name: "s", type: "symlink", linkname: "f" },
      { name: "h", type: "hardlink", linkname: "s" },
      // A target node-tar would change (put in after it), and a chain of hard links.
      { name: "up", type: "symlink", linkname: "../../x" },
      { name: "h2", type: "hardlink", linkname: "up" },
      { name: "h3", type: "hardlink", linkname: "h2" },
      // A hard link to a regular file is still node-tar's.
      { name: "hf", type: "hardlink", linkname: "f" },
      // Under a symlinked directory: not made there, nor in the directory it names.
      { name: "real/", type: "dir" },
      { name: "alias", type: "symlink", linkname: "real" },
      { name: "alias/h4", type: "hardlink", linkname: "s" },
      // A later entry that takes the hard link's name wins, as any later entry does.
      { name: "h5", type: "hardlink", linkname: "s" },
      { name: "h5", data: "file" },
    ]);
    const { dir, got } = await unpack(tar);
    try {
      const ino = (p: string) => Deno.lstatSync(join(dir, p)).ino;
      assertEquals(Deno.readLinkSync(join(dir, "h")), "f");
      assertEquals(ino("h"), ino("s"));
      assertEquals(Deno.lstatSync(join(dir, "s")).nlink, 2);
      assertEquals(Deno.readLinkSync(join(dir, "h2")), "../../x");
      assertEquals(Deno.readLinkSync(join(dir, "h3")), "../../x");
      assertEquals(ino("h2"), ino("up"));
      assertEquals(ino("h3"), ino("up"));
      assertEquals(Deno.lstatSync(join(dir, "up")).nlink, 3);
      assertEquals(ino("hf"), ino("f"));
      assertTrue(!exists(join(dir, "real/h4")), "nothing through alias");
      assertEquals(Deno.readLinkSync(join(dir, "alias")), "real");
      assertEquals(Deno.readTextFileSync(join(dir, "h5")), "file");
      assertEquals(got.skipped, [
        "TAR_LINK: alias/h4: a hard link to the symlink s could not be made",
      ]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
