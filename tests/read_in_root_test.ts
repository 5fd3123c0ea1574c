// readInRoot: a root filesystem's small files read without links, devices or size blow-ups.
import { assertEquals } from "./assert.ts";
import { readInRoot, ROOT_FILE_CAP } from "../lib/host/read_in_root.ts";

async function withRoot(fn: (root: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "berth-rir-" });
  try {
    await Deno.mkdir(`${root}/etc`);
    await fn(root);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("a regular file is read", async () => {
  await withRoot(async (root) => {
    await Deno.writeTextFile(`${root}/etc/passwd`, "app:x:1:1::/:/bin/sh\n");
    assertEquals(readInRoot(root, "etc/passwd"), "app:x:1:1::/:/bin/sh\n");
    assertEquals(readInRoot(root, "/etc/passwd"), "app:x:1:1::/:/bin/sh\n");
    assertEquals(readInRoot(root, "etc/group"), null);
    assertEquals(readInRoot(root, "etc/../etc/passwd"), null);
  });
});

Deno.test("an absolute link is not resolved against the host (/etc/shadow)", async () => {
  await withRoot(async (root) => {
    await Deno.symlink("/etc/shadow", `${root}/etc/passwd`);
    assertEquals(readInRoot(root, "etc/passwd"), null);
    // Nor a link inside the root, nor a link at a directory.
    await Deno.writeTextFile(`${root}/etc/real`, "x");
    await Deno.remove(`${root}/etc/passwd`);
    await Deno.symlink("real", `${root}/etc/passwd`);
    assertEquals(readInRoot(root, "etc/passwd"), null);
    await Deno.mkdir(`${root}/other`);
    await Deno.symlink("/etc", `${root}/other/etc`);
    assertEquals(readInRoot(`${root}/other`, "etc/hostname"), null);
  });
});

Deno.test("devices, FIFOs and oversized files are no file, and are not read", async () => {
  await withRoot(async (root) => {
    await Deno.symlink("/dev/zero", `${root}/etc/passwd`);
    assertEquals(readInRoot(root, "etc/passwd"), null);
    const mk = await new Deno.Command("mknod", { args: [`${root}/etc/group`, "c", "1", "5"] })
      .output();
    assertEquals(mk.code, 0);
    assertEquals(readInRoot(root, "etc/group"), null);
    const ff = await new Deno.Command("mkfifo", { args: [`${root}/etc/fifo`] }).output();
    assertEquals(ff.code, 0);
    assertEquals(readInRoot(root, "etc/fifo"), null); // would block if opened
    // A sparse file just over the cap (no disk used), and one at it.
    const big = await Deno.open(`${root}/etc/big`, { write: true, create: true });
    await big.truncate(ROOT_FILE_CAP + 1);
    big.close();
    assertEquals(readInRoot(root, "etc/big"), null);
    assertEquals(readInRoot(root, "etc/big", ROOT_FILE_CAP + 1)?.length, ROOT_FILE_CAP + 1);
    assertEquals(readInRoot(root, "etc/big", 16), null);
  });
});

Deno.test("layers: the topmost that has the path decides; a link there hides the lower", async () => {
  await withRoot(async (lower) => {
    await withRoot(async (upper) => {
      const empty = await Deno.makeTempDir();
      try {
        await Deno.writeTextFile(`${lower}/etc/passwd`, "lower");
        assertEquals(readInRoot([empty, upper, lower], "etc/passwd"), "lower");
        await Deno.writeTextFile(`${upper}/etc/passwd`, "upper");
        assertEquals(readInRoot([empty, upper, lower], "etc/passwd"), "upper");
        await Deno.remove(`${upper}/etc/passwd`);
        await Deno.symlink("/etc/passwd", `${upper}/etc/passwd`);
        assertEquals(readInRoot([empty, upper, lower], "etc/passwd"), null);
      } finally {
        await Deno.remove(empty, { recursive: true });
      }
    });
  });
});
