/**
 * berth's one poll loop: ask again, with a growing pause, until an answer
 * comes or a deadline passes. Every wait for something berth cannot be
 * told about (a lock another process holds, a pid to vanish, a socket to
 * appear, a monitor to start) goes through it, on a {@linkcode Clock} a
 * test can replace.
 *
 * @module
 */

import { type Clock, systemClock } from "./clock.ts";

/** How {@linkcode poll} paces itself. */
export interface PollOptions {
  /** Give up this many ms after the first check (Infinity: never). */
  timeoutMs: number;
  /** The first pause, in ms (default 1). */
  firstMs?: number;
  /** The longest pause: each one doubles up to it (default 20). */
  maxMs?: number;
  /** The clock that measures and sleeps (default: the system's). */
  clock?: Clock;
}

/**
 * Calls `check` until it returns something other than `undefined`, and
 * returns that; `undefined` once `timeoutMs` has passed without it. The
 * first check is at once; then pauses of `firstMs`, doubling to `maxMs`,
 * the last one cut short at the deadline, after which `check` runs once
 * more. A throwing `check` ends the poll with its error.
 */
export async function poll<T>(
  check: () => T | undefined | Promise<T | undefined>,
  options: PollOptions,
): Promise<T | undefined> {
  const clock = options.clock ?? systemClock;
  const maxMs = options.maxMs ?? 20;
  const deadline = clock.monotonic() + options.timeoutMs;
  let pause = Math.min(options.firstMs ?? 1, maxMs);
  for (;;) {
    const got = await check();
    if (got !== undefined) return got;
    const left = deadline - clock.monotonic();
    if (left <= 0) return undefined;
    await clock.sleep(Math.min(pause, left));
    pause = Math.min(pause * 2, maxMs);
  }
}

/** {@linkcode poll} for a yes/no condition: true once `ready` is, false at the deadline. */
export async function waitUntil(
  ready: () => boolean | Promise<boolean>,
  options: PollOptions,
): Promise<boolean> {
  return (await poll(async () => (await ready()) ? true : undefined, options)) === true;
}
