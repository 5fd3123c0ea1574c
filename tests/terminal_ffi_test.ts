/**
 * The terminal FFI on a real pseudo-terminal pair: termios raw mode and its
 * restore, window sizes, non-blocking I/O across the pair, poll through
 * the shared poller, and the console socket's refusal when nothing was sent.
 */

import { assertEquals, assertThrows, assertTrue } from "./assert.ts";
import { terminalLibc as lib } from "../lib/terminal/ffi.ts";
import { ConsoleSocket, staleConsoleSockets } from "../lib/terminal/console_socket.ts";
import { Poller } from "../lib/terminal/poller.ts";
import { enterRawMode } from "../lib/terminal/raw_mode.ts";
import { POLLIN } from "../lib/terminal/ffi.ts";

// Open every lazily loaded symbol group before the tests (resource sanitizer).
{
  const warm = lib.openPty();
  lib.close(warm.master);
  const dir = Deno.makeTempDirSync();
  lib.close(lib.listenUnix(`${dir}/warm.sock`));
  Deno.removeSync(dir, { recursive: true });
  lib.isatty(0);
}

const ICANON = 0o2;
const ECHO = 0o10;
/** c_lflag is the fourth u32 of struct termios. */
function lflag(attr: Uint8Array): number {
  return new DataView(attr.buffer, attr.byteOffset).getUint32(12, true);
}

function pair(): { master: number; slave: number; slavePath: string } {
  const { master, slavePath } = lib.openPty();
  return { master, slave: lib.openTerminal(slavePath), slavePath };
}

Deno.test("a pty pair: the slave is a terminal named /dev/pts/N, the master is not a regular file", () => {
  const { master, slave, slavePath } = pair();
  try {
    assertTrue(/^\/dev\/pts\/\d+$/.test(slavePath), slavePath);
    assertTrue(lib.isatty(slave));
    assertTrue(!lib.isatty(-1));
  } finally {
    lib.close(slave);
    lib.close(master);
  }
});

Deno.test("raw mode clears ICANON and ECHO and the restore puts back the exact termios", () => {
  const { master, slave } = pair();
  try {
    const before = lib.getAttr(slave);
    assertTrue((lflag(before) & (ICANON | ECHO)) === (ICANON | ECHO), "a new pty is cooked");
    const restore = enterRawMode(lib, slave);
    assertEquals(lflag(lib.getAttr(slave)) & (ICANON | ECHO), 0);
    restore();
    assertEquals([...lib.getAttr(slave)], [...before]);
    restore(); // idempotent
    assertEquals([...lib.getAttr(slave)], [...before]);
  } finally {
    lib.close(slave);
    lib.close(master);
  }
});

Deno.test("the window size set on the master is the slave's", () => {
  const { master, slave } = pair();
  try {
    lib.setWindowSize(master, { rows: 37, cols: 99 });
    assertEquals(lib.getWindowSize(slave), { rows: 37, cols: 99 });
    assertEquals(lib.getWindowSize(-1), null);
  } finally {
    lib.close(slave);
    lib.close(master);
  }
});

Deno.test("bytes cross the pair; the master reads end (EIO) once the slave is closed", async () => {
  const { master, slave } = pair();
  const poller = new Poller(lib);
  try {
    lib.setAttr(slave, lib.makeRaw(lib.getAttr(slave)));
    const buf = new Uint8Array(64);
    assertEquals(lib.read(master, buf), null, "nothing yet: would block");
    const readable = poller.wait(master, POLLIN);
    assertEquals(lib.write(slave, new TextEncoder().encode("hello")), 5);
    assertTrue(((await readable) & POLLIN) !== 0);
    const n = lib.read(master, buf);
    assertEquals(new TextDecoder().decode(buf.subarray(0, n!)), "hello");
    lib.close(slave);
    assertEquals(lib.read(master, buf), 0);
  } finally {
    lib.close(master);
  }
});

Deno.test("a cancelled wait resolves with 0 and leaves nothing pending", async () => {
  const { master, slave } = pair();
  const poller = new Poller(lib);
  try {
    const w = poller.wait(master, POLLIN);
    poller.cancel(master);
    assertEquals(await w, 0);
  } finally {
    lib.close(slave);
    lib.close(master);
  }
});

Deno.test("a console socket nobody sent on refuses to receive; close removes it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const sock = ConsoleSocket.create(lib, `${dir}/console`);
    assertEquals((await Deno.stat(`${dir}/console`)).mode! & 0o777, 0o700);
    assertTrue(sock.path.startsWith(`${dir}/console/${Deno.pid}-`));
    assertThrows(() => sock.receive(), Error, "no terminal");
    assertEquals(staleConsoleSockets(`${dir}/console`), [], "its owner (this process) lives");
    sock.close();
    assertEquals([...Deno.readDirSync(`${dir}/console`)].length, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stale console sockets: a dead owner's, or one older than any runtime call", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // pid 2^22+1 exceeds pid_max on Linux: never alive.
    await Deno.writeTextFile(`${dir}/4194305-0123abcd.sock`, "");
    await Deno.writeTextFile(`${dir}/${Deno.pid}-0123abcd.sock`, "");
    assertEquals(staleConsoleSockets(dir), [`${dir}/4194305-0123abcd.sock`]);
    assertEquals(staleConsoleSockets(dir, Date.now() + 120_000).length, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
