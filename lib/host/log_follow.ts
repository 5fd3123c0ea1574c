/**
 * Reading a container's log files: all at once, or following them until a
 * stop signal and then draining what is left.
 *
 * @module
 */

import { systemClock } from "./clock.ts";
import { isNotFound } from "./errors.ts";

/** Copies what `file` holds from its current position to `write`; returns bytes copied. */
export async function drain(file: Deno.FsFile, write: (b: Uint8Array) => void): Promise<number> {
  const buf = new Uint8Array(65536);
  let total = 0;
  for (;;) {
    const n = await file.read(buf);
    if (n === null || n === 0) return total;
    write(buf.subarray(0, n));
    total += n;
  }
}

/** Opens a log file for reading; null when it does not exist. */
export async function openLog(path: string): Promise<Deno.FsFile | null> {
  try {
    return await Deno.open(path, { read: true });
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

/**
 * Copies new data from `file` to `write` until `stop` resolves, then copies
 * the rest. Polls every `pollMs` while there is nothing new.
 */
export async function follow(
  file: Deno.FsFile,
  write: (b: Uint8Array) => void,
  stop: Promise<unknown>,
  pollMs = 20,
): Promise<void> {
  let stopped = false;
  stop.then(() => (stopped = true), () => (stopped = true));
  for (;;) {
    const wasStopped = stopped;
    const n = await drain(file, write);
    if (wasStopped) return;
    if (n === 0) await systemClock.sleep(pollMs);
  }
}
