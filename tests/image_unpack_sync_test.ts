// The cheap-checks UnpackSync (lib/image/_unpack_sync.ts) against node-tar's own, on
// real files: a hostile layer (directories replaced by symlinks, files and hard links
// before entries below them, symlinks out of the layer, a symlink replaced by a
// directory) gives the same tree and the same warnings from both, and nothing lands
// outside; a layer of many files in nested directories gives the same tree.

import { join } from "../lib/_std/path.ts";
import { loadNode } from "../lib/image/_node.ts";
import { openUmask } from "../lib/image/_unpack.ts";
import { fastUnpackSync, fastUnpackSyncActive } from "../lib/image/_unpack_sync.ts";
import { assertEquals, assertTrue } from "./assert.ts";
import { type TarEntry, tarOf } from "./image_fixture.ts";

/** Every path below `root`: type, mode, owner, size or link target. */
function tree(root: string, rel = ""): string[] {
  const out: string[] = [];
  for (const e of [...Deno.readDirSync(join(root, rel))].sort((a, b) => a.name < b.name ? -1 : 1)) {
    const r = rel === "" ? e.name : `${rel}/${e.name}`;
    const st = Deno.lstatSync(join(root, r));
    const what = st.isSymlink
      ? `-> ${Deno.readLinkSync(join(root, r))}`
      : st.isDirectory
      ? "dir"
      : `file ${st.size} nlink ${st.nlink}`;
    out.push(`${r} ${(st.mode! & 0o7777).toString(8)} ${st.uid}:${st.gid} ${what}`);
    if (st.isDirectory) out.push(...tree(root, r));
  }
  return out;
}

