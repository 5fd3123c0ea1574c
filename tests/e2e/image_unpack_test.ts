// Unpacked images end to end: directory modes against umoci's unpack and an
// unprivileged process in the container; a full data root (a size-capped
// tmpfs made here); archives with symlinked members; layer caps against a
// gzip bomb. Images are pushed with skopeo to a registry on loopback, or
// loaded from archives written here.

import { join } from "../../lib/_std/path.ts";
import { assertEquals, assertTrue as assert } from "../assert.ts";
import {
  berth,
  berthOk,
  busyboxRootfs,
  cleanup,
  makeRoots,
  type Roots,
  stateOf,
} from "../helpers.ts";
import {
  busyboxLayer,
  dockerArchive,
  gzip,
  type ImageSpec,
  sha256,
  tarOf,
  tarOfTree,
  writeOciLayout,
  type Written,
} from "../image_fixture.ts";
import { haveRegistryTools, push, type Registry, startRegistry } from "../image_registry.ts";

function onPath(tool: string): boolean {
  return (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":").some((d) => {
    try {
      return d !== "" && Deno.statSync(join(d, tool)).isFile;
    } catch {
      return false;
    }
  });
}

const ready = haveRegistryTools();
const OPTS = { ignore: !ready, sanitizeResources: false, sanitizeOps: false };

interface Env {
  roots: Roots;
  reg: Registry;
  rootfs: string;
  work: string;
  store: string;
  /** Writes `spec` as an OCI layout (kept in `layout`) and pushes it as `name:tag`. */
  publish(
    name: string,
    tag: string,
    spec: ImageSpec,
  ): Promise<{ ref: string; layout: string } & Written>;
}

