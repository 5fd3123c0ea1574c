// The monitor's FFI unix socket server (lib/host/unix_server.ts), with
// real sockets: peer credentials, the read deadline, mode under umask,
// many slow clients sharing one poll, a close that wakes accept.
import { join } from "node:path";
import { assertEquals, assertRejects, assertTrue } from "./assert.ts";
import { ReadTimeout, UnixServer } from "../lib/host/unix_server.ts";

async function withServer(fn: (server: UnixServer, path: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "s.sock");
  const umask = Deno.umask(0o077);
  let server: UnixServer;
  try {
    server = UnixServer.listen(path);
  } finally {
    Deno.umask(umask);
  }
  try {
    await fn(server, path);
  } finally {
    server.close();
    await new Promise((r) => setTimeout(r, 20));
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "the socket is private from bind on; the peer's credentials are the kernel's",
  // The first test loads libc for the process (kept open, like berth does).
  sanitizeResources: false,
  fn: () =>
    withServer(async (server, path) => {
      assertEquals((await Deno.stat(path)).mode! & 0o077, 0);
      const client = await Deno.connect({ transport: "unix", path });
      const conn = (await server.accept())!;
      const peer = conn.peer();
      assertEquals([peer.pid, peer.uid, peer.gid], [Deno.pid, Deno.uid(), Deno.gid()]);
      await client.write(new TextEncoder().encode("hello\n"));
      const buf = new Uint8Array(64);
      const n = await conn.read(buf, 5_000);
      assertEquals(new TextDecoder().decode(buf.subarray(0, n!)), "hello\n");
      await conn.write(new TextEncoder().encode("ok\n"));
      assertEquals(await client.read(buf), 3);
      client.close();
      assertEquals(await conn.read(buf, 5_000), null);
      conn.close();
    }),
});

Deno.test("a silent client hits the read deadline; others are served meanwhile", async () => {
  await withServer(async (server, path) => {
    const silent = await Deno.connect({ transport: "unix", path });
    const a = (await server.accept())!;
    const t0 = performance.now();
    const slow = assertRejects(() => a.read(new Uint8Array(8), 300), ReadTimeout);
    // 50 more connections waiting at once share the one poll; a talker is answered.
    const idle = await Promise.all(
      Array.from({ length: 50 }, () => Deno.connect({ transport: "unix", path })),
    );
    const accepted = await Promise.all(idle.map(() => server.accept()));
    const waits = accepted.map((c) => c!.read(new Uint8Array(8), 2_000).catch(() => -1));
    const talker = await Deno.connect({ transport: "unix", path });
    const b = (await server.accept())!;
    await talker.write(new Uint8Array([1]));
    assertEquals(await b.read(new Uint8Array(8), 2_000), 1);
    await slow;
    assertTrue(performance.now() - t0 >= 290);
    assertEquals((await Promise.all(waits)).every((r) => r === -1), true);
    for (const c of [a, b, ...accepted]) c!.close();
    for (const c of [silent, talker, ...idle]) c.close();
  });
});

Deno.test("close() wakes a pending accept, which returns null", async () => {
  await withServer(async (server) => {
    const pending = server.accept(10_000);
    setTimeout(() => server.close(), 50);
    const t0 = performance.now();
    assertEquals(await pending, null);
    assertTrue(performance.now() - t0 < 5_000);
  });
});

Deno.test("drain() takes the connections queued for accepting, without waiting; none is dropped", async () => {
  await withServer(async (server, path) => {
    const clients = await Promise.all(
      [1, 2, 3].map(() => Deno.connect({ transport: "unix", path })),
    );
    const queued = server.drain();
    assertEquals(queued.length, 3);
    assertEquals(server.drain().length, 0, "nothing left: it returns at once");
    for (const c of queued) {
      await c.write(new TextEncoder().encode("retry\n"));
      c.close();
    }
    for (const c of clients) {
      const buf = new Uint8Array(16);
      const n = await c.read(buf);
      assertEquals(new TextDecoder().decode(buf.subarray(0, n ?? 0)), "retry\n");
      c.close();
    }
  });
});
