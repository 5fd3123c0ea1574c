// Issue 20's second security pass, against the real runc: an image's
// /etc/passwd that links out of its root, the seccomp additions probed from
// inside a container, and control characters from images and errors.
import { assertEquals, assertTrue } from "../assert.ts";
import { berth, berthOk, busyboxRootfs, cleanup, makeRoots, type Roots } from "../helpers.ts";
import { busyboxLayer, type ImageSpec, tarOf, writeOciLayout } from "../image_fixture.ts";

let bbLayer: Uint8Array | null = null;

/** Loads `spec` (on top of the busybox layer) as `ref` through an OCI layout. */
async function loadImage(roots: Roots, ref: string, spec: ImageSpec): Promise<void> {
  bbLayer ??= busyboxLayer(await busyboxRootfs());
  const dir = await Deno.makeTempDir({ prefix: "berth-layout-" });
  try {
    await writeOciLayout(dir, ref, { ...spec, layers: [bbLayer, ...spec.layers] });
    await berthOk(roots, ["load", "-q", "-i", dir]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function withImageRoots(fn: (roots: Roots) => Promise<void>): Promise<void> {
  const roots = await makeRoots();
  try {
    await fn(roots);
  } finally {
    await cleanup(roots);
  }
}

Deno.test("row 5: an image's /etc/passwd linking to the host's /etc/shadow or /dev/zero is no file", async () => {
  await withImageRoots(async (roots) => {
    const linked = (target: string) => ({
      layers: [tarOf([{ name: "etc/passwd", type: "symlink", linkname: target }])],
      config: { Cmd: ["id", "-u"], User: "root" },
    });
    await loadImage(roots, "example.com/shadow:1", linked("/etc/shadow"));
    await loadImage(roots, "example.com/zero:1", linked("/dev/zero"));
    for (const ref of ["example.com/shadow:1", "example.com/zero:1"]) {
      const t0 = performance.now();
      const r = await berth(roots, ["run", "--rm", "--pull", "never", "--image", ref, "u1"]);
      const ms = performance.now() - t0;
      // Before: the uid came from the host's shadow file (its "last change" day),
      // or berth read /dev/zero until it held gigabytes.
      assertEquals(r.code, 2, `${ref}: ${r.stdout}${r.stderr}`);
      assertEquals(r.stderr, `berth: user "root" is not in the image's /etc/passwd\n`);
      assertTrue(ms < 15_000, `${ref}: took ${ms} ms`);
      // --user NAME is resolved the same way; a numeric user still works.
      const byName = await berth(roots, [
        "run",
        "--rm",
        "--pull",
        "never",
        "--user",
        "root",
        "--image",
        ref,
        "u2",
        "--",
        "id",
        "-u",
      ]);
      assertEquals(byName.code, 2, byName.stdout + byName.stderr);
      assertEquals(
        byName.stderr,
        `berth: --user root: no such user in the container's /etc/passwd\n`,
      );
      const byNumber = await berth(roots, [
        "run",
        "--rm",
        "--pull",
        "never",
        "--user",
        "0",
        "--image",
        ref,
        "u3",
        "--",
        "id",
        "-u",
      ]);
      if (ref === "example.com/shadow:1") {
        assertEquals([byNumber.code, byNumber.stdout], [0, "0\n"], byNumber.stderr);
      } else {
        // runc itself reads the container's /etc/passwd (inside the container) for a
        // numeric user and stops at its line limit: one line, berth's memory untouched.
        assertEquals(byNumber.code, 1, byNumber.stdout);
        assertTrue(
          /^berth: create "u3": runtime: .*token too long\n$/.test(byNumber.stderr),
          byNumber.stderr,
        );
      }
    }
    await loadImage(roots, "example.com/num:1", {
      layers: [tarOf([{ name: "etc/passwd", type: "symlink", linkname: "/etc/shadow" }])],
      config: { Cmd: ["id", "-u"], User: "4242" },
    });
    const num = await berth(roots, [
      "run",
      "--rm",
      "--pull",
      "never",
      "--image",
      "example.com/num:1",
      "u4",
    ]);
    assertEquals([num.code, num.stdout], [0, "4242\n"], num.stderr);
  });
});
