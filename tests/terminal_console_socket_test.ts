/** Console sockets: their directory's mode, refusal when nothing was sent, stale ones. */

import { assertEquals, assertThrows, assertTrue } from "./assert.ts";
import { ConsoleSocket, staleConsoleSockets } from "../lib/terminal/_console_socket.ts";
import { terminalLibc as lib } from "../lib/terminal/_ffi.ts";
import { warmTerminalLibc } from "./pty_pair.ts";

warmTerminalLibc();

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
