// lib/host/libc.ts: the one module that opens libc, and its pure helpers.
import { assertEquals, assertThrows, assertTrue } from "./assert.ts";
import { decodeWaitStatus, errno, libcGroup } from "../lib/host/libc.ts";

Deno.test("wait statuses decode to exit codes, 128+N for signal N", () => {
  assertEquals(decodeWaitStatus(3 << 8), 3);
  assertEquals(decodeWaitStatus(0), 0);
  assertEquals(decodeWaitStatus(9), 137);
  assertEquals(decodeWaitStatus(15 | 0x80), 143); // core dumped
});

Deno.test("a process opens libc once, on first use, whichever modules call it", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", new URL("./fixtures/libc_user.ts", import.meta.url).pathname],
    stderr: "inherit",
  }).output();
  assertEquals(out.code, 0);
  const got = JSON.parse(new TextDecoder().decode(out.stdout));
  // Loading the modules opens nothing; using all of their groups opens libc once.
  assertEquals(got.afterImport, 0);
  assertEquals(got.afterUse, 1);
  // errno read through the shared reader belongs to each failed call.
  assertEquals(got.errnos, { waitpid: 10, umount: 2, openat: 2, isatty: 25, spawned: 0 });
});

Deno.test({
  name: "a group binds its functions on first use, and errno is the failed call's",
  sanitizeResources: false, // libc stays open for the process
}, () => {
  const missing = libcGroup({ no_such_libc_function: { parameters: [], result: "i32" } });
  assertThrows(() => missing().no_such_libc_function(), Error, "no_such_libc_function");
  const io = libcGroup({ close: { parameters: ["i32"], result: "i32" } });
  assertEquals(io().close(-1), -1);
  assertEquals(errno(), 9); // EBADF
  assertEquals(io(), io()); // bound once
});

Deno.test({
  name: "umountAsync unmounts, and a failure reports its own errno (not another thread's)",
  sanitizeResources: false, // libc stays open for the process
}, async () => {
  const { libc, ErrnoError } = await import("../lib/host/libc.ts");
  const { mountsUnder } = await import("../lib/host/mounts.ts");
  const dir = Deno.makeTempDirSync();
  try {
    libc.mount("tmpfs", dir, "tmpfs", 0, "size=1m");
    assertEquals(await mountsUnder(dir), [dir]);
    await libc.umountAsync(dir, 0);
    assertEquals(await mountsUnder(dir), []);
    // Not a mount point: EINVAL, read on the thread that can read it (the async call's
    // errno is another thread's).
    const err = await libc.umountAsync(dir, 0).then(() => null, (e: unknown) => e);
    assertTrue(err instanceof ErrnoError, String(err));
    assertEquals(err.errno, 22);
    const gone = await libc.umountAsync(`${dir}/none`, 0).then(() => null, (e: unknown) => e);
    assertTrue(gone instanceof ErrnoError, String(gone));
    assertEquals(gone.errno, 2); // ENOENT
  } finally {
    await libc.umountAsync(dir, 2).catch(() => {});
    Deno.removeSync(dir, { recursive: true });
  }
});
