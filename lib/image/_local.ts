/**
 * The image store of a context, and the test of a container's use marker
 * (kept small: `images`, `rmi` and `gc` load only this and the store).
 *
 * @module
 */

import { join } from "../_std/path.ts";
import type { Context } from "../container/context.ts";
import { releaseContainerLock } from "../container/container.ts";
import { FileLock } from "../host/lock.ts";
import { ImageStore } from "./_store.ts";

/** The image store under the context's data root. */
export function storeOf(ctx: Context): ImageStore {
  return new ImageStore(join(ctx.paths.dataRoot, "image"));
}

/**
 * True when container `NS/ID` (a use marker's owner) is gone: no state and
 * its lock free (a create holding it is still taking its reference).
 */
export function staleUse(ctx: Context): (c: string) => Promise<boolean> {
  return async (c) => {
    const [ns, id] = c.split("/") as [string, string];
    if (await ctx.store.exists(ns, id)) return false;
    const lock = await FileLock.tryAcquire(ctx.paths.lockFile(ns, id));
    if (lock === null) return false;
    try {
      return !(await ctx.store.exists(ns, id));
    } finally {
      // The container is gone: the lock file this made (or found) goes too.
      await releaseContainerLock(ctx, ns, id, lock);
    }
  };
}
