/**
 * Exclusive locks on sidecar lock files (flock(2) through `Deno.FsFile`),
 * with a bounded wait.
 *
 * A lock file is never replaced by rename. It may be removed, but only by
 * its holder ({@linkcode FileLock.releaseAndRemove}): a waiter that opened the
 * old inode and then wins it sees that the path no longer names that inode,
 * drops it and starts over on the path's current file. So removing a lock
 * file can never let two processes hold "the" lock at once.
 *
 * A pending `lock()` cannot be cancelled, so waiting polls `tryLock()`
 * against a deadline and fails with {@linkcode Locked} instead of hanging.
 *
 * @module
 */

import { dirname } from "../_std/path.ts";
import { type Clock, systemClock } from "./clock.ts";
import { isNotFound, Locked } from "./errors.ts";
import { waitUntil } from "./poll.ts";
import { promised } from "./sync_io.ts";

/** Options of {@linkcode FileLock.acquire}. */
export interface LockOptions {
  /** How long to wait for a holder to let go. Default: 10 000 ms. */
  timeoutMs?: number;
  /** Time source. Default: the system clock. */
  clock?: Clock;
}

/** Default bounded wait for a lock. */
export const DEFAULT_LOCK_TIMEOUT_MS = 10_000;

/** An exclusive lock held by this process until released. */
export class FileLock implements Disposable {
  #file: Deno.FsFile | null;
  /** The lock file's path. */
  readonly path: string;

  private constructor(path: string, file: Deno.FsFile) {
    this.path = path;
    this.#file = file;
  }

  /**
   * Takes the exclusive lock on `path` (created with mode 0600, missing parent
   * directories with 0711). `what` names the locked thing in the
   * error, e.g. `container "web1"`.
   */
  static async acquire(path: string, what: string, options: LockOptions = {}): Promise<FileLock> {
    return (await FileLock.#acquire(path, what, options, true))!;
  }

  /**
   * Like {@linkcode acquire}, but never creates the lock file: null when
   * `path` does not exist, or once its holder removed it while this waited
   * (the thing it locked is gone; recreating its lock file would leave one
   * behind it for a while).
   */
  static acquireExisting(
    path: string,
    what: string,
    options: LockOptions = {},
  ): Promise<FileLock | null> {
    return FileLock.#acquire(path, what, options, false);
  }

  static async #acquire(
    path: string,
    what: string,
    options: LockOptions,
    create: boolean,
  ): Promise<FileLock | null> {
    const clock = options.clock ?? systemClock;
    const timeoutMs = options.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
    const deadline = clock.monotonic() + timeoutMs;
    for (;;) {
      const file = create ? openLockFile(path) : openExisting(path);
      if (file === null) return null;
      try {
        const won = await waitUntil(() => file.tryLockSync(true), {
          timeoutMs: Math.max(0, deadline - clock.monotonic()),
          maxMs: 20,
          clock,
        });
        if (!won) {
          throw new Locked(
            `${what} is locked by another berth process (gave up after ${timeoutMs} ms)`,
          );
        }
        if (sameInode(file, path)) return new FileLock(path, file);
      } catch (err) {
        file.close();
        throw err;
      }
      // The holder removed the file before we won it: start over.
      file.close();
    }
  }

  /** Takes the lock only if it is free right now; `null` when it is held. */
  static tryAcquire(path: string): Promise<FileLock | null> {
    return promised(() => {
      for (;;) {
        const file = openLockFile(path);
        if (!file.tryLockSync(true)) {
          file.close();
          return null;
        }
        if (sameInode(file, path)) return new FileLock(path, file);
        file.close();
      }
    });
  }

  /** True until released. */
  get held(): boolean {
    return this.#file !== null;
  }

  /** Releases the lock (closing the file releases the flock). Idempotent. */
  release(): void {
    const file = this.#file;
    this.#file = null;
    file?.close();
  }

  /**
   * Removes the lock file while still holding it, then releases. Waiters on
   * the old inode notice and retry on a fresh file.
   */
  releaseAndRemove(): Promise<void> {
    return promised(() => {
      if (this.#file === null) return;
      try {
        Deno.removeSync(this.path);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      } finally {
        this.release();
      }
    });
  }

  [Symbol.dispose](): void {
    this.release();
  }
}

// Synchronous file calls (open, a non-blocking flock, stat): see sync_io.ts.
function openLockFile(path: string): Deno.FsFile {
  const options: Deno.OpenOptions = { read: true, write: true, create: true, mode: 0o600 };
  try {
    return Deno.openSync(path, options);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    Deno.mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    return Deno.openSync(path, options);
  }
}

function openExisting(path: string): Deno.FsFile | null {
  try {
    return Deno.openSync(path, { read: true, write: true });
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

function sameInode(file: Deno.FsFile, path: string): boolean {
  const held = file.statSync();
  try {
    const current = Deno.statSync(path);
    return current.ino === held.ino && current.dev === held.dev;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}
