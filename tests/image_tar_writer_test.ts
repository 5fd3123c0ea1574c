// The archive writer of `save`: GNU tar reads what it writes, an entry of
// unknown size gets its header patched, a pipe refuses one, sizes are checked.

import { join } from "../lib/_std/path.ts";
import { RuntimeError } from "../lib/host/errors.ts";
import { fileSink, tarHeader, TarWriter } from "../lib/image/_tar_writer.ts";
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
