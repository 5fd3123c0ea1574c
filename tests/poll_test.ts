// lib/host/poll.ts: the one poll loop, on a clock the test drives.
import { assertEquals, assertRejects } from "./assert.ts";
import type { Clock } from "../lib/host/clock.ts";
import { poll, waitUntil } from "../lib/host/poll.ts";

/** A clock whose time moves only when something sleeps; it records each pause. */
class StepClock implements Clock {
  t = 1000;
  readonly pauses: number[] = [];
  monotonic(): number {
    return this.t;
  }
  now(): Date {
    return new Date(this.t);
  }
  sleep(ms: number): Promise<void> {
    this.pauses.push(ms);
    this.t += ms;
    return Promise.resolve();
  }
}

Deno.test("poll checks at once, then after pauses doubling to maxMs, and returns the answer", async () => {
  const clock = new StepClock();
  let calls = 0;
  const got = await poll(() => (++calls === 7 ? "ready" : undefined), {
    timeoutMs: 10_000,
    firstMs: 2,
    maxMs: 20,
    clock,
  });
  assertEquals(got, "ready");
  assertEquals(calls, 7);
  assertEquals(clock.pauses, [2, 4, 8, 16, 20, 20]);
});

Deno.test("poll gives up at the deadline: the last pause is cut to it, and it checks once more", async () => {
  const clock = new StepClock();
  const seen: number[] = [];
  const got = await poll(() => {
    seen.push(clock.t - 1000);
    return undefined;
  }, { timeoutMs: 25, maxMs: 8, clock });
  assertEquals(got, undefined);
  assertEquals(clock.pauses, [1, 2, 4, 8, 8, 2]);
  assertEquals(seen, [0, 1, 3, 7, 15, 23, 25]);
});

Deno.test("poll with a zero timeout checks once and never sleeps", async () => {
  const clock = new StepClock();
  let calls = 0;
  assertEquals(await poll(() => void calls++, { timeoutMs: 0, clock }), undefined);
  assertEquals([calls, clock.pauses.length], [1, 0]);
});

Deno.test("a check that throws ends the poll with its error; async checks are awaited", async () => {
  const clock = new StepClock();
  let calls = 0;
  await assertRejects(
    () =>
      poll(async () => {
        await Promise.resolve();
        if (++calls === 3) throw new Error("broken");
        return undefined;
      }, { timeoutMs: 1000, clock }),
    Error,
    "broken",
  );
  assertEquals(calls, 3);
});

Deno.test("waitUntil: true once the condition holds, false at the deadline", async () => {
  const clock = new StepClock();
  let n = 0;
  assertEquals(await waitUntil(() => ++n > 3, { timeoutMs: 100, clock }), true);
  assertEquals(await waitUntil(() => false, { timeoutMs: 5, clock }), false);
});

Deno.test("poll on the real clock waits for a real condition", async () => {
  const start = performance.now();
  const ready = await waitUntil(() => performance.now() - start >= 30, {
    timeoutMs: 5_000,
    maxMs: 5,
  });
  assertEquals(ready, true);
  assertEquals(await waitUntil(() => false, { timeoutMs: 20, maxMs: 5 }), false);
});
