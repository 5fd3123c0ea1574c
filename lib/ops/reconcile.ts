/**
 * Reading a container's state, reconciled with reality, for commands that
 * take no lock (`state`, `list`, `ps`, `exec`, `wait`). Kept light: the
 * repair code is loaded only when a state records an interrupted operation.
 *
 * @module
 */

import {
  applyExit,
  initGone,
  isLive,
  releaseContainerLock,
  withContainerLock,
} from "../container/container.ts";
import { monitorAlive } from "../monitor/alive.ts";
import type { Context } from "../container/context.ts";
import { NotFound } from "../host/errors.ts";
import { FileLock } from "../host/lock.ts";
import { liveness } from "../host/proc.ts";
import { pauseAbandoned } from "../container/paused_by.ts";
import type { ContainerState } from "../container/state_file.ts";

/** Loads `id` of the context's namespace for reading, reconciled; NotFound if gone. */
export async function loadReconciled(ctx: Context, id: string): Promise<ContainerState> {
  const s = await reconcile(ctx, await ctx.store.load(ctx.globals.namespace, id));
  if (s === null) throw new NotFound(`container "${id}" not found`);
  return s;
}

/**
 * For readers that hold no lock: repairs an interrupted operation (or
 * resumes a container a killed commit left paused), and records a stop
 * whose process is gone. Null when the container is gone.
 *
 * A recorded operation whose process is alive is under way: it is left
 * alone. One whose process is dead was interrupted: the reader takes the
 * lock and repairs it, waiting if someone else holds the lock meanwhile
 * (the monitor recording the exit it killed, another reader repairing), so
 * the command that touches an interrupted container always settles it.
 */
export async function reconcile(ctx: Context, s: ContainerState): Promise<ContainerState | null> {
  if (s.op !== null || pauseAbandoned(s)) {
    const path = ctx.paths.lockFile(s.namespace, s.id);
    let lock = await FileLock.tryAcquire(path);
    if (lock === null) {
      if (s.op !== null && liveness(s.op.pid, s.op.pidStartTime) === "alive") return s; // under way
      lock = await FileLock.acquire(path, `container "${s.id}"`, { clock: ctx.clock });
    }
    try {
      const fresh = await ctx.store.tryLoad(s.namespace, s.id);
      const { repairLocked } = await import("./repair.ts");
      const repaired = fresh === null ? null : await repairLocked(ctx, fresh);
      return repaired === null ? null : await refreshLocked(ctx, repaired);
    } finally {
      await releaseContainerLock(ctx, s.namespace, s.id, lock);
    }
  }
  if (!isLive(s) || s.pid === null) return s;
  if (!initGone(s) || await monitorAlive(ctx)) return s;
  return await withContainerLock(ctx, s.namespace, s.id, async () => {
    const fresh = await ctx.store.tryLoad(s.namespace, s.id);
    return fresh === null ? null : await refreshLocked(ctx, fresh);
  });
}

/** Loads `id` of the context's namespace under its lock, repairs it, and runs `fn`. */
export function withLoaded<T>(
  ctx: Context,
  id: string,
  fn: (s: ContainerState) => Promise<T>,
): Promise<T> {
  const ns = ctx.globals.namespace;
  return withContainerLock(ctx, ns, id, async () => {
    const loaded = await ctx.store.load(ns, id);
    // Repair code is loaded only when there is something to repair.
    const repaired = loaded.op === null && !pauseAbandoned(loaded)
      ? loaded
      : await (await import("./repair.ts")).repairLocked(ctx, loaded);
    if (repaired === null) throw new NotFound(`container "${id}" not found`);
    return await fn(await refreshLocked(ctx, repaired));
  });
}

/**
 * For a state loaded under the lock: if the container should be live but
 * its init is gone and no monitor will record it, records the stop (255,
 * unobserved) and saves.
 * Zombies count as alive: their reaper records the real code.
 */
export async function refreshLocked(ctx: Context, s: ContainerState): Promise<ContainerState> {
  if (isLive(s) && s.pid !== null && initGone(s) && !(await monitorAlive(ctx))) {
    if (applyExit(s, 255, false, ctx.clock.now())) await ctx.store.save(s);
  }
  return s;
}
