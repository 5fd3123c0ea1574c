/**
 * Deleting a container: kill (with force), wait until its init is reaped,
 * let the runtime forget it, unmount the rootfs, remove the bundle
 * atomically (the state goes with it), then the work directory.
 *
 * @module
 */

import { removeAtomically } from "../bundle.ts";
import { applyExit, isLive, runtimeTarget, withContainerLock } from "../container.ts";
import type { Context } from "../context.ts";
import { BerthError, RuntimeError } from "../errors.ts";
import { unmountAll } from "../mounts.ts";
import { liveness } from "../proc.ts";
import type { ContainerState } from "../state_file.ts";
import { transition } from "../status.ts";

/** How long delete waits for the init to be reaped after SIGKILL. */
export const REAP_TIMEOUT_MS = 10_000;

/** Waits until `pid` (started at `startTime`) no longer exists at all. */
export async function waitReaped(
  ctx: Context,
  pid: number,
  startTime: number | null,
  timeoutMs = REAP_TIMEOUT_MS,
): Promise<boolean> {
  const deadline = ctx.clock.monotonic() + timeoutMs;
  let delay = 1;
  while (liveness(pid, startTime) !== "gone") {
    if (ctx.clock.monotonic() >= deadline) return false;
    await ctx.clock.sleep(delay);
    delay = Math.min(delay + 1, 10);
  }
  return true;
}

/**
 * Deletes `s`, which the caller loaded under the container's lock and
 * still holds the lock of. Without `force`, only created or stopped
 * containers may be deleted.
 */
export async function deleteLocked(ctx: Context, s: ContainerState, force: boolean): Promise<void> {
  const live = isLive(s) && s.pid !== null && liveness(s.pid, s.pidStartTime) !== "gone";
  if (isLive(s) && !live) applyExit(s, 255, false, ctx.clock.now());
  transition(s.id, s.status, force ? "forceDelete" : "delete");
  const target = runtimeTarget(ctx, s);
  if (live && s.pid !== null) {
    await ignoreGone(ctx.runtime.kill(target, 9, true));
    if (s.status === "paused") await ignoreGone(ctx.runtime.resume(target));
    if (!(await waitReaped(ctx, s.pid, s.pidStartTime))) {
      throw new RuntimeError(`cannot delete "${s.id}": its init (pid ${s.pid}) did not die`);
    }
  }
  await ctx.runtime.delete(target, true);
  await unmountAll(s.bundle);
  await removeAtomically(s.bundle);
  await removeAtomically(s.workDir);
}

/** Takes the lock of `ns/id`, reloads its state and deletes it. */
export async function deleteContainer(
  ctx: Context,
  ns: string,
  id: string,
  force: boolean,
): Promise<void> {
  await withContainerLock(ctx, ns, id, async () => {
    const s = await ctx.store.load(ns, id);
    await deleteLocked(ctx, s, force);
  });
}

/** Awaits a runtime call whose failure because the process is gone is fine. */
async function ignoreGone(p: Promise<void>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (!(err instanceof BerthError)) throw err;
  }
}
