/**
 * The clock behind a small interface, so tests can control time.
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

/** The real clock. */
export const systemClock: Clock = {
  monotonic: () => performance.now(),
  now: () => new Date(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
