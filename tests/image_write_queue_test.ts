// The write queue of save's archive and of a kept layer blob: order kept
// through short writes, a bounded queue, the first write error surfaced,
// and a real file written whole.

import { join } from "../lib/_std/path.ts";
import { WRITE_QUEUE_BYTES, WriteQueue } from "../lib/image/_write_queue.ts";
import { assertEquals, assertRejects } from "./assert.ts";

Deno.test("write queue: order kept through short writes, a tick apart", async () => {
  const got: number[] = [];
  // A writer that takes at most 1000 bytes a call, a tick later.
  const slow = {
    async write(b: Uint8Array): Promise<number> {
      await new Promise((r) => setTimeout(r, 0));
      const n = Math.min(b.length, 1000);
      for (const x of b.subarray(0, n)) got.push(x);
      return n;
    },
  };
  const q = new WriteQueue(slow, 64 << 10);
  const size = 3 * WRITE_QUEUE_BYTES / 1024;
  for (let i = 0; i < size;) {
    const n = Math.min(size - i, 1 + (i % 7919));
    const c = new Uint8Array(n);
    for (let k = 0; k < n; k++) c[k] = (i + k) % 251;
    i += n;
    q.push(c);
    await q.ready();
  }
  await q.flush();
  assertEquals(got.length, size);
  assertEquals(got.every((x, i) => x === i % 251), true);
});

Deno.test("write queue: ready waits once more than the limit is queued", async () => {
  const q = new WriteQueue({ write: () => new Promise<number>(() => {}) }, 4 << 20);
  let taken = 0;
  const producer = (async () => {
    for (;;) {
      q.push(new Uint8Array(1 << 20));
      taken += 1 << 20;
      await q.ready();
    }
  })();
  await new Promise((r) => setTimeout(r, 50));
  assertEquals(taken, 5 << 20, "one chunk past the limit, then it waits");
  void producer;
});

Deno.test("write queue: the first write error is what ready and flush throw; nothing is written after it", async () => {
  let calls = 0;
  const q = new WriteQueue({
    write: () => {
      calls++;
      return Promise.reject(new Error("ENOSPC"));
    },
  }, 1);
  q.push(new Uint8Array(10));
  q.push(new Uint8Array(10));
  await assertRejects(() => q.ready(), Error, "ENOSPC");
  await assertRejects(() => q.flush(), Error, "ENOSPC");
  q.push(new Uint8Array(10));
  await assertRejects(() => q.flush(), Error, "ENOSPC");
  assertEquals(calls, 1);
});

Deno.test("write queue: a real file gets every byte, in order", async () => {
  const dir = await Deno.makeTempDir({ prefix: "berth-wq-" });
  try {
    const path = join(dir, "f");
    using f = Deno.openSync(path, { write: true, create: true });
    const q = new WriteQueue(f);
    const want = new Uint8Array(20 << 20);
    for (let i = 0; i < want.length; i++) want[i] = (i * 7) % 256;
    for (let off = 0; off < want.length; off += 300_000) {
      q.push(want.slice(off, off + 300_000));
      await q.ready();
    }
    await q.flush();
    assertEquals(Deno.readFileSync(path), want);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