/** Unpacks `bytes` with `fast` or node-tar's class, options as unpackLayer's; the tree and warnings. */
async function unpackWith(
  fast: boolean,
  bytes: Uint8Array,
  filter?: (dir: string, path: string, type: string) => boolean,
): Promise<{ tree: string[]; warnings: string[] }> {
  const { tar, Buffer } = await loadNode();
  const dir = await Deno.makeTempDir({ prefix: "berth-unpack-sync-" });
  const warnings: string[] = [];
  const restore = openUmask();
  try {
    const Cls = fast ? fastUnpackSync(tar) : tar.UnpackSync;
    const u = new Cls({
      cwd: dir,
      strict: false,
      preserveOwner: true,
      chmod: true,
      processUmask: 0,
      umask: 0,
      dmode: 0o755,
      maxDepth: 4096,
      filter: (p: string, e: unknown) =>
        filter === undefined || filter(dir, p, (e as { type: string }).type),
      onwarn: (code: string, message: string | Error) => {
        const m = typeof message === "string" ? message : message.message;
        warnings.push(`${code}: ${m.replaceAll(dir, "DIR")}`);
      },
    });
    for (let i = 0; i < bytes.length; i += 4096) {
      u.write(Buffer.from(bytes.subarray(i, Math.min(bytes.length, i + 4096))));
    }
    u.end();
    return { tree: tree(dir), warnings };
  } finally {
    restore();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("node-tar's internals are found: unpacking takes the cheap checks", async () => {
  const { tar } = await loadNode();
  assertTrue(fastUnpackSyncActive(tar), "node-tar's UnpackSync symbols were not found");
  assertTrue(fastUnpackSync(tar) !== tar.UnpackSync);
});

Deno.test(
  "a hostile layer: the same tree and warnings as node-tar's own class, nothing outside",
  { sanitizeResources: false },
  async () => {
    const outside = await Deno.makeTempDir({ prefix: "berth-outside-" });
    try {
      const entries: TarEntry[] = [
        // An empty directory replaced by a symlink out of the layer; entries below it after.
        { name: "a/", type: "dir", mode: 0o755 },
        { name: "a", type: "symlink", linkname: outside },
        { name: "a/f", data: "through a" },
        { name: "a/b/c", data: "through a, deeper" },
        // The same towards a directory of the layer: nothing is written into it through k.
        { name: "in/", type: "dir", mode: 0o755 },
        { name: "k/", type: "dir", mode: 0o755 },
        { name: "k", type: "symlink", linkname: "in" },
        { name: "k/f", data: "through k" },
        // The same one level down, with implicit directories below.
        { name: "p/q/", type: "dir", mode: 0o755 },
        { name: "p/q", type: "symlink", linkname: outside },
        { name: "p/q/r/s", data: "through p/q" },
        // A non-empty directory a file cannot replace; an empty one a file and a hard link do.
        { name: "x/y/z", data: "z" },
        { name: "x/y", data: "not over a full directory" },
        { name: "e/", type: "dir", mode: 0o755 },
        { name: "e", data: "a file now" },
        { name: "e/g", data: "below a file" },
        { name: "h/", type: "dir", mode: 0o755 },
        { name: "h", type: "hardlink", linkname: "x/y/z" },
        { name: "h/i", data: "below a hard link" },
        // A relative symlink out of the layer, then a path through it.
        { name: "sub/", type: "dir", mode: 0o755 },
        { name: "sub/sl", type: "symlink", linkname: "../.." },
        { name: "sub/sl/esc", data: "escape" },
        // A symlink replaced by a directory: entries below it land in the directory.
        { name: "v", type: "symlink", linkname: outside },
        { name: "v/", type: "dir", mode: 0o750 },
        { name: "v/w", data: "in v" },
        // A file replaced by a directory.
        { name: "t", data: "t" },
        { name: "t/", type: "dir", mode: 0o711 },
        { name: "t/u", data: "in t" },
        // Deep implicit directories, then a listed one in the middle, then one again.
        { name: "deep/1/2/3/4/f", data: "f" },
        { name: "deep/1/2/", type: "dir", mode: 0o750, uid: 3, gid: 4 },
        { name: "deep/1/2/3/4/g", data: "g", mode: 0o600 },
        { name: "d2/", type: "dir", mode: 0o700 },
        { name: "d2/f", data: "1" },
        { name: "d2/", type: "dir", mode: 0o711 },
        { name: "d2/f", data: "22" },
      ];
      const bytes = tarOf(entries);
      const fast = await unpackWith(true, bytes);
      const slow = await unpackWith(false, bytes);
      assertEquals([...Deno.readDirSync(outside)].map((e) => e.name), []);
      assertEquals(fast.tree, slow.tree);
      assertEquals(fast.warnings, slow.warnings);
      // The layer's own answers: nothing written through a, p/q or sub/sl; v and t directories.
      assertTrue(fast.tree.includes("v/w 644 0:0 file 4 nlink 1"), fast.tree.join("\n"));
      assertTrue(fast.tree.includes("t/u 644 0:0 file 4 nlink 1"), fast.tree.join("\n"));
      assertTrue(!fast.tree.some((l) => /^(a|p\/q|in|k)\//.test(l)), fast.tree.join("\n"));
    } finally {
      await Deno.remove(outside, { recursive: true });
    }
  },
);

Deno.test(
  "a filter that replaces a directory by a symlink itself: nothing is written through it",
  { sanitizeResources: false },
  async () => {
    const bytes = tarOf([
      { name: "in/", type: "dir", mode: 0o755 },
      { name: "m/", type: "dir", mode: 0o755 },
      { name: "m", type: "symlink", linkname: "in" },
      { name: "m/f", data: "through m" },
      { name: "m/g/h", data: "through m, deeper" },
    ]);
    // Like a caller that makes symlinks itself and hides them from node-tar.
    const filter = (dir: string, p: string, type: string) => {
      if (type !== "SymbolicLink") return true;
      Deno.removeSync(join(dir, p));
      Deno.symlinkSync("in", join(dir, p));
      return false;
    };
    const fast = await unpackWith(true, bytes, filter);
    const slow = await unpackWith(false, bytes, filter);
    assertEquals(fast.tree, slow.tree);
    assertEquals(fast.warnings, slow.warnings);
    assertEquals(fast.tree.filter((l) => l.startsWith("in/")), []);
  },
);

Deno.test(
  "many files in nested directories: the same tree as node-tar's own class",
  { sanitizeResources: false },
  async () => {
    const entries: TarEntry[] = [];
    for (let i = 0; i < 12; i++) {
      if (i % 3 === 0) entries.push({ name: `d${i}/`, type: "dir", mode: 0o750 + i });
      for (let j = 0; j < 8; j++) {
        entries.push({ name: `d${i}/s${j % 3}/t${j}/f${j}`, data: "x".repeat(i * j), mode: 0o640 });
        if (j === 4) entries.push({ name: `d${i}/s1/l${j}`, type: "symlink", linkname: `t${j}` });
      }
    }
    const bytes = tarOf(entries);
    const fast = await unpackWith(true, bytes);
    const slow = await unpackWith(false, bytes);
    assertEquals(fast.tree, slow.tree);
    assertEquals(fast.warnings, []);
    assertEquals(fast.tree.filter((l) => l.includes(" file ")).length, 96);
  },
);
