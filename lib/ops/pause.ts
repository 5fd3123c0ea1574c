/**
 * Freezing and thawing a container (the runtime's freezer).
 *
 * @module
 */

import { runtimeTarget } from "../container/container.ts";
import type { Context } from "../container/context.ts";
import { recordedStep } from "../container/step.ts";
import { withLoaded } from "./reconcile.ts";
import { refuseUnlaunched } from "./not_runnable.ts";

/**
 * Pauses (`pause`) or resumes (`resume`) the container `id` of the
 * context's namespace. A pause that the runtime refuses because the
 * container is frozen already (the monitor holds back a runaway log
 * writer, lib/monitor/log_trimmer.ts) is done: it is recorded, and the
 * monitor, seeing it, leaves the freezer as it is.
 */
export async function freezeContainer(
  ctx: Context,
  id: string,
  op: "pause" | "resume",
): Promise<void> {
  await withLoaded(
    ctx,
    id,
    (s) => {
      refuseUnlaunched(s, op);
      return recordedStep(ctx, s, op, async () => {
        const t = runtimeTarget(ctx, s);
        try {
          await ctx.runtime[op](t);
        } catch (err) {
          if (
            op !== "pause" || (await ctx.runtime.state(t).catch(() => null))?.status !== "paused"
          ) {
            throw err;
          }
        }
      }, {
        crash: op === "pause" ? ["pause:recorded", "pause:runtime"] : [
          "resume:recorded",
          "resume:runtime",
        ],
      });
    },
  );
}
