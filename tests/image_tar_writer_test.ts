// The archive writer of `save`: GNU tar reads what it writes, an entry of
// unknown size gets its header patched, a pipe refuses one, sizes are checked.

import { join } from "../lib/_std/path.ts";
import { RuntimeError } from "../lib/host/errors.ts";
import { fileSink, SINK_QUEUE_BYTES, tarHeader, TarWriter } from "../lib/image/_tar_writer.ts";
import { assertEquals, assertRejects } from "./assert.ts";

async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield new TextEncoder().encode(p);
}

Deno.test("tar: GNU tar lists and extracts what TarWriter writes, a patched size included", async () => {
  const dir = await Deno.makeTempDir({ prefix: "berth-tarw-" });
  try {
    const path = join(dir, "a.tar");
    const f = Deno.openSync(path, { write: true, create: true });
    const w = new TarWriter(fileSink(f, f));
    w.dir("blobs/");
    w.bytes("blobs/one", new TextEncoder().encode("hello"));
    assertEquals(await w.stream("two", chunks("ab", "cde", "f".repeat(600))), 605);
    await w.end();
    f.close();
    const out = await new Deno.Command("tar", { args: ["xf", path, "-C", dir] }).output();
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    assertEquals(Deno.readTextFileSync(join(dir, "blobs/one")), "hello");
    assertEquals(Deno.readTextFileSync(join(dir, "two")), "abcde" + "f".repeat(600));
    assertEquals(Deno.statSync(path).size % 512, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tar: a pipe needs sizes up front; a stream longer or shorter than its size fails", async () => {
  const sink = { write() {}, ready: () => Promise.resolve(), flush: () => Promise.resolve() };
  const w = new TarWriter(sink);
  await assertRejects(() => w.stream("x", chunks("a")), RuntimeError);
  await assertRejects(() => w.stream("x", chunks("abc"), 2), RuntimeError);
  await assertRejects(() => w.stream("x", chunks("a"), 2), RuntimeError);
});

Deno.test("tar: sizes past 8 GiB are written base-256", () => {
  const h = tarHeader("big", 2 ** 34, "file");
  assertEquals(h[124], 0x80);
  let v = 0;
  for (let i = 125; i < 136; i++) v = v * 256 + h[i]!;
  assertEquals(v, 2 ** 34);
});

Deno.test("tar: queued writes keep their order through short writes, the queue is bounded, a write error surfaces", async () => {
  const got: number[] = [];
  let queuedMax = 0;
  let pending = 0;
  // A writer that takes at most 1000 bytes a call, a tick later.
  const slow = {
    async write(b: Uint8Array): Promise<number> {
      await new Promise((r) => setTimeout(r, 0));
      const n = Math.min(b.length, 1000);
      for (const x of b.subarray(0, n)) got.push(x);
      pending -= n;
      return n;
    },
  };
  const w = new TarWriter(fileSink(slow, null));
  const size = 3 * SINK_QUEUE_BYTES / 1024;
  async function* parts(): AsyncGenerator<Uint8Array> {
    let i = 0;
    while (i < size) {
      const n = Math.min(size - i, 1 + (i % 7919));
      const c = new Uint8Array(n);
      for (let k = 0; k < n; k++) c[k] = (i + k) % 251;
      i += n;
      pending += n;
      queuedMax = Math.max(queuedMax, pending);
      yield c;
    }
  }
  await w.stream("x", parts(), size);
  await w.end();
  const data = got.slice(512, 512 + size);
  assertEquals(data.length, size);
  assertEquals(data.every((x, i) => x === i % 251), true);
  assertEquals(got.length, 512 + Math.ceil(size / 512) * 512 + 1024);

  // Bounded: with a writer that never finishes, the stream waits once more
  // than SINK_QUEUE_BYTES is queued.
  let yielded = 0;
  const stuck = new TarWriter(fileSink({ write: () => new Promise<number>(() => {}) }, null));
  async function* many(): AsyncGenerator<Uint8Array> {
    for (;;) {
      yielded += 1 << 20;
      yield new Uint8Array(1 << 20);
    }
  }
  void stuck.stream("y", many(), 2 ** 40);
  await new Promise((r) => setTimeout(r, 50));
  assertEquals(yielded <= SINK_QUEUE_BYTES + (2 << 20), true, `${yielded} bytes taken`);

  // The first write error is what the stream (or end) throws.
  const failing = new TarWriter(
    fileSink({ write: () => Promise.reject(new Error("ENOSPC")) }, null),
  );
  await assertRejects(() => failing.stream("z", many(), 2 ** 40), Error, "ENOSPC");
  const late = new TarWriter(fileSink({ write: () => Promise.reject(new Error("EIO")) }, null));
  late.bytes("a", new Uint8Array(10));
  await assertRejects(() => late.end(), Error, "EIO");
});
