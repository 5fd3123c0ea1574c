/** The shared poller: one poll(2) for many descriptors, woken when the set changes. */

import { assertEquals, assertTrue } from "./assert.ts";
import { POLLIN } from "../lib/terminal/_ffi.ts";
import { Poller } from "../lib/terminal/_poller.ts";
import { terminalLibc as lib } from "../lib/terminal/_ffi.ts";
import { closePair, ptyPair as pair, warmTerminalLibc } from "./pty_pair.ts";

warmTerminalLibc();

Deno.test("a cancelled wait resolves with 0 and leaves nothing pending", async () => {
  const { master, slave } = pair();
  const poller = new Poller(lib);
  try {
    const w = poller.wait(master, POLLIN);
    poller.cancel(master);
    assertEquals(await w, 0);
    await poller.idle(); // the pending poll returns once woken
  } finally {
    lib.close(slave);
    lib.close(master);
  }
});

Deno.test("a wait added while a poll is pending is served; only the ready descriptor resolves", async () => {
  const a = pair();
  const b = pair();
  const poller = new Poller(lib);
  try {
    for (const p of [a, b]) lib.setAttr(p.slave, lib.makeRaw(lib.getAttr(p.slave)));
    let aReady = false;
    const waitA = poller.wait(a.master, POLLIN).then((r) => {
      aReady = true;
      return r;
    });
    // The poll for a is pending now; b joins it.
    await new Promise((r) => setTimeout(r, 20));
    const waitB = poller.wait(b.master, POLLIN);
    lib.write(b.slave, new TextEncoder().encode("b"));
    assertTrue((await waitB & POLLIN) !== 0);
    assertEquals(aReady, false, "a was not ready");
    lib.write(a.slave, new TextEncoder().encode("a"));
    assertTrue((await waitA & POLLIN) !== 0);
  } finally {
    closePair(a);
    closePair(b);
  }
});
