/**
 * Whether the root's monitor is alive, checked by its lock alone, and
 * starting one when it is not. Kept apart from `client.ts` so that the
 * common case (a monitor runs) loads no client code and connects to
 * nothing.
 *
 * @module
 */

import type { Context } from "../container/context.ts";
import { promised } from "../host/sync_io.ts";

/**
 * True while a monitor holds the root's monitor lock. A live monitor
 * watches every live container of the root (it adopts them all when it
 * starts and creates the rest), so it, not a reader, records their exits:
 * a reader that saw the init gone would otherwise race it with a synthetic
 * 255 in the instant between its waitpid and its record.
 */
export function monitorAlive(ctx: Context): Promise<boolean> {
  return promised(() => {
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(ctx.paths.monitorLock, { read: true }); // see sync_io.ts
    } catch {
      return false;
    }
    try {
      return !file.tryLockSync(false);
    } finally {
      file.close();
    }
  });
}

/**
 * Starts a monitor for the root if none runs (it re-adopts live
 * containers); a held monitor lock is checked first, so the common case
 * loads no client code and connects to nothing.
 */
export async function startMonitorIfDead(ctx: Context): Promise<void> {
  if (await monitorAlive(ctx)) return;
  (await import("./client.ts")).spawnMonitor(ctx);
}
