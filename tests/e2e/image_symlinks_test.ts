// Symlinks of an image keep their exact targets end to end: pulled from a
// registry on loopback, loaded from a docker archive, added by a build's ADD
// of a local tar, and imported; in the store's unpacked layer and as a running busybox
// container sees them. A hostile link (to a host directory, then an entry
// under it) is kept as a link and nothing is written on the host.

import { join } from "../../lib/_std/path.ts";
import { assertEquals, assertTrue as assert } from "../assert.ts";
import { berth, berthOk, busyboxRootfs, cleanup, makeRoots, type Roots } from "../helpers.ts";
import {
  busyboxLayer,
  dockerArchive,
  type TarEntry,
  tarOf,
  treeEntries,
  writeOciLayout,
} from "../image_fixture.ts";
import { haveRegistryTools, push, startRegistry } from "../image_registry.ts";

const ready = haveRegistryTools();
const OPTS = { ignore: !ready, sanitizeResources: false, sanitizeOps: false };

/** The links of the test layer and their targets. */
const LINKS: [string, string][] = [
  ["abs", "/"],
  ["up", "../../.."],
  ["links/sh", "/bin/busybox"],
  ["deep/rel", "../x"],
  ["dangling", "no/such/file"],
  ["links/to-link", "sh"],
];

/**
 * The layer's entries: LINKS, `x`, a hard link to `links/sh`, and the
 * hostile pair (`evil` -> `outside`, then `evil/file`).
 */
function linkEntries(outside: string): TarEntry[] {
  return [
    { name: "x", data: "x\n" },
    { name: "links/", type: "dir" },
    { name: "deep/", type: "dir" },
    ...LINKS.map(([name, linkname]) => ({ name, type: "symlink" as const, linkname })),
    // A second name of links/sh (GNU tar's hard link to a symlink): the same link.
    { name: "sh-hard", type: "hardlink", linkname: "links/sh" },
    { name: "evil", type: "symlink", linkname: outside },
    { name: "evil/file", data: "escaped\n" },
  ];
}

function linkLayer(outside: string): Uint8Array {
  return tarOf(linkEntries(outside));
}

function all(outside: string): [string, string][] {
  return [...LINKS, ["sh-hard", "/bin/busybox"], ["evil", outside]];
}

/** `readlink` of each link in `dir` (or what failed). */
function links(dir: string, outside: string): [string, string][] {
  return all(outside).map(([name]) => {
    try {
      return [name, Deno.readLinkSync(join(dir, name))];
    } catch (err) {
      return [name, `(${(err as Error).name})`];
    }
  });
}

/** What a busybox container reads of the links: their targets, and a run through two of them. */
async function inContainer(roots: Roots, image: string, name: string): Promise<string> {
  const script = [
    ...all("").map(([n]) => `echo "${n} $(readlink /${n})"`),
    "/links/sh -c 'echo sh-through-links'",
    "readlink -f /links/to-link",
    "cat /up/x /deep/rel",
    "if test -e /evil/file; then echo evil-file-present; fi",
  ].join("; ");
  const r = await berth(roots, ["run", "--rm", "--image", image, name, "--", "sh", "-c", script]);
  assertEquals(r.code, 0, r.stderr);
  return r.stdout;
}

function expectedInContainer(outside: string): string {
  return all(outside).map(([n, t]) => `${n} ${t}\n`).join("") +
    "sh-through-links\n/bin/busybox\nx\nx\n";
}

async function withOutside(fn: (outside: string, work: string) => Promise<void>): Promise<void> {
  const outside = await Deno.makeTempDir({ prefix: "berth-outside-" });
  const work = await Deno.makeTempDir({ prefix: "berth-links-" });
  try {
    await fn(outside, work);
    assertEquals([...Deno.readDirSync(outside)], [], "nothing written outside the layer");
  } finally {
    await Deno.remove(outside, { recursive: true });
    await Deno.remove(work, { recursive: true });
  }
}

Deno.test(
  "pull and load keep every symlink's exact target, in the store and in the container; a link out is never written through",
  OPTS,
  async () => {
    await withOutside(async (outside, work) => {
      const rootfs = await busyboxRootfs();
      const spec = { layers: [busyboxLayer(rootfs), linkLayer(outside)] };
      const want = all(outside);
      // Pulled from a registry on loopback.
      const reg = await startRegistry();
      const pulled = await makeRoots();
      try {
        const layout = join(work, "layout");
        const w = await writeOciLayout(layout, "1", spec);
        const ref = `${reg.host}/links:1`;
        await push(layout, "1", ref);
        await berthOk(pulled, ["pull", "-q", ref]);
        const layer = join(pulled.dataRoot, "image", "layers", w.chainIds[1]!.slice(7));
        assertEquals(links(layer, outside), want, "the pulled layer's links");
        assert(!exists(join(layer, "evil", "file")), "evil/file is not in the layer");
        assertEquals(await inContainer(pulled, ref, "p1"), expectedInContainer(outside));
        // Loaded from a docker archive.
        const loaded = await makeRoots();
        try {
          const file = join(work, "links.tar");
          Deno.writeFileSync(file, await dockerArchive("localhost/links:2", spec));
          await berthOk(loaded, ["load", "-q", "-i", file]);
          const l2 = join(loaded.dataRoot, "image", "layers", w.chainIds[1]!.slice(7));
          assertEquals(links(l2, outside), want, "the loaded layer's links");
          assertEquals(
            await inContainer(loaded, "localhost/links:2", "l1"),
            expectedInContainer(outside),
          );
          // Built FROM it, with an ADD of the same layer as a local tar.
          const ctx = join(work, "ctx");
          Deno.mkdirSync(ctx);
          Deno.writeFileSync(join(ctx, "links.tar"), linkLayer(outside));
          Deno.writeTextFileSync(
            join(ctx, "Containerfile"),
            "FROM localhost/links:2\nADD links.tar /added/\n",
          );
          await berthOk(loaded, ["build", "-q", "-t", "built:1", ctx]);
          const r = await berth(loaded, [
            "run",
            "--rm",
            "--image",
            "built:1",
            "b1",
            "--",
            "sh",
            "-c",
            want.map(([n]) => `echo "${n} $(readlink /${n}) $(readlink /added/${n})"`).join("; "),
          ]);
          assertEquals(r.code, 0, r.stderr);
          assertEquals(r.stdout, want.map(([n, t]) => `${n} ${t} ${t}\n`).join(""));
          // Imported: busybox and the links in one tar.
          const one = join(work, "one.tar");
          const bb = treeEntries(rootfs).map((e) =>
            e.type === "dir" ? { ...e, mode: (e.mode ?? 0) | 0o755 } : e
          );
          Deno.writeFileSync(one, tarOf([...bb, ...linkEntries(outside)]));
          await berthOk(loaded, ["import", one, "imported:1"]);
          assertEquals(
            await inContainer(loaded, "imported:1", "i1"),
            expectedInContainer(outside),
          );
        } finally {
          await cleanup(loaded);
        }
      } finally {
        await cleanup(pulled);
        await reg.stop();
      }
    });
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
