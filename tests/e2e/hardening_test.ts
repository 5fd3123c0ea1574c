// Issue 20's second security pass, against the real runc: an image's
// /etc/passwd that links out of its root, the seccomp additions probed from
// inside a container, and control characters from images and errors.
import { join } from "../../lib/_std/path.ts";
import { assertEquals, assertTrue } from "../assert.ts";
import {
  berth,
  berthOk,
  busyboxRootfs,
  cleanup,
  makeRoots,
  type Roots,
  withRoots,
} from "../helpers.ts";
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

/**
 * A static probe: each line NAME=ok or NAME=ERRNO-NAME. It only creates
 * sockets (never connect()s: on a VM, vsock reaches the hypervisor).
 */
const PROBE_C = `#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifndef SYS_io_uring_setup
#define SYS_io_uring_setup 425
#define SYS_io_uring_enter 426
#define SYS_io_uring_register 427
#endif
#ifndef SYS_memfd_secret
#define SYS_memfd_secret 447
#endif
static void show(const char *name, long r) {
  printf("%s=%s\\n", name, r < 0 ? strerrorname_np(errno) : "ok");
}
int main(void) {
  char params[120];
  memset(params, 0, sizeof params);
  show("io_uring_setup", syscall(SYS_io_uring_setup, 1, params));
  show("io_uring_enter", syscall(SYS_io_uring_enter, -1, 0, 0, 0, 0, 0));
  show("io_uring_register", syscall(SYS_io_uring_register, -1, 0, 0, 0));
  show("socket_vsock", socket(40 /* AF_VSOCK */, SOCK_STREAM, 0));
  show("socket_unix", socket(AF_UNIX, SOCK_STREAM, 0));
  show("memfd_secret", syscall(SYS_memfd_secret, 0));
  show("personality_read_implies_exec", syscall(SYS_personality, 0x400000UL));
  show("personality_addr_no_randomize", syscall(SYS_personality, 0x40000UL));
  show("personality_over_32_bits", syscall(SYS_personality, 0x100000000UL));
  show("personality_linux32", syscall(SYS_personality, 0x8UL));
  show("personality_uname26", syscall(SYS_personality, 0x20000UL));
  show("personality_query", syscall(SYS_personality, 0xffffffffUL));
  show("personality_0", syscall(SYS_personality, 0UL));
  return 0;
}
`;

function hasGcc(): boolean {
  try {
    return new Deno.Command("gcc", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}
const gcc = hasGcc();
if (!gcc) console.log("hardening_test: gcc is missing; the seccomp probe test skips");

Deno.test({
  name: "row 6: io_uring, AF_VSOCK sockets, memfd_secret and odd personalities are EPERM",
  ignore: !gcc,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "berth-probe-" });
    try {
      await Deno.chmod(dir, 0o755);
      await Deno.writeTextFile(join(dir, "probe.c"), PROBE_C);
      const cc = await new Deno.Command("gcc", {
        args: ["-static", "-O", "-o", join(dir, "probe"), join(dir, "probe.c")],
      }).output();
      assertEquals(cc.code, 0, new TextDecoder().decode(cc.stderr));
      await withRoots(async (roots, rootfs) => {
        const probe = (extra: string[]) =>
          berth(roots, [
            "run",
            "--rm",
            "--rootfs",
            rootfs,
            "-v",
            `${dir}:/probe:ro`,
            ...extra,
            "p1",
            "--",
            "/probe/probe",
          ]);
        const r = await probe([]);
        assertEquals(r.code, 0, r.stderr);
        assertEquals(r.stdout.trim().split("\n"), [
          "io_uring_setup=EPERM",
          "io_uring_enter=EPERM",
          "io_uring_register=EPERM",
          "socket_vsock=EPERM",
          "socket_unix=ok",
          "memfd_secret=EPERM",
          "personality_read_implies_exec=EPERM",
          "personality_addr_no_randomize=EPERM",
          "personality_over_32_bits=EPERM",
          "personality_linux32=ok",
          "personality_uname26=ok",
          "personality_query=ok",
          "personality_0=ok",
        ]);
        // Unconfined, the same calls reach the kernel (whatever it answers).
        const u = await probe(["--security-opt", "seccomp=unconfined"]);
        assertEquals(u.code, 0, u.stderr);
        assertTrue(u.stdout.includes("personality_read_implies_exec=ok"), u.stdout);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** Control characters but the line ends. */
// deno-lint-ignore no-control-regex
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;

Deno.test("row 7: escape sequences from an image and in errors are printed as \\xNN", async () => {
  await withImageRoots(async (roots) => {
    const esc = "\x1b[2J\x1b]0;pwned\x07";
    await loadImage(roots, "example.com/esc:1", {
      layers: [],
      created: `2024-01-01T00:00:00Z${esc}`,
      config: {
        Cmd: ["sh", "-c", `sleep 30 # ${esc}\r\nx`],
        Labels: { [`k${esc}`]: `v${esc}` },
      },
    });
    const images = await berthOk(roots, ["images"]);
    assertTrue(!RAW_CONTROL.test(images), JSON.stringify(images));
    // CREATED reads as podman's ("2 hours ago"): a time that does not parse is "<unknown>".
    assertTrue(images.includes("<unknown>"), images);
    // JSON output keeps the data (escaped by JSON itself).
    const json = await berthOk(roots, ["images", "--format", "json"]);
    assertTrue(!RAW_CONTROL.test(json));
    // A container's processes name themselves: ps prints their command lines escaped.
    await berthOk(roots, ["run", "-d", "--pull", "never", "--image", "example.com/esc:1", "e1"]);
    const ps = await berthOk(roots, ["ps", "e1"]);
    assertTrue(!RAW_CONTROL.test(ps), JSON.stringify(ps));
    assertTrue(ps.includes("sleep 30 # \\x1b[2J\\x1b]0;pwned\\x07\\x0d"), ps);
    await berthOk(roots, ["delete", "-f", "e1"]);
    // An error carrying the image's text (the runtime cannot find this command): one line.
    const r = await berth(roots, [
      "run",
      "--rm",
      "--pull",
      "never",
      "--image",
      "example.com/esc:1",
      "e2",
      "--",
      `/no\x1b[31mpe\nmore${esc}`,
    ]);
    assertTrue(r.code !== 0, r.stdout);
    assertTrue(r.stderr.startsWith("berth: "), r.stderr);
    assertTrue(!RAW_CONTROL.test(r.stderr), JSON.stringify(r.stderr));
    assertEquals(r.stderr.split("\n").length, 2, JSON.stringify(r.stderr));
    assertTrue(r.stderr.includes("/no\\x1b[31mpe"), r.stderr);
  });
});