async function withImages(fn: (e: Env) => Promise<void>): Promise<void> {
  const roots = await makeRoots();
  const rootfs = await busyboxRootfs();
  const reg = await startRegistry();
  const work = await Deno.makeTempDir({ prefix: "berth-oci-" });
  let n = 0;
  try {
    await fn({
      roots,
      reg,
      rootfs,
      work,
      store: join(roots.dataRoot, "image"),
      async publish(name, tag, spec) {
        const layout = join(work, `layout${n++}`);
        const w = await writeOciLayout(layout, tag, spec);
        const ref = `${reg.host}/${name}:${tag}`;
        await push(layout, tag, ref);
        return { ref, layout, ...w };
      },
    });
  } finally {
    await cleanup(roots);
    await reg.stop();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

let bbLayer: Uint8Array | null = null;
function base(rootfs: string): Uint8Array {
  return (bbLayer ??= busyboxLayer(rootfs));
}

function names(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

/** The store holds no image, layer, blob or partial download. */
function assertEmptyStore(store: string): void {
  for (const d of ["images", "layers", "blobs", "tmp"]) {
    assertEquals(names(join(store, d)), [], `${d}/ is not empty`);
  }
}

/** Every directory below `root` (not `root` itself): path → `MODE UID:GID`. */
function dirModes(root: string, rel = "", out = new Map<string, string>()): Map<string, string> {
  for (const e of Deno.readDirSync(join(root, rel))) {
    if (!e.isDirectory) continue;
    const r = rel === "" ? e.name : `${rel}/${e.name}`;
    const st = Deno.lstatSync(join(root, r));
    out.set(r, `${(st.mode! & 0o7777).toString(8)} ${st.uid}:${st.gid}`);
    dirModes(root, r, out);
  }
  return out;
}

function run(cmd: string, args: string[]): string {
  const o = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
  const err = new TextDecoder().decode(o.stderr);
  assert(o.success, `${cmd} ${args.join(" ")}: ${err}`);
  return new TextDecoder().decode(o.stdout);
}

/** One line of stderr, starting `berth: `. */
function assertOneLine(stderr: string, re: RegExp): void {
  assert(/^berth: [^\n]*\n$/.test(stderr), `not one berth: line: ${JSON.stringify(stderr)}`);
  assert(re.test(stderr), `${JSON.stringify(stderr)} does not match ${re}`);
}

Deno.test(
  "directory modes of a multi-layer image are umoci unpack's; an unprivileged user cannot replace root's files",
  { ...OPTS, ignore: !ready || !onPath("umoci") },
  async () => {
    await withImages(async ({ roots, rootfs, publish, work }) => {
      const img = await publish("modes", "1", {
        layers: [
          base(rootfs),
          tarOf([
            { name: "opt/", type: "dir", mode: 0o2775, uid: 7 },
            // opt/app/ and srv/ are not listed, nor anywhere below: 0755 root.
            { name: "opt/app/conf", data: "root's\n" },
            { name: "gone/", type: "dir", mode: 0o1777 },
            { name: "opq/", type: "dir", mode: 0o1777 },
            { name: "opq/sub/", type: "dir", mode: 0o2775, uid: 9 },
            { name: "tmp/", type: "dir", mode: 0o1777 },
            { name: "tmp/rootfile", data: "root's\n" },
            { name: "srv/team/", type: "dir", mode: 0o2775, gid: 100 },
            { name: "var/spool/drop/", type: "dir", mode: 0o3733, uid: 8, gid: 12 },
            { name: "ro/", type: "dir", mode: 0o555 },
            { name: "ro/f", data: "x" },
          ]),
          tarOf([
            // Listed again over the lower layer's directory: this entry's mode and owner.
            { name: "srv/team/", type: "dir", mode: 0o2770, uid: 65534, gid: 65534 },
            { name: "srv/team/notes", data: "n" },
            // Implicit here: tmp/ and opt/ take layer 1's mode and owner; opt/y/ is nowhere below.
            { name: "tmp/x", data: "x" },
            { name: "opt/y/z", data: "z" },
            { name: ".wh.gone", data: "" },
            { name: "opq/.wh..wh..opq", data: "" },
          ]),
          tarOf([
            // gone/ was whited out and opq/sub/ is under an opaque directory in the layer
            // between: neither is below any more, so 0755 root; opq/ itself keeps layer 1's.
            { name: "gone/new", data: "n" },
            { name: "opq/sub/f", data: "f" },
          ]),
        ],
      });
      const bundle = join(work, "umoci-bundle");
      // umoci's mkdir of a directory no layer lists takes the umask: the usual 022, whatever
      // umask another test file running in this process (deno test --parallel) has set.
      run("sh", [
        "-c",
        'umask 022 && exec umoci "$@"',
        "sh",
        "unpack",
        "--image",
        `${img.layout}:1`,
        bundle,
      ]);
      const want = dirModes(join(bundle, "rootfs"));
      // The contract's modes. umoci makes a directory nowhere below with mkdir, so under a
      // setgid directory it inherits the setgid bit (the kernel's rule); the contract says
      // 0755 root:root for it: those paths are the one difference allowed, and asserted.
      const contract = new Map([
        ["opt", "2775 7:0"],
        ["opt/app", "755 0:0"],
        ["opt/y", "755 0:0"],
        ["tmp", "1777 0:0"],
        ["srv/team", "2770 65534:65534"],
        ["gone", "755 0:0"],
        ["opq", "1777 0:0"],
        ["opq/sub", "755 0:0"],
      ]);
      const setgidParent = new Map([["opt/app", "2755 0:0"], ["opt/y", "2755 0:0"]]);
      for (const [p, m] of contract) {
        assertEquals(want.get(p), setgidParent.get(p) ?? m, `umoci's ${p}`);
      }
      await berthOk(roots, ["pull", "-q", img.ref]);
      await berthOk(roots, ["create", "--image", img.ref, "c1", "--", "true"]);
      const merged = join((await stateOf(roots, "c1")).bundle as string, "rootfs");
      const got = dirModes(merged);
      for (const [p, m] of contract) assertEquals(got.get(p), m, `${p} in the container`);
      const diff = [...want].filter(([p, m]) => got.get(p) !== m && !setgidParent.has(p)).map((
        [p, m],
      ) => `${p}: ${got.get(p)} (umoci ${m})`);
      assertEquals(diff, [], "directories that differ from umoci's unpack");
      await berthOk(roots, ["delete", "-f", "c1"]);
      // A process as nobody: root's files in a 0755 directory and in sticky /tmp stay.
      const script = [
        "rm -f /opt/app/conf 2>/dev/null && echo removed-conf",
        "echo mine > /opt/app/new 2>/dev/null && echo created-in-opt",
        "mv /opt/app/conf /opt/app/moved 2>/dev/null && echo moved-conf",
        "rm -f /tmp/rootfile 2>/dev/null && echo removed-tmp-file",
        "echo mine > /tmp/mine && echo tmp-writable",
        "id -u",
      ].join("; ");
      const r = await berth(roots, [
        "run",
        "--rm",
        "-u",
        "65534",
        "--image",
        img.ref,
        "c2",
        "--",
        "sh",
        "-c",
        script,
      ]);
      assertEquals(r.stdout, "tmp-writable\n65534\n", r.stderr);
    });
  },
);

/** Incompressible bytes. */
function noise(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) {
    crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  }
  return out;
}

Deno.test(
  "a full data root fails the pull with one line, publishing nothing and leaving no temp dir; with room the next pull succeeds",
  OPTS,
  async () => {
    await withImages(async ({ roots, rootfs, publish, store, work }) => {
      const size = 12 << 20;
      const spec = {
        layers: [
          base(rootfs),
          tarOf([{ name: "bin/", type: "dir" }, { name: "bin/big", data: noise(size) }]),
        ],
        config: { Cmd: ["sh", "-c", "wc -c < /bin/big"] },
      };
      const img = await publish("big", "1", spec);
      Deno.mkdirSync(roots.dataRoot, { recursive: true, mode: 0o700 });
      run("mount", ["-t", "tmpfs", "-o", "size=6m,mode=0700", "tmpfs", roots.dataRoot]);
      try {
        const r = await berth(roots, ["pull", "-q", img.ref]);
        assertEquals(r.code, 1, r.stderr);
        assert(!names(join(store, "layers")).includes(img.chainIds[1]!.slice(7)), "published");
        assertEquals(names(join(store, "tmp")), [], "a temp dir is left");
        assertEquals(names(join(store, "images")), []);
        // A file being unpacked (which one depends on how far the layers got), or the layer's
        // blob kept beside it, whichever the disk fails.
        assertOneLine(
          r.stderr,
          /(cannot unpack layer: [^\n]+|the blob of layer sha256:[0-9a-f]{64}): No space left on device/,
        );
        // A load fails in one line, publishing nothing and leaving no temp dir.
        const loadFails = async (archive: string) => {
          const l = await berth(roots, ["load", "-q", "-i", archive]);
          assertEquals(l.code, 1, l.stderr);
          assertOneLine(
            l.stderr,
            /^berth: (cannot unpack layer: [^\n]+|cannot store the blob of layer sha256:[0-9a-f]{64}): No space left on device/,
          );
          assert(!names(join(store, "layers")).includes(img.chainIds[1]!.slice(7)), "published");
          assertEquals(names(join(store, "tmp")), [], "a temp dir is left");
          assertEquals(names(join(store, "images")), []);
        };
        // The same image as an OCI archive: its big members are read in place (not
        // copied into tmp/), so storing the layer (its blob or its files) fails.
        const archive = join(work, "big.tar");
        Deno.writeFileSync(archive, tarOfTree(img.layout));
        await loadFails(archive);
        // A docker-archive: uncompressed layers, whose blobs are written while they unpack.
        const docker = join(work, "big-docker.tar");
        Deno.writeFileSync(docker, await dockerArchive("localhost/big:1", spec));
        await loadFails(docker);
        // Space freed (the filesystem grown): the next pull fetches the layer again, whole.
        run("mount", ["-o", "remount,size=64m", roots.dataRoot]);
        const again = await berth(roots, ["pull", img.ref]);
        assertEquals(again.code, 0, again.stderr);
        const c = await berth(roots, ["run", "--rm", "--image", img.ref, "c1"]);
        assertEquals([c.code, c.stdout.trim()], [0, String(size)], c.stderr);
      } finally {
        await cleanup(roots);
        new Deno.Command("umount", { args: ["-l", roots.dataRoot] }).outputSync();
      }
    });
  },
);

/** A docker-archive (`docker save`) with the members `entries` plus its config and manifest. */
async function craftedArchive(
  layerPath: string,
  diffId: string,
  entries: Parameters<typeof tarOf>[0],
) {
  const config = JSON.stringify({
    architecture: Deno.build.arch === "x86_64" ? "amd64" : "arm64",
    os: "linux",
    config: {},
    rootfs: { type: "layers", diff_ids: [diffId] },
  });
  const cd = (await sha256(new TextEncoder().encode(config))).slice(7);
  return tarOf([
    ...entries,
    { name: `${cd}.json`, data: config },
    {
      name: "manifest.json",
      data: JSON.stringify([{
        Config: `${cd}.json`,
        RepoTags: ["example.com/x:1"],
        Layers: [layerPath],
      }]),
    },
  ]);
}

Deno.test(
  "load: a layer.tar that is a symlink out of the archive is one line (exit 2), nothing left; a layer.tar whose bytes are not its diff_id's is refused; one inside it loads",
  OPTS,
  async () => {
    const roots = await makeRoots();
    const dir = await Deno.makeTempDir({ prefix: "berth-load-" });
    const store = join(roots.dataRoot, "image");
    try {
      const layer = tarOf([{ name: "hello", data: "hi\n" }]);
      const d = await sha256(layer);
      // Absolute: node-tar refuses the entry (it used to be an unhandled rejection with a stack).
      const abs = await craftedArchive("abc/layer.tar", d, [
        { name: "abc/", type: "dir" },
        { name: "abc/layer.tar", type: "symlink", linkname: "/etc/passwd" },
      ]);
      // A chain of links, each inside by its text, that climbs out of the archive's directory.
      const chain: Parameters<typeof tarOf>[0] = [{ name: "abc/", type: "dir" }];
      chain.push({ name: "abc/u0", type: "symlink", linkname: ".." });
      for (let i = 1; i < 24; i++) {
        chain.push({ name: `abc/u${i}`, type: "symlink", linkname: `u${i - 1}/..` });
      }
      chain.push({ name: "abc/layer.tar", type: "symlink", linkname: "u23/etc/passwd" });
      const climb = await craftedArchive("abc/layer.tar", d, chain);
      for (
        const [name, bytes, re] of [
          ["abs.tar", abs, /^berth: malformed archive .*abs\.tar: .*linkpath/],
          [
            "climb.tar",
            climb,
            /^berth: malformed archive .*climb\.tar: .*symbolic link/,
          ],
        ] as const
      ) {
        Deno.writeFileSync(join(dir, name), bytes);
        const r = await berth(roots, ["load", "-i", join(dir, name)]);
        assertEquals(r.code, 2, r.stderr);
        assertOneLine(r.stderr, re);
        assertEmptyStore(store);
      }
      // An OCI layout directory whose layer blob is a link to a file outside it (with the
      // right digest even): refused, as is a layer blob that is no regular file.
      const layout = join(dir, "layout");
      const w = await writeOciLayout(layout, "example.com/l:1", { layers: [layer] });
      const blob = join(layout, "blobs", "sha256", w.layerDigests[0]!.slice(7));
      Deno.renameSync(blob, join(dir, "outside-blob"));
      Deno.symlinkSync(join(dir, "outside-blob"), blob);
      const out = await berth(roots, ["load", "-i", layout]);
      assertEquals(out.code, 2, out.stderr);
      assertOneLine(out.stderr, /leads outside the archive/);
      assertEmptyStore(store);
      Deno.removeSync(blob);
      Deno.mkdirSync(blob);
      const notFile = await berth(roots, ["load", "-i", layout]);
      assertEquals(notFile.code, 2, notFile.stderr);
      assertOneLine(notFile.stderr, /is not a file/);
      assertEmptyStore(store);
      // An uncompressed layer whose bytes are not those of its config's diff_id (its digest
      // is taken to be the diff_id, checked as it streams in): refused, nothing stored.
      Deno.writeFileSync(
        join(dir, "tampered.tar"),
        await craftedArchive("abc/layer.tar", d, [
          { name: "abc/", type: "dir" },
          { name: "abc/layer.tar", data: tarOf([{ name: "hello", data: "HI\n" }]) },
        ]),
      );
      const bad = await berth(roots, ["load", "-i", join(dir, "tampered.tar")]);
      assertEquals(bad.code, 1, bad.stderr);
      assertOneLine(bad.stderr, /^berth: .*layer/);
      assertEmptyStore(store);
      // docker save's own links (one layer, linked from a second directory) stay inside: loaded.
      Deno.writeFileSync(
        join(dir, "ok.tar"),
        await craftedArchive("def/layer.tar", d, [
          { name: "abc/", type: "dir" },
          { name: "abc/layer.tar", data: layer },
          { name: "def/", type: "dir" },
          { name: "def/layer.tar", type: "symlink", linkname: "../abc/layer.tar" },
        ]),
      );
      const ok = await berth(roots, ["load", "-q", "-i", join(dir, "ok.tar")]);
      assertEquals(ok.code, 0, ok.stderr);
      assertEquals(names(join(store, "layers")), [d.slice(7)]);
      assertEquals(names(join(store, "tmp")), []);
    } finally {
      await cleanup(roots);
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "a gzip bomb layer over --max-unpacked-size (or the host's BERTH_MAX_LAYER_SIZE), or a layer over BERTH_MAX_LAYER_ENTRIES, is refused with one line, nothing left; no cap by default",
  OPTS,
  async () => {
    const roots = await makeRoots();
    const dir = await Deno.makeTempDir({ prefix: "berth-bomb-" });
    const store = join(roots.dataRoot, "image");
    try {
      // 96 MiB of zeros: about 100 KB gzipped.
      const bomb = tarOf([{ name: "zeros", data: new Uint8Array(96 << 20) }]);
      await writeOciLayout(join(dir, "bomb"), "example.com/bomb:1", { layers: [bomb] });
      assert(Deno.statSync(join(dir, "bomb")).isDirectory);
      const gz = await gzip(bomb);
      assert(gz.length < 1 << 20, `${gz.length}`);
      const wide = tarOf(Array.from({ length: 50 }, (_, i) => ({ name: `e${i}`, data: "" })));
      await writeOciLayout(join(dir, "wide"), "example.com/wide:1", { layers: [wide] });
      const r = await berth(roots, [
        "load",
        "-q",
        "--max-unpacked-size",
        "16m",
        "-i",
        join(dir, "bomb"),
      ]);
      assertEquals(r.code, 1, r.stderr);
      assertOneLine(r.stderr, /layer unpacks to more than 16 MiB \(the cap, --max-unpacked-size\)/);
      assertEmptyStore(store);
      // The host-wide default, when the option is not given; the option wins over it.
      const host = { BERTH_MAX_LAYER_SIZE: "16m" };
      const h = await berth(roots, ["load", "-q", "-i", join(dir, "bomb")], host);
      assertEquals(h.code, 1, h.stderr);
      assertOneLine(h.stderr, /more than 16 MiB \(the cap, BERTH_MAX_LAYER_SIZE\)/);
      assertEmptyStore(store);
      const w = await berth(roots, ["load", "-q", "-i", join(dir, "wide")], {
        BERTH_MAX_LAYER_ENTRIES: "40",
      });
      assertEquals(w.code, 1, w.stderr);
      assertOneLine(w.stderr, /more than 40 entries/);
      assertEmptyStore(store);
      // A bad cap: exit 2 before anything is read or fetched (no registry is there).
      for (
        const args of [
          ["load", "--max-unpacked-size", "lots", "-i", join(dir, "wide")],
          ["pull", "--max-unpacked-size", "lots", "127.0.0.1:9/none:1"],
          ["run", "--rm", "--image", "127.0.0.1:9/none:1", "--max-unpacked-size", "0", "c1"],
        ]
      ) {
        const bad = await berth(roots, args);
        assertEquals(bad.code, 2, bad.stderr);
        assertOneLine(bad.stderr, /--max-unpacked-size "(lots|0)" must be a size/);
        assertEmptyStore(store);
      }
      const env = await berth(roots, ["load", "-i", join(dir, "wide")], {
        BERTH_MAX_LAYER_SIZE: "lots",
      });
      assertEquals(env.code, 2, env.stderr);
      assertOneLine(env.stderr, /BERTH_MAX_LAYER_SIZE "lots"/);
      // With neither there is no cap (the contract's default); the option lifts the host's.
      assertEquals((await berth(roots, ["load", "-q", "-i", join(dir, "bomb")])).code, 0);
      assertEquals((await berth(roots, ["rmi", "example.com/bomb:1"])).code, 0);
      const lifted = await berth(
        roots,
        ["load", "-q", "--max-unpacked-size", "none", "-i", join(dir, "bomb")],
        host,
      );
      assertEquals(lifted.code, 0, lifted.stderr);
      assertEquals((await berth(roots, ["load", "-q", "-i", join(dir, "wide")])).code, 0);
    } finally {
      await cleanup(roots);
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "pull --max-unpacked-size refuses a layer over it, nothing published; under it the image pulls",
  OPTS,
  async () => {
    await withImages(async ({ roots, publish, store }) => {
      const img = await publish("capped", "1", {
        layers: [tarOf([{ name: "zeros", data: new Uint8Array(8 << 20) }])],
      });
      const r = await berth(roots, ["pull", "-q", "--max-unpacked-size", "4m", img.ref]);
      assertEquals(r.code, 1, r.stderr);
      assertOneLine(r.stderr, /layer unpacks to more than 4 MiB \(the cap, --max-unpacked-size\)/);
      assertEmptyStore(store);
      await berthOk(roots, ["pull", "-q", "--max-unpacked-size", "9m", img.ref]);
    });
  },
);
