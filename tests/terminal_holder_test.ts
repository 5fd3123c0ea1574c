/**
 * The monitor's terminal holder on a real pty pair and real unix socket
 * connections: output to the log and to every attached client, client
 * input and window sizes to the terminal, the end of the terminal ending
 * every attachment; and the stdin pipe of a foreground `run -i`.
 */

import { assertEquals, assertRejects, assertTrue } from "./assert.ts";
import { terminalLibc as lib } from "../lib/terminal/_ffi.ts";
import { AttachRefused, TerminalHolder } from "../lib/terminal/_holder.ts";
import { encodeFrame, FRAME, resizeFrame } from "../lib/terminal/_frames.ts";
import { warmTerminalLibc } from "./pty_pair.ts";

warmTerminalLibc();

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A connected pair of unix stream connections. */
async function connPair(dir: string, n: number): Promise<[Deno.Conn, Deno.Conn]> {
  const path = `${dir}/s${n}.sock`;
  const l = Deno.listen({ transport: "unix", path });
  const [client, server] = await Promise.all([
    Deno.connect({ transport: "unix", path }),
    l.accept(),
  ]);
  l.close();
  return [server, client];
}

/** Reads from `conn` until the text read so far matches `re`. */
async function readUntil(conn: Deno.Conn, re: RegExp): Promise<string> {
  let text = "";
  const buf = new Uint8Array(4096);
  while (!re.test(text)) {
    const n = await conn.read(buf);
    if (n === null) throw new Error(`closed before ${re}: ${JSON.stringify(text)}`);
    text += dec.decode(buf.subarray(0, n));
  }
  return text;
}

/** Reads the slave until `want` bytes arrived. */
async function readSlave(slave: number, want: number): Promise<string> {
  const buf = new Uint8Array(256);
  let text = "";
  const deadline = Date.now() + 5000;
  while (text.length < want && Date.now() < deadline) {
    const n = lib.read(slave, buf);
    if (n === null || n === 0) await new Promise((r) => setTimeout(r, 10));
    else text += dec.decode(buf.subarray(0, n));
  }
  return text;
}

Deno.test("a held terminal: two clients see the output, the log gets it, input and sizes reach the terminal, its end ends both", async () => {
  const dir = await Deno.makeTempDir();
  const { master, slavePath } = lib.openPty();
  const slave = lib.openTerminal(slavePath);
  lib.setAttr(slave, lib.makeRaw(lib.getAttr(slave)));
  lib.setNonblocking(slave);
  const holder = new TerminalHolder(lib, () => {});
  try {
    holder.holdTerminal("ns/c", master, `${dir}/stdout.log`);
    assertEquals(holder.kind("ns/c"), "terminal");
    assertEquals(holder.terminals, 1);
    const [s1, c1] = await connPair(dir, 1);
    const [s2, c2] = await connPair(dir, 2);
    const a1 = holder.attach("ns/c", s1, new Uint8Array());
    const a2 = holder.attach("ns/c", s2, new Uint8Array());
    lib.write(slave, enc.encode("hello from the container\n"));
    await readUntil(c1, /hello from the container/);
    await readUntil(c2, /hello from the container/);
    await c1.write(encodeFrame(FRAME.input, enc.encode("typed")));
    assertEquals(await readSlave(slave, 5), "typed");
    await c2.write(resizeFrame(41, 132));
    for (let i = 0; i < 500 && lib.getWindowSize(slave)?.rows !== 41; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assertEquals(lib.getWindowSize(slave), { rows: 41, cols: 132 });
    // A client leaving does not end the other.
    c1.close();
    await a1;
    lib.write(slave, enc.encode("still here\n"));
    await readUntil(c2, /still here/);
    // The container's side closes: the terminal ends, so does the attachment.
    lib.close(slave);
    await a2;
    const buf = new Uint8Array(64);
    assertEquals(await c2.read(buf), null);
    c2.close();
    assertEquals(holder.kind("ns/c"), null);
    const log = await Deno.readTextFile(`${dir}/stdout.log`);
    assertTrue(/hello from the container[\s\S]*still here/.test(log), log);
    await assertRejects(() => holder.attach("ns/c", s2, new Uint8Array()), AttachRefused);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a stdin pipe: one client's input goes in, its EOF frame closes it; a second client is refused", async () => {
  const dir = await Deno.makeTempDir();
  const holder = new TerminalHolder(lib, () => {});
  try {
    const pipe = new TransformStream<Uint8Array, Uint8Array>();
    holder.holdPipe("ns/p", pipe.writable);
    assertEquals(holder.kind("ns/p"), "pipe");
    const [s1, c1] = await connPair(dir, 1);
    const attached = holder.attach("ns/p", s1, encodeFrame(FRAME.input, enc.encode("a\n")));
    const [s2, c2] = await connPair(dir, 2);
    await assertRejects(() => holder.attach("ns/p", s2, new Uint8Array()), AttachRefused);
    s2.close();
    c2.close();
    await c1.write(encodeFrame(FRAME.input, enc.encode("b\n")));
    await c1.write(encodeFrame(FRAME.eof));
    const got = dec.decode(
      new Uint8Array(
        (await Array.fromAsync(pipe.readable)).flatMap((chunk) => [...chunk]),
      ),
    );
    assertEquals(got, "a\nb\n");
    await attached;
    assertEquals(holder.kind("ns/p"), null);
    c1.close();
    s1.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
