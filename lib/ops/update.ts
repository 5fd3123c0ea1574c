/**
 * `update`: changes the limits of a created, running or paused container
 * through the runtime (`runc update`), then records them in the bundle's
 * `config.json` (so a restart keeps them) and in the state.
 *
 * @module
 */

import { join } from "../_std/path.ts";
import { writeFileAtomic } from "../host/atomic_file.ts";
import { runtimeTarget } from "../container/container.ts";
import type { Context } from "../container/context.ts";
import { emit } from "../container/events.ts";
import { InvalidArgument } from "../host/errors.ts";
import { swapAccounting } from "../limits/cgroup.ts";
import { applyLimits, type Limits, updateFlags } from "../limits/parse.ts";
import { withLoaded } from "./reconcile.ts";
import type { ContainerState } from "../container/state_file.ts";
import { transition } from "../container/status.ts";

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
    transition(s.id, s.status, "update");
    const host = { swapAccounting: swapAccounting() };
    await ctx.runtime.update(runtimeTarget(ctx, s), updateFlags(limits, host));
    const configPath = join(s.bundle, "config.json");
    const config = JSON.parse(await Deno.readTextFile(configPath));
    applyLimits(config, limits, host);
    await writeFileAtomic(configPath, JSON.stringify(config, null, 1) + "\n", { mode: 0o600 });
    s.limits = { ...s.limits, ...limits };
    await ctx.store.save(s);
    await emit(ctx, "update", s.namespace, s.id, { ...limits });
    return s;
  });
}
