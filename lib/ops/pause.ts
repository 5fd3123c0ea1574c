/**
 * Freezing and thawing a container (the runtime's freezer).
 *
 * @module
 */

import { runtimeTarget } from "../container/container.ts";
import type { Context } from "../container/context.ts";
import { recordedStep } from "../container/step.ts";
import { withLoaded } from "./reconcile.ts";

/** Pauses (`pause`) or resumes (`resume`) the container `id` of the context's namespace. */
export async function freezeContainer(
  ctx: Context,
  id: string,
  op: "pause" | "resume",
): Promise<void> {
  await withLoaded(
    ctx,
    id,
    (s) =>
      recordedStep(ctx, s, op, () => ctx.runtime[op](runtimeTarget(ctx, s)), {
        crash: op === "pause" ? ["pause:recorded", "pause:runtime"] : [
          "resume:recorded",
          "resume:runtime",
        ],
      }),
  );
}
