// Getting layers into the store (ensureLayers) with the real node-tar, the
// real libc calls and a real store in a temp dir: layers are published
// bottom first under their chain IDs, an implicit directory takes the mode
// of the layer below even when that layer arrives last, the diff_id is
// checked over the decompressed stream, and a failed syncfs publishes
// nothing.

import { join } from "../lib/_std/path.ts";
import { ErrnoError } from "../lib/host/libc.ts";
import { RuntimeError } from "../lib/host/errors.ts";
import { chainIds } from "../lib/image/_chain_id.ts";
import { FS_TOPDIR_FL, inodeFlags, type UnpackCalls, unpackCalls } from "../lib/image/_ffi.ts";
import { DEFAULT_LAYER_LIMITS } from "../lib/image/_layer_limits.ts";
import { ensureLayers, type LayerSource } from "../lib/image/_layers.ts";
import { quietProgress } from "../lib/image/_progress.ts";
import { ImageStore } from "../lib/image/_store.ts";
import { assertEquals, assertRejects, assertThrows, assertTrue as assert } from "./assert.ts";
import { gzip, sha256, tarOf } from "./image_fixture.ts";

// The libc calls are opened once per process and kept: open them outside any test.
unpackCalls.isOpaque("/");

const names = (d: string) => [...Deno.readDirSync(d)].map((e) => e.name).sort();

/** A gzip layer of `tar`, opened after `delayMs`; `diffId` overrides the true one. */
async function layer(tar: Uint8Array, delayMs = 0, diffId?: string): Promise<LayerSource> {
  const gz = await gzip(tar);
  return {
    diffId: diffId ?? await sha256(tar),
    digest: await sha256(gz),
    size: gz.length,
    mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
    open: async () => {
      await new Promise((r) => setTimeout(r, delayMs));
      return new Blob([gz as BlobPart]).stream();
    },
  };
}

