/**
 * Reading a container's log files: all at once, or following them until a
 * stop signal and then draining what is left. A log opened with
 * {@linkcode openLog} is read by logical offset, so reading carries on
 * across trims of its front (see log_trim.ts).
 *
 * @module
 */

import { systemClock } from "./clock.ts";
import { isNotFound } from "./errors.ts";
import { readDropped, readLogFrom } from "./log_trim.ts";

/** Logs opened by openLog: their path, and the logical offset read so far (null: not yet set). */
const opened = new WeakMap<Deno.FsFile, { path: string; logical: number | null }>();

/** Copies what `file` holds from its current position to `write`; returns bytes copied. */
export async function drain(file: Deno.FsFile, write: (b: Uint8Array) => void): Promise<number> {
  const buf = new Uint8Array(65536);
  let total = 0;
  const log = opened.get(file);
  if (log === undefined) {
    for (;;) {
      const n = await file.read(buf);
      if (n === null || n === 0) return total;
      write(buf.subarray(0, n));
      total += n;
    }
  }
  // Where the caller put the file (its start, or its end) is where reading starts.
  log.logical ??= readDropped(log.path) + file.seekSync(0, Deno.SeekMode.Current);
  for (let sinceYield = 0;;) {
    const { n, next } = readLogFrom(file, log.path, log.logical, buf);
    log.logical = next;
    if (n === 0) return total;
    write(buf.subarray(0, n));
    total += n;
    sinceYield += n;
    if (sinceYield >= 1 << 20) {
      sinceYield = 0;
      await systemClock.sleep(0); // let timers and I/O run under a fast writer
    }
  }
}

/** Opens a log file for reading; null when it does not exist. */
export async function openLog(path: string): Promise<Deno.FsFile | null> {
  try {
    const file = await Deno.open(path, { read: true });
    opened.set(file, { path, logical: null });
    return file;
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

/**
 * Moves `file`'s position to the start of its last `lines` lines (a last
 * line without a newline counts as one), reading backwards in blocks.
 */
export async function seekToTail(file: Deno.FsFile, lines: number): Promise<void> {
  const size = (await file.stat()).size;
  if (lines === 0) {
    await file.seek(size, Deno.SeekMode.Start);
    return;
  }
  const buf = new Uint8Array(65536);
  let end = size;
  let seen = 0;
  // A final newline ends the last line; it does not start another.
  let skipLast = size > 0;
  while (end > 0) {
    const start = Math.max(0, end - buf.length);
    await file.seek(start, Deno.SeekMode.Start);
    let got = 0;
    while (got < end - start) {
      const n = await file.read(buf.subarray(got, end - start));
      if (n === null || n === 0) break;
      got += n;
    }
    for (let i = got - 1; i >= 0; i--) {
      if (buf[i] !== 0x0a) {
        skipLast = false;
        continue;
      }
      if (skipLast) {
        skipLast = false;
        continue;
      }
      if (++seen === lines) {
        await file.seek(start + i + 1, Deno.SeekMode.Start);
        return;
      }
    }
    end = start;
  }
  await file.seek(0, Deno.SeekMode.Start);
}
