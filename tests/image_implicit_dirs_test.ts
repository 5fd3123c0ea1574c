// Implicit directories of a layer take what the layers below give the same
// path, read as overlayfs reads them (real directories, real whiteouts and
// opaque marks made by the real libc calls; no symlink followed).

import { join } from "../lib/_std/path.ts";
import { unpackCalls } from "../lib/image/_ffi.ts";
import { inheritImplicitDirs, lowerDirAttrs } from "../lib/image/_implicit_dirs.ts";
import { loadNode } from "../lib/image/_node.ts";
import { openUmask, unpackLayer } from "../lib/image/_unpack.ts";
import { assertEquals } from "./assert.ts";
import { tarOf } from "./image_fixture.ts";

// The libc calls are opened once per process and kept: open them outside any test.
unpackCalls.isOpaque("/");

function mkdir(root: string, rel: string, mode: number, uid = 0, gid = 0): void {
  const p = join(root, rel);
  Deno.mkdirSync(p, { recursive: true });
  Deno.chownSync(p, uid, gid);
  Deno.chmodSync(p, mode);
}

function attrs(root: string, rel: string): string {
  const st = Deno.lstatSync(join(root, rel));
  return `${(st.mode! & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
}

async function withDirs(n: number, fn: (dirs: string[]) => Promise<void> | void): Promise<void> {
  const top = await Deno.makeTempDir({ prefix: "berth-implicit-" });
  const dirs = Array.from({ length: n }, (_, i) => join(top, `l${i}`));
  for (const d of dirs) Deno.mkdirSync(d);
  try {
    await fn(dirs);
  } finally {
    await Deno.remove(top, { recursive: true });
  }
}

Deno.test("an implicit directory takes the top-most lower layer's mode (special bits included) and owner", async () => {
  await withDirs(4, (d) => {
    const [layer, l2, l1, l0] = d as [string, string, string, string];
    mkdir(l0, "tmp", 0o755);
    mkdir(l1, "tmp", 0o1777);
    mkdir(l1, "opt", 0o2775, 7, 0);
    mkdir(l2, "opt/other", 0o700); // l2's opt is one of its implicit dirs, already given l1's
    Deno.chownSync(join(l2, "opt"), 7, 0);
    Deno.chmodSync(join(l2, "opt"), 0o2775);
    for (const rel of ["tmp", "opt", "opt/y", "new"]) Deno.mkdirSync(join(layer, rel));
    inheritImplicitDirs(layer, ["new", "opt", "opt/y", "tmp"], [l2, l1, l0], unpackCalls);
    assertEquals(
      ["tmp", "opt", "opt/y", "new"].map((p) => attrs(layer, p)),
      ["1777 0:0", "2775 7:0", "755 0:0", "755 0:0"],
    );
  });
});

Deno.test("a whiteout, a file, a symlink or an opaque directory in a layer between hides the path below", async () => {
  await withDirs(2, (d) => {
    const [l1, l0] = d as [string, string];
    for (const p of ["wh", "file", "link", "opq/sub", "opq/kept", "deep/a/b"]) {
      mkdir(l0, p, 0o1777, 5, 5);
    }
    unpackCalls.whiteout(join(l1, "wh"));
    Deno.writeFileSync(join(l1, "file"), new Uint8Array());
    mkdir(l1, "target", 0o3777, 6, 6);
    Deno.symlinkSync("target", join(l1, "link"));
    mkdir(l1, "opq/kept", 0o2700, 8, 8);
    unpackCalls.setXattr(join(l1, "opq"), "trusted.overlay.opaque", "y");
    unpackCalls.whiteout(join(l1, "deep"));
    const got = (rel: string) => {
      const a = lowerDirAttrs([l1, l0], rel, unpackCalls);
      return `${a.mode.toString(8)} ${a.uid}:${a.gid}`;
    };
    assertEquals(got("wh"), "755 0:0");
    assertEquals(got("file"), "755 0:0");
    assertEquals(got("link"), "755 0:0"); // never through the symlink to target/
    assertEquals(got("opq/sub"), "755 0:0");
    assertEquals(got("opq/kept"), "2700 8:8");
    assertEquals(got("deep/a/b"), "755 0:0");
    assertEquals(lowerDirAttrs([l0], "opq/sub", unpackCalls).mode, 0o1777); // without l1
  });
});

Deno.test("below an opaque directory of the layer itself, an implicit directory is 0755 root's", async () => {
  await withDirs(2, (d) => {
    const [layer, l0] = d as [string, string];
    mkdir(l0, "a/b", 0o1777);
    mkdir(l0, "c/b", 0o1777);
    mkdir(layer, "a/b", 0o755);
    mkdir(layer, "c/b", 0o755);
    unpackCalls.setXattr(join(layer, "a"), "trusted.overlay.opaque", "y");
    inheritImplicitDirs(layer, ["a/b", "c/b"], [l0], unpackCalls);
    assertEquals([attrs(layer, "a/b"), attrs(layer, "c/b")], ["755 0:0", "1777 0:0"]);
  });
});

Deno.test("unpackLayer reports the directories it made without a listing: parents of entries, whiteouts and opaque marks", async () => {
  await loadNode();
  await withDirs(1, async ([dir]) => {
    const restore = openUmask();
    try {
      const got = await unpackLayer(
        new Blob([
          tarOf([
            { name: "srv/", type: "dir", mode: 0o750 },
            { name: "srv/f", data: "f" },
            { name: "tmp/x", data: "x" },
            { name: "opt/y/z", data: "z" },
            { name: "w/.wh.gone", data: "" },
            { name: "o/.wh..wh..opq", data: "" },
            { name: "l", type: "symlink", linkname: "/etc" },
          ]) as BlobPart,
        ]).stream(),
        "none",
        dir!,
      );
      assertEquals(got.implicitDirs, ["o", "opt", "opt/y", "tmp", "w"]);
      assertEquals(attrs(dir!, "srv"), "750 0:0");
    } finally {
      restore();
    }
  });
});