async function withStore(fn: (s: ImageStore) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "berth-layers-" });
  try {
    await fn(new ImageStore(join(dir, "image")));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function attrs(path: string): string {
  const st = Deno.lstatSync(path);
  return `${(st.mode! & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
}

Deno.test("chain IDs: the bottom layer's is its diff_id, each next one sha256 of 'below diff_id'", async () => {
  const [a, b, c] = ["a", "b", "c"].map((x) => `sha256:${x.repeat(64)}`) as [
    string,
    string,
    string,
  ];
  const ab = await sha256(new TextEncoder().encode(`${a} ${b}`));
  assertEquals(await chainIds([a, b, c]), [
    a,
    ab,
    await sha256(new TextEncoder().encode(`${ab} ${c}`)),
  ]);
});

Deno.test("layers are published bottom first by chain ID; an implicit directory takes the mode of the layer below, even one that arrives last", async () => {
  await withStore(async (store) => {
    const l0 = await layer(
      tarOf([
        { name: "tmp/", type: "dir", mode: 0o1777 },
        { name: "opt/", type: "dir", mode: 0o2775, uid: 7 },
      ]),
      300, // its blob comes after the upper layer is unpacked
    );
    const l1 = await layer(tarOf([{ name: "tmp/x", data: "x" }, { name: "opt/y/z", data: "z" }]));
    const { records, release } = await ensureLayers(
      store,
      [l0, l1],
      quietProgress,
      null,
      DEFAULT_LAYER_LIMITS,
    );
    release();
    const chains = await chainIds([l0.diffId, l1.diffId]);
    assertEquals(records.map((r) => r.chainId), chains);
    assertEquals(names(join(store.dir, "layers")), chains.map((c) => c.slice(7)).sort());
    const top = store.layerDir(chains[1]!);
    assertEquals(
      [attrs(join(top, "tmp")), attrs(join(top, "opt")), attrs(join(top, "opt/y"))],
      ["1777 0:0", "2775 7:0", "755 0:0"],
    );
    assertEquals(names(store.tmpDir), []);
  });
});

Deno.test("the diff_id is checked over the decompressed stream: the compressed blob's digest as diff_id fails", async () => {
  await withStore(async (store) => {
    const tar = tarOf([{ name: "f", data: "f" }]);
    const bad = await layer(tar);
    const wrong = await layer(tar, 0, bad.digest); // the gzip blob's sha256
    await assertRejects(
      () => ensureLayers(store, [wrong], quietProgress, null, DEFAULT_LAYER_LIMITS),
      RuntimeError,
      `diff_id ${bad.diffId}, the config says ${bad.digest}`,
    );
    assertEquals([names(join(store.dir, "layers")), names(store.tmpDir)], [[], []]);
    const ok = await ensureLayers(store, [bad], quietProgress, null, DEFAULT_LAYER_LIMITS);
    ok.release();
    assert(store.hasLayer(bad.diffId));
  });
});

Deno.test("a layer is synced before it is published; a failed syncfs fails it, nothing published, no temp dir", async () => {
  await withStore(async (store) => {
    const l = await layer(tarOf([{ name: "etc/f", data: "data" }]));
    const seen: string[] = [];
    const recording: UnpackCalls = {
      ...unpackCalls,
      syncer(path) {
        // Opened on the empty temp dir, before the layer is written.
        seen.push(`open ${names(path).length}`);
        const real = unpackCalls.syncer(path);
        return {
          sync() {
            // On the temp dir, whole, before the rename.
            seen.push(`sync ${Deno.readTextFileSync(join(path, "etc/f"))}`);
            assert(!store.hasLayer(l.diffId), "published before syncfs");
            real.sync();
          },
          close: () => real.close(),
        };
      },
    };
    (await ensureLayers(store, [l], quietProgress, null, DEFAULT_LAYER_LIMITS, recording))
      .release();
    assertEquals(seen, ["open 0", "sync data"]);
    assert(store.hasLayer(l.diffId));
    await withStore(async (other) => {
      const failing: UnpackCalls = {
        ...unpackCalls,
        syncer(path) {
          const real = unpackCalls.syncer(path);
          return {
            sync() {
              throw new ErrnoError(`syncfs ${path}`, 5);
            },
            close: () => real.close(),
          };
        },
      };
      await assertRejects(
        () => ensureLayers(other, [l], quietProgress, null, DEFAULT_LAYER_LIMITS, failing),
        RuntimeError,
        `cannot unpack layer ${l.digest}: syncfs`,
      );
      assertEquals([names(join(other.dir, "layers")), names(other.tmpDir)], [[], []]);
    });
  });
});

Deno.test("syncfs through libc: a directory opened, then written, syncs; a path that is not a directory is an ErrnoError", async () => {
  const dir = await Deno.makeTempDir({ prefix: "berth-syncfs-" });
  try {
    const s = unpackCalls.syncer(dir);
    Deno.writeFileSync(join(dir, "f"), new Uint8Array(1));
    s.sync();
    s.close();
    s.close();
    assertThrows(() => s.sync(), ErrnoError, "syncfs");
    assertThrows(() => unpackCalls.syncer(join(dir, "f")), ErrnoError, "open");
    assertThrows(() => unpackCalls.syncer(join(dir, "missing")), ErrnoError, "open");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the store's tmp/ is marked a top of directory hierarchies (chattr +T), so ext4 spreads each layer's directory", async () => {
  await withStore(async (store) => {
    const lsattr = async (path: string) => {
      const r = await new Deno.Command("lsattr", { args: ["-d", path], stderr: "null" }).output();
      return r.code === 0 ? new TextDecoder().decode(r.stdout).split(" ")[0]! : null;
    };
    store.init();
    assertEquals((await lsattr(store.tmpDir))?.includes("T") ?? false, false); // not before
    const l = await layer(tarOf([{ name: "etc/f", data: "data" }]));
    (await ensureLayers(store, [l], quietProgress, null, DEFAULT_LAYER_LIMITS)).release();
    const flags = inodeFlags(store.tmpDir);
    if (flags === null) return; // a file system without inode flags (tmpfs): nothing to mark
    assert((flags & FS_TOPDIR_FL) !== 0, `flags ${flags.toString(16)}`);
    // Read by lsattr too (not by berth's own ioctl).
    assert((await lsattr(store.tmpDir))!.includes("T"));
    assert(store.hasLayer(l.diffId));
  });
});
