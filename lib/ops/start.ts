/**
 * Starting a container: a created one for the first time, a stopped one
 * again with its configuration (podman's `start`; the restart path).
 *
 * @module
 */

import { runtimeTarget } from "../container/container.ts";
import type { Context } from "../container/context.ts";
import { recordedStep } from "../container/step.ts";
import { withLoaded } from "./reconcile.ts";

/** Starts the created container `id` (exact ID) of the context's namespace. */
export async function startContainer(ctx: Context, id: string): Promise<void> {
  await withLoaded(
    ctx,
    id,
    (s) =>
      recordedStep(ctx, s, "start", () => ctx.runtime.start(runtimeTarget(ctx, s)), {
        crash: ["start:recorded", "start:runtime"],
      }),
  );
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
      return await recordedStep(ctx, s, "start", () => ctx.runtime.start(runtimeTarget(ctx, s)), {
        crash: ["start:recorded", "start:runtime"],
      });
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
