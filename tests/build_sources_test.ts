/** `build`'s sources: an image's merged tree (whiteouts, opaque directories), the context's paths. */

import { join } from "../lib/_std/path.ts";
import {
  checkSourcePath,
  ContextTree,
  globSources,
  ImageTree,
  openUnder,
  resolveInImage,
} from "../lib/build/_sources.ts";
import { IgnoreMatcher } from "../lib/build/_ignore.ts";
import { unpackCalls } from "../lib/image/_ffi.ts";
import { assertEquals, assertRejects, assertTrue } from "./assert.ts";
import { tempDir } from "./temp_dir.ts";

const OPTS = { sanitizeResources: false }; // the libc calls' library stays loaded

function put(root: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    Deno.mkdirSync(join(root, name, ".."), { recursive: true });
    if (name.endsWith("/")) Deno.mkdirSync(join(root, name), { recursive: true });
    else Deno.writeTextFileSync(join(root, name), text);
  }
}

Deno.test(
  "image tree: upper layers win, whiteouts hide, an opaque directory hides what is below it",
  OPTS,
  async () => {
    await using dir = await tempDir();
    const low = join(dir.path, "low"), mid = join(dir.path, "mid"), top = join(dir.path, "top");
    put(low, { "a/x": "low-x", "a/y": "low-y", "b/old": "old", "c/keep": "keep", "f": "low-f" });
    put(mid, { "a/x": "mid-x", "b/new": "new", "c/": "" });
    put(top, { "a/": "" });
    unpackCalls.whiteout(join(top, "a/y")); // rm a/y
    unpackCalls.setXattr(join(mid, "b"), "trusted.overlay.opaque", "y"); // rm -r b; mkdir b
    unpackCalls.whiteout(join(top, "f"));
    const t = new ImageTree("stage", [top, mid, low]);
    assertEquals(t.list(""), ["a", "b", "c"]);
    assertEquals(t.list("a"), ["x"]);
    assertEquals(Deno.readTextFileSync(t.hostPath("a/x")), "mid-x");
    assertEquals(t.lstat("a/y"), null);
    assertEquals(t.list("b"), ["new"]);
    assertEquals(t.lstat("b/old"), null);
    assertEquals(t.list("c"), ["keep"]);
    assertEquals(t.lstat("f"), null);
  },
);

Deno.test(
  "image tree: destinations resolve through the image's symlinks, never above its root",
  OPTS,
  async () => {
    await using dir = await tempDir();
    const l = join(dir.path, "l");
    put(l, { "usr/bin/": "", "etc/": "" });
    Deno.symlinkSync("usr/bin", join(l, "bin"));
    Deno.symlinkSync("/../../../etc", join(l, "up"));
    Deno.symlinkSync("loop2", join(l, "loop1"));
    Deno.symlinkSync("loop1", join(l, "loop2"));
    const t = new ImageTree("image", [l]);
    assertEquals(resolveInImage(t, "bin/sh", false), "usr/bin/sh");
    assertEquals(resolveInImage(t, "bin", true), "usr/bin");
    assertEquals(resolveInImage(t, "bin", false), "bin");
    assertEquals(resolveInImage(t, "up/passwd", false), "etc/passwd");
    assertEquals(resolveInImage(t, "loop1/x", false), "loop1/x"); // a loop: as given
  },
);

Deno.test(
  "context: .. and symlinked parents are refused, globs match one level each, ignored files are absent",
  OPTS,
  async () => {
    await using dir = await tempDir();
    const c = join(dir.path, "ctx");
    put(c, { "a.txt": "a", "b.txt": "b", "sub/c.txt": "c", "sub/d.log": "d", "keep/x.log": "x" });
    Deno.symlinkSync("/etc", join(c, "etc"));
    const t = new ContextTree(c, new IgnoreMatcher("*.log\n**/*.log\n!keep/x.log\n"));
    assertTrue(checkSourcePath(t, "../x")!.includes("outside the build context"));
    assertTrue(checkSourcePath(t, "sub/../../x")!.includes("outside the build context"));
    assertTrue(checkSourcePath(t, "etc/passwd")!.includes("is a symbolic link"));
    assertEquals(checkSourcePath(t, "etc"), null); // the link itself is copied as a link
    assertEquals(checkSourcePath(t, "/sub/c.txt"), null);
    assertEquals(globSources(t, "*.txt"), ["a.txt", "b.txt"]);
    assertEquals(globSources(t, "*/*"), ["keep/x.log", "sub/c.txt"]);
    assertEquals(t.lstat("sub/d.log"), null);
    assertEquals(t.list("sub"), ["c.txt"]);
  },
);

Deno.test(
  "context files are opened one name at a time: a symlink swapped in at any level is not followed out",
  OPTS,
  async () => {
    await using dir = await tempDir();
    const c = join(dir.path, "ctx");
    put(c, { "d/f": "inside\n" });
    put(dir.path, { "outside/d/f": "outside\n", "outside/f": "outside\n" });
    const read = async (rel: string) => {
      const f = await openUnder(c, rel);
      return new TextDecoder().decode(await new Response(f.readable).arrayBuffer());
    };
    assertEquals(await read("d/f"), "inside\n");
    // The file itself becomes a link out, then a parent directory does.
    Deno.renameSync(join(c, "d/f"), join(c, "d/f.old"));
    Deno.symlinkSync(join(dir.path, "outside/f"), join(c, "d/f"));
    await assertRejects(() => read("d/f"), Error);
    Deno.renameSync(join(c, "d"), join(c, "d.old"));
    Deno.symlinkSync(join(dir.path, "outside/d"), join(c, "d"));
    await assertRejects(() => read("d/f"), Error);
  },
);
