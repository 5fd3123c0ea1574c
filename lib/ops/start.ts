/**
 * Starting a container: a created one for the first time, a stopped one
 * again with its configuration (podman's `start`; the restart path), and
 * one whose command the runtime refused at create (`launchError`): it has
 * no runtime container yet, so it is launched (the runtime's create and
 * start in one call, through the monitor).
 *
 * @module
 */

import { runtimeTarget } from "../container/container.ts";
import type { Context } from "../container/context.ts";
import type { ContainerState } from "../container/state_file.ts";
import { recordedStep } from "../container/step.ts";
import { RuntimeError } from "../host/errors.ts";
import { withLoaded } from "./reconcile.ts";

/** Starts the created container `id` (exact ID) of the context's namespace. */
export async function startContainer(ctx: Context, id: string): Promise<void> {
  await withLoaded(ctx, id, (s) => startLocked(ctx, s));
}

/** Starts the created `s` (loaded under its lock). */
function startLocked(ctx: Context, s: ContainerState): Promise<unknown> {
  if (s.status === "created" && s.launchError !== undefined) return launchLocked(ctx, s);
  return recordedStep(ctx, s, "start", () => ctx.runtime.start(runtimeTarget(ctx, s)), {
    crash: ["start:recorded", "start:runtime"],
  });
}

/**
 * Launches the created `s` that has no runtime container (its command was
 * refused at create). Refused again, it stays as it was (created, the
 * record dropped) and the error is thrown; an interrupted launch is settled
 * like a start (the runtime's word: stopped when it knows none).
 */
async function launchLocked(ctx: Context, s: ContainerState): Promise<void> {
  const { launchRequest, monitorRequest, replyError } = await import("../monitor/client.ts");
  await recordedStep(ctx, s, "start", async () => {
    await ctx.runtime.delete(runtimeTarget(ctx, s), true);
    const reply = await monitorRequest(ctx, { op: "create", start: true, ...launchRequest(s) });
    if (reply === null) throw new RuntimeError(`start "${s.id}": the berth monitor died`);
    if (!reply.ok) throw replyError(reply);
    return reply;
  }, {
    crash: ["start:recorded", "start:runtime"],
    undoOnFailure: true,
    apply: (s, reply) => {
      s.pid = reply.pid ?? null;
      s.pidStartTime = reply.startTime ?? null;
      delete s.launchError;
    },
  });
}

/**
 * `berth start`: starts the created `id`, or starts the stopped `id` again
 * with its configuration, as `restart` without the stop (`restartLocked`:
 * the same bundle launched through the monitor). Other statuses are refused
 * as by {@linkcode startContainer}.
 */
export async function startOrRestart(ctx: Context, id: string): Promise<void> {
  await withLoaded(ctx, id, async (s) => {
    if (s.status !== "stopped") {
      await startLocked(ctx, s);
      return;
    }
    // Loaded only for a stopped container (start-up time of the common case).
    const { restartLocked } = await import("./restart.ts");
    const { monitorRequest } = await import("../monitor/client.ts");
    await restartLocked(ctx, s, {
      runtime: ctx.runtime,
      launch: (req) => monitorRequest(ctx, req),
    });
  });
}
