/**
 * Starting a created container.
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
