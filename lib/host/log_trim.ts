/**
 * Bounded container logs. A container writes its log files directly
 * (O_APPEND, no pipe through berth), so they are trimmed in place from the
 * front: `fallocate(FALLOC_FL_COLLAPSE_RANGE)` where the file system can
 * (ext4, xfs: block-aligned, the inode and the writers' descriptors stay),
 * else a copy of the tail to the front and a truncate. The newest output is
 * never dropped; the oldest goes, down to half the cap, so trims are rare.
 *
 * Readers follow a log by logical offset (bytes since the container's
 * first output): next to each log, `LOG.dropped` holds how many bytes were
 * dropped from its front so far. A trim and the counter's update happen
 * under an exclusive flock of `LOG.lock`; a reader takes it shared for one
 * read (counter, then data), so it never mixes a counter with the other
 * side of a trim.
 *
 * @module
 */

import { EINVAL, EOPNOTSUPP, ErrnoError, type Libc } from "./libc.ts";
import { isNotFound } from "./errors.ts";

/** The cap when `--log-max-size` is not given. */
export const DEFAULT_LOG_MAX_SIZE = 10 * 1024 * 1024;

/** The smallest cap accepted (a trim keeps half, at least a block or two). */
export const MIN_LOG_MAX_SIZE = 16 * 1024;

/** The sidecar counting the bytes dropped from the front of `log`. */
export function droppedFile(log: string): string {
  return `${log}.dropped`;
}

/** The sidecar whose flock orders trims and reads of `log`. */
export function trimLockFile(log: string): string {
  return `${log}.lock`;
}

/** Bytes dropped from the front of `log` so far (0: none, or no counter yet). */
export function readDropped(log: string): number {
  try {
    const n = Number(Deno.readTextFileSync(droppedFile(log)).trim());
    return Number.isSafeInteger(n) && n >= 0 ? n : 0;
  } catch {
    return 0;
  }
}

function openLock(log: string): Deno.FsFile {
  return Deno.openSync(trimLockFile(log), { read: true, write: true, create: true, mode: 0o600 });
}

/** How a trim went. */
export interface TrimResult {
  /** Bytes dropped from the front by this trim. */
  dropped: number;
  /** "collapse" (fallocate) or "copy" (copy and truncate). */
  method: "collapse" | "copy";
}

/**
 * Trims `log` to about half of `maxSize` if it is larger than `maxSize`.
 * Returns null when there was nothing to do, or another trim or a reader
 * holds the lock (the next round does it). Synchronous: one collapse is a
 * single system call; a copy moves at most `maxSize / 2` bytes.
 */
export function trimLog(log: string, maxSize: number, libc: Libc): TrimResult | null {
  let size: number;
  let blksize: number;
  try {
    const st = Deno.statSync(log);
    size = st.size;
    blksize = st.blksize ?? 4096;
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
  if (size <= maxSize) return null;
  const lock = openLock(log);
  try {
    if (!lock.tryLockSync(true)) return null;
    const cut = size - Math.floor(maxSize / 2);
    const aligned = Math.floor(cut / blksize) * blksize;
    let result: TrimResult | null = null;
    if (aligned > 0) {
      try {
        libc.collapseRange(log, 0, aligned);
        result = { dropped: aligned, method: "collapse" };
      } catch (err) {
        // EOPNOTSUPP: not this file system; EINVAL: not aligned for it (or a
        // range that now reaches EOF, which cannot happen: the file only grows).
        if (!(err instanceof ErrnoError) || (err.errno !== EOPNOTSUPP && err.errno !== EINVAL)) {
          throw err;
        }
      }
    }
    result ??= { dropped: copyTruncate(log, cut), method: "copy" };
    const total = readDropped(log) + result.dropped;
    const tmp = `${droppedFile(log)}.tmp`;
    Deno.writeTextFileSync(tmp, `${total}\n`, { mode: 0o600 });
    Deno.renameSync(tmp, droppedFile(log));
    return result;
  } finally {
    lock.close();
  }
}

/**
 * Moves `[cut, EOF)` of `log` to its front and truncates the rest; repeats
 * the copy while the writer appended meanwhile, so what it wrote is kept.
 * (A write landing between the last size check and the truncate would be
 * cut: the window is one system call; file systems with collapse have none.)
 */
function copyTruncate(log: string, cut: number): number {
  const f = Deno.openSync(log, { read: true, write: true });
  try {
    const buf = new Uint8Array(1 << 20);
    let from = cut;
    let to = 0;
    for (;;) {
      f.seekSync(from, Deno.SeekMode.Start);
      const n = f.readSync(buf);
      if (n === null || n === 0) {
        if (f.statSync().size > from) continue; // it grew: copy that too
        break;
      }
      f.seekSync(to, Deno.SeekMode.Start);
      let off = 0;
      while (off < n) off += f.writeSync(buf.subarray(off, n));
      from += n;
      to += n;
    }
    f.truncateSync(to);
    return from - to;
  } finally {
    f.close();
  }
}

/**
 * Reads `log` from logical offset `logical` to its end (at most `max`
 * bytes), under the shared lock. Returns the data and the logical offset
 * after it; if a trim dropped output the reader had not read yet, it
 * carries on from the oldest output still there.
 */
export function readLogFrom(
  file: Deno.FsFile,
  log: string,
  logical: number,
  buf: Uint8Array,
): { n: number; next: number } {
  let lock: Deno.FsFile | null = null;
  try {
    lock = openLock(log);
    lock.lockSync(false);
  } catch {
    lock?.close();
    lock = null; // a read-only data root: no trims either
  }
  try {
    const dropped = readDropped(log);
    const phys = Math.max(0, logical - dropped);
    file.seekSync(phys, Deno.SeekMode.Start);
    const n = file.readSync(buf) ?? 0;
    return { n, next: dropped + phys + n };
  } finally {
    lock?.close();
  }
}
