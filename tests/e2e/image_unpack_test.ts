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
  gzip,
  type ImageSpec,
  sha256,
  tarOf,
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
            // opt/ and opt/app/, srv/ are not listed: 0755 root.
            { name: "opt/app/conf", data: "root's\n" },
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
          ]),
        ],
      });
      const bundle = join(work, "umoci-bundle");
      run("umoci", ["unpack", "--image", `${img.layout}:1`, bundle]);
      const want = dirModes(join(bundle, "rootfs"));
      for (
        const [p, m] of [["opt", "755 0:0"], ["tmp", "1777 0:0"], ["srv/team", "2770 65534:65534"]]
      ) {
        assertEquals(want.get(p!), m, `umoci's ${p}`);
      }
      await berthOk(roots, ["pull", "-q", img.ref]);
      await berthOk(roots, ["create", "--image", img.ref, "c1", "--", "true"]);
      const merged = join((await stateOf(roots, "c1")).bundle as string, "rootfs");
      const got = dirModes(merged);
      const diff = [...want].filter(([p, m]) => got.get(p) !== m).map(([p, m]) =>
        `${p}: ${got.get(p)} (umoci ${m})`
      );
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
