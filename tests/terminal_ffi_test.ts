/**
 * The terminal FFI on a real pseudo-terminal pair: window sizes and
 * non-blocking I/O across the pair.
 */

import { assertEquals, assertTrue } from "./assert.ts";
import { POLLIN } from "../lib/terminal/_ffi.ts";
import { Poller } from "../lib/terminal/_poller.ts";
import { terminalLibc as lib } from "../lib/terminal/_ffi.ts";
import { ptyPair as pair, warmTerminalLibc } from "./pty_pair.ts";

warmTerminalLibc();

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
