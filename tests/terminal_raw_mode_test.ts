/** Raw mode on a real pseudo-terminal: what it clears, and its exact restore. */

import { assertEquals, assertTrue } from "./assert.ts";
import { enterRawMode } from "../lib/terminal/_raw_mode.ts";
import { terminalLibc as lib } from "../lib/terminal/_ffi.ts";
import { closePair, ptyPair as pair, warmTerminalLibc } from "./pty_pair.ts";

warmTerminalLibc();

const ICANON = 0o2;
const ECHO = 0o10;
const ISIG = 0o1;
/** c_lflag is the fourth u32 of struct termios. */
function lflag(attr: Uint8Array): number {
  return new DataView(attr.buffer, attr.byteOffset).getUint32(12, true);
}

Deno.test("raw mode clears ICANON and ECHO and the restore puts back the exact termios", () => {
  const { master, slave } = pair();
  try {
    const before = lib.getAttr(slave);
    assertTrue((lflag(before) & (ICANON | ECHO)) === (ICANON | ECHO), "a new pty is cooked");
    const restore = enterRawMode(lib, slave);
    assertEquals(lflag(lib.getAttr(slave)) & (ICANON | ECHO | ISIG), 0);
    restore();
    assertEquals([...lib.getAttr(slave)], [...before]);
    restore(); // idempotent
    assertEquals([...lib.getAttr(slave)], [...before]);
  } finally {
    lib.close(slave);
    lib.close(master);
  }
});

Deno.test("raw mode is undone by the unload event (Deno.exit) too", () => {
  const p = pair();
  try {
    const before = lib.getAttr(p.slave);
    enterRawMode(lib, p.slave);
    assertEquals(lflag(lib.getAttr(p.slave)) & ICANON, 0);
    globalThis.dispatchEvent(new Event("unload"));
    assertEquals([...lib.getAttr(p.slave)], [...before]);
  } finally {
    closePair(p);
  }
});
