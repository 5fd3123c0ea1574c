/**
 * Settling an interrupted status change (`start`, `pause`, `resume`): the
 * runtime knows what really happened, so its status is taken.
 *
 * @module
 */

import { applyExit, isLive, runtimeTarget } from "../container/container.ts";
import { monitorAlive } from "../monitor/alive.ts";
import type { Context } from "../container/context.ts";
import { NotFound } from "../host/errors.ts";
import type { ContainerState } from "../container/state_file.ts";
import { settleStatus, type Status } from "../container/status.ts";
import { startTimeOf } from "../host/proc.ts";

/** The statuses the runtime reports that berth knows. */
const RUNTIME_STATUS: Record<string, Status> = {
  created: "created",
  running: "running",
  paused: "paused",
  stopped: "stopped",
};

/**
 * Sets the status of `s` (loaded under the lock) to the runtime's, clears
 * its `op` and saves. A container the runtime no longer knows is stopped,
 * except one never launched (`launchError`): it stays created.
 */
export async function settleLocked(ctx: Context, s: ContainerState): Promise<ContainerState> {
  let status: Status;
  let pid = 0;
  try {
    const rs = await ctx.runtime.state(runtimeTarget(ctx, s));
    status = RUNTIME_STATUS[rs.status] ?? "stopped";
    pid = rs.pid;
  } catch (err) {
    if (!(err instanceof NotFound)) throw err;
    status = "stopped";
  }
  if (status === "stopped" && s.status === "created" && s.launchError !== undefined) {
    // Never launched (its command was refused at create) and not launched
    // now: nothing ran, so it stays created, as before the interrupted start.
  } else if (status === "stopped") {
    // The monitor records the real code if it can; else 255.
    if (isLive(s) && !(await monitorAlive(ctx))) applyExit(s, 255, false, ctx.clock.now());
    // An interrupted checkpoint that got this far left its images.
    if (s.op?.name === "checkpoint" && s.op.imagePath !== undefined) s.checkpoint = s.op.imagePath;
  } else {
    if (pid > 0 && pid !== s.pid) {
      s.pid = pid;
      s.pidStartTime = startTimeOf(pid);
    }
    // From stopped (an interrupted restore that got this far): a new init
    // runs, the last exit is cleared; a first run stamps startedAt.
    settleStatus(s, status, ctx.clock.now(), "repair");
    delete s.launchError; // launched after all
  }
  s.op = null;
  await ctx.store.save(s);
  return s;
}
