/**
 * `update`: changes the limits of a created, running or paused container
 * through the runtime (`runc update`), then records them in the bundle's
 * `config.json` (so a restart keeps them) and in the state, as one
 * recorded step that repair finishes.
 *
 * @module
 */

import { join } from "../_std/path.ts";
import { writeFileAtomic } from "../host/atomic_file.ts";
import { runtimeTarget } from "../container/container.ts";
import type { Context } from "../container/context.ts";
import { recordedStep } from "../container/step.ts";
import { InvalidArgument } from "../host/errors.ts";
import { applyLimits, type Limits, swapAccounting, updateFlags } from "../limits/mod.ts";
import { withLoaded } from "./reconcile.ts";
import { refuseUnlaunched } from "./not_runnable.ts";
import type { ContainerState } from "../container/state_file.ts";

/** Applies `limits` to `id` (exact ID of the context's namespace); returns the new state. */
export async function updateContainer(
  ctx: Context,
  id: string,
  limits: Limits,
): Promise<ContainerState> {
  if (Object.keys(limits).length === 0) {
    throw new InvalidArgument("update: give --memory, --cpus or --pids-limit");
  }
  return await withLoaded(ctx, id, async (s) => {
    refuseUnlaunched(s, "update");
    await updateLocked(ctx, s, limits);
    return s;
  });
}

/**
 * Applies `limits` to `s` (loaded under its lock) as one recorded step:
 * op "update" saved with the limits, the runtime's update, the bundle's
 * config rewritten, then the limits kept in the state and the event. All
 * of it can run again: an interrupted update is finished by repair with
 * the limits its record keeps.
 */
export async function updateLocked(
  ctx: Context,
  s: ContainerState,
  limits: Limits,
): Promise<void> {
  await recordedStep(ctx, s, "update", async () => {
    const host = { swapAccounting: swapAccounting() };
    await ctx.runtime.update(runtimeTarget(ctx, s), updateFlags(limits, host));
    const configPath = join(s.bundle, "config.json");
    const config = JSON.parse(await Deno.readTextFile(configPath));
    applyLimits(config, limits, host);
    await writeFileAtomic(configPath, JSON.stringify(config, null, 1) + "\n", { mode: 0o600 });
  }, {
    limits,
    resumable: true,
    crash: ["update:recorded", "update:runtime"],
    apply: (s) => (s.limits = { ...s.limits, ...limits }),
    event: { type: "update", details: () => ({ ...limits }) },
  });
}
