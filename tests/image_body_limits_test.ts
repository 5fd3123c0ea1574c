// limitedBody/readLimited on their own: the cap, the deadline, and a
// source that ignores both abort and cancel cannot hold an error back.

import { formatMs, formatSize, limitedBody, readLimited } from "../lib/image/_body_limits.ts";
import { RuntimeError } from "../lib/host/errors.ts";
import { assertEquals, assertRejects, assertTrue } from "./assert.ts";

/** A source whose reads never resolve once `first` is given, and that ignores cancel. */
function deaf(first: Uint8Array): ReadableStream<Uint8Array> {
  let given = false;
  return new ReadableStream<Uint8Array>({
    pull(ctl) {
      if (given) return new Promise<void>(() => {});
      given = true;
      ctl.enqueue(first);
    },
  }, { highWaterMark: 0 });
}

Deno.test("a stalled source that ignores abort and cancel still fails at the stall limit", async () => {
  let aborted = false;
  const s = limitedBody(deaf(new Uint8Array(3)), {
    what: "blob x",
    stallMs: 100,
    abort: () => void (aborted = true),
  });
  const started = performance.now();
  await assertRejects(
    () => new Response(s).arrayBuffer(),
    RuntimeError,
    "blob x: no data for 100 ms",
  );
  assertTrue(performance.now() - started < 1_000);
  assertEquals(aborted, true);
});

Deno.test("readLimited: the cap and the deadline; chunks pass through uncopied", async () => {
  const chunk = new Uint8Array(10);
  const whole = await readLimited(new Response(chunk).body, { what: "w", maxBytes: 10 });
  assertEquals(whole.length, 10);
  await assertRejects(
    () => readLimited(new Response(new Uint8Array(11)).body, { what: "m", maxBytes: 10 }),
    RuntimeError,
    "m: larger than 10 bytes",
  );
  await assertRejects(
    () => readLimited(deaf(chunk), { what: "t", maxBytes: 100, deadlineMs: 100 }),
    RuntimeError,
    "t: not received within 100 ms",
  );
  const source = new ReadableStream<Uint8Array>({
    start(ctl) {
      ctl.enqueue(chunk);
      ctl.close();
    },
  });
  const seen: Uint8Array[] = [];
  for await (const c of limitedBody(source, { what: "p", stallMs: 1000 })) seen.push(c);
  assertTrue(seen.length === 1 && seen[0] === chunk, "the very chunk the source gave");
  assertEquals([formatSize(4 << 20), formatSize(64 << 10), formatMs(30_000), formatMs(200)], [
    "4 MiB",
    "64 KiB",
    "30 s",
    "200 ms",
  ]);
});
