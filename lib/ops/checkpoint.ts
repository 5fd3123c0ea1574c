/**
 * Checkpoint and restore through the runtime (CRIU).
 *
 * Without `leaveRunning` the runtime deletes the container after a
 * successful checkpoint: berth records it as stopped, with the image path
 * in its state, and keeps its bundle and copy-on-write rootfs for restore.
 * A failed checkpoint leaves it running and its state unchanged. Restore
 * goes through the monitor, so the restored container's exit is recorded
 * like any other.
 *
 * @module
 */

import { applyExit, runtimeTarget } from "../container/container.ts";
import type { Context } from "../container/context.ts";
import type { ContainerState } from "../container/state_file.ts";
import { transition } from "../container/status.ts";
import { recordedStep } from "../container/step.ts";
import { RuntimeError } from "../host/errors.ts";
import { launchRequest, monitorRequest, replyError } from "../monitor/client.ts";
import { withLoaded } from "./reconcile.ts";

/** Checkpoints the running container `id` into `imagePath` (created if missing). */
export async function checkpointContainer(
  ctx: Context,
  id: string,
  imagePath: string,
  leaveRunning: boolean,
): Promise<void> {
  await withLoaded(ctx, id, async (s) => {
    transition(s.id, s.status, "checkpoint");
    await Deno.mkdir(imagePath, { recursive: true, mode: 0o700 });
    await recordedStep(
      ctx,
      s,
      "checkpoint",
      () => ctx.runtime.checkpoint(runtimeTarget(ctx, s), imagePath, leaveRunning),
      {
        imagePath,
        crash: ["checkpoint:recorded", "checkpoint:runtime"],
        undoOnFailure: true, // still running, state as it was
        apply: (s) => {
          s.checkpoint = imagePath;
          // The runtime killed it: the monitor records the observed code, which replaces this one.
          if (!leaveRunning) applyExit(s, 255, false, ctx.clock.now());
        },
        event: { type: "checkpoint", details: () => ({ imagePath, leaveRunning }) },
      },
    );
  });
}

/**
 * Restores the stopped container `id` from `imagePath`. `before` runs
 * under the lock once the move is checked, before anything changes (a
 * foreground restore opens the logs there). Returns the restored state.
 */
export async function restoreContainer(
  ctx: Context,
  id: string,
  imagePath: string,
  before: (s: ContainerState) => Promise<void> = async () => {},
): Promise<ContainerState> {
  return await withLoaded(ctx, id, async (s) => {
    transition(s.id, s.status, "restore");
    await before(s);
    await restoreLocked(ctx, s, imagePath);
    return s;
  });
}

/** Restores `s` (loaded under its lock) from `imagePath` through the monitor. */
export async function restoreLocked(
  ctx: Context,
  s: ContainerState,
  imagePath: string,
): Promise<void> {
  await recordedStep(
    ctx,
    s,
    "restore",
    async () => {
      // A container stopped after a --leave-running checkpoint is still known to the runtime.
      await ctx.runtime.delete(runtimeTarget(ctx, s), true);
      if (s.net !== undefined) {
        // Its network's resolver may have gone with the last running container.
        const { ensureResolverFor } = await import("../network/mod.ts");
        await ensureResolverFor(ctx, s);
      }
      // The monitor reads the image directory from the op record saved first.
      const reply = await monitorRequest(ctx, { op: "restore", ...launchRequest(s) });
      if (reply === null) throw new RuntimeError(`restore "${s.id}": the berth monitor died`);
      if (!reply.ok) throw replyError(reply);
      return reply;
    },
    {
      imagePath,
      crash: ["restore:recorded", "restore:runtime"],
      undoOnFailure: true, // still stopped, still restorable
      apply: (s, reply) => {
        s.pid = reply.pid ?? null;
        s.pidStartTime = reply.startTime ?? null;
      },
      event: { type: "restore", details: (s) => ({ imagePath, pid: s.pid }) },
    },
  );
}
