/**
 * The clock behind a small interface, so tests can control time, and the
 * timer primitive berth uses instead of `setTimeout`.
 *
 * @module
 */

/** What berth needs of time. */
export interface Clock {
  /** Milliseconds on a monotonic clock, for deadlines. */
  monotonic(): number;
  /** Wall-clock time, for timestamps in state. */
  now(): Date;
  /** Resolves after `ms` milliseconds. */
  sleep(ms: number): Promise<void>;
}

/**
 * Calls `fn` once after `ms` milliseconds unless the returned function
 * cancels it first. While pending it keeps the process alive; once
 * cancelled it does not.
 *
 * Built on `AbortSignal.timeout`, not `setTimeout`: in Deno 2.9 the global
 * `setTimeout` is Node's (it returns a `Timeout` object) and its first call
 * in a process loads Node's timers, measured at 8–10 ms, a third of a
 * berth command's start-up. `AbortSignal.timeout` uses Deno's own timers
 * (0.7 ms on first use).
 */
export function after(ms: number, fn: () => void): () => void {
  const signal = AbortSignal.timeout(Math.max(0, Math.ceil(ms)));
  const listener = () => fn();
  signal.addEventListener("abort", listener, { once: true });
  return () => signal.removeEventListener("abort", listener);
}

/** The real clock. */
export const systemClock: Clock = {
  monotonic: () => performance.now(),
  now: () => new Date(),
  sleep: (ms) => new Promise((resolve) => void after(ms, resolve)),
};
