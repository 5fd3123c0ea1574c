/**
 * A project's containers, found by their labels alone: compose keeps no
 * state of its own, so whatever an interrupted `up` made is found by the
 * next `up` or `down` (crash safety).
 *
 * @module
 */

import type { Context } from "../container/context.ts";
import type { ContainerState } from "../container/state_file.ts";
import { reconcile } from "../ops/reconcile.ts";
import { LABELS, numberOf, serviceOf } from "./_plan.ts";

/** The project's containers (one-offs included unless `oneoff` is false), reconciled, by ID. */
export async function projectContainers(
  ctx: Context,
  project: string,
  options: { oneoff?: boolean } = {},
): Promise<ContainerState[]> {
  const all = await ctx.store.list(ctx.globals.namespace);
  const mine = all.filter((s) =>
    s.labels[LABELS.project] === project &&
    (options.oneoff !== false || s.labels[LABELS.oneoff] !== "True")
  );
  const fresh = await Promise.all(mine.map((s) => reconcile(ctx, s).catch(() => s)));
  return fresh.filter((s): s is ContainerState => s !== null).sort((a, b) =>
    serviceOf(a).localeCompare(serviceOf(b)) || numberOf(a) - numberOf(b)
  );
}
