/**
 * Repair on touch. Every multi-step operation records itself in the state
 * (`op`) before it starts and runs entirely under the container's lock, so
 * whoever holds the lock and finds an `op` knows that operation was
 * interrupted: its process died. The holder finishes or rolls it back:
 *
 * - `create` is rolled back (the container is fully gone afterwards);
 * - `delete` is finished;
 * - `update` is finished with the limits it recorded while the container
 *   lives (the runtime's update can run again), else settled;
 * - `start`, `pause`, `resume` take the runtime's word for the status;
 * - a container paused by a `commit` that died (`pausedBy`,
 *   lib/container/paused_by.ts) is resumed (it is left paused when the
 *   user paused it: such a pause records no owner).
 *
 * A rollback and a finished delete run the whole delete, which also removes
 * what a runtime process killed midway left mounted in the container's
 * runtime state directory; an ID with no state at all is repaired by
 * `orphans.ts`.
 *
 * Readers that do not take the lock (`lib/ops/reconcile.ts`) try it when they
 * see an `op`: if it is free the op was interrupted and they repair.
 *
 * @module
 */

import type { Context } from "../container/context.ts";

import type { ContainerState } from "../container/state_file.ts";
import { monitorRequestIfRunning } from "../monitor/client.ts";
import { deleteLocked } from "./delete.ts";
import { settleLocked } from "./settle.ts";
import { updateLocked } from "./update.ts";
import { isLive } from "../container/container.ts";
import { liveness } from "../host/proc.ts";
import { pauseAbandoned } from "../container/paused_by.ts";
import { freezeLocked } from "./pause.ts";

/**
 * Finishes or rolls back the interrupted operation of `s` (loaded under
 * the lock). Returns the repaired state, or null when the container is
 * gone. A state without `op` is returned as it is.
 */
export async function repairLocked(
  ctx: Context,
  s: ContainerState,
  log: (msg: string) => void = () => {},
): Promise<ContainerState | null> {
  const op = s.op;
  if (op === null) return await resumeAbandonedLocked(ctx, s, log);
  const name = `${s.namespace}/${s.id}`;
  switch (op.name) {
    case "create":
      // Its process died; a runtime create it asked the monitor for may
      // still be finishing: let it, then roll everything back.
      await monitorRequestIfRunning(ctx, { op: "quiesce", ns: s.namespace, id: s.id });
      await deleteLocked(ctx, s, true);
      log(`rolled back the interrupted create of ${name}`);
      return null;
    case "delete":
      await deleteLocked(ctx, s, true);
      log(`finished the interrupted delete of ${name}`);
      return null;
    case "update": {
      // The runtime's update can run again while the init lives; one that
      // exited meanwhile (or a refused update) is settled like the others.
      const alive = isLive(s) && s.pid !== null && liveness(s.pid, s.pidStartTime) === "alive";
      if (op.limits !== undefined && alive) {
        const done = await updateLocked(ctx, s, op.limits).then(() => true, () => false);
        if (done) {
          log(`finished the interrupted update of ${name}`);
          return s;
        }
      }
      break;
    }
  }
  const before = s.status;
  await settleLocked(ctx, s);
  log(`settled the interrupted ${op.name} of ${name}: ${before} -> ${s.status}`);
  return await resumeAbandonedLocked(ctx, s, log);
}

/**
 * Resumes `s` (loaded under its lock, no op in flight) when the process
 * that paused it for its own use is dead; a mark left on a container that
 * is no longer paused (its pause failed, or it stopped) is dropped.
 */
async function resumeAbandonedLocked(
  ctx: Context,
  s: ContainerState,
  log: (msg: string) => void,
): Promise<ContainerState> {
  if (!pauseAbandoned(s)) return s;
  const name = `${s.namespace}/${s.id}`;
  if (s.status === "paused") {
    await freezeLocked(ctx, s, "resume");
    log(`resumed ${name}, which a killed commit had paused`);
  } else {
    delete s.pausedBy;
    await ctx.store.save(s);
  }
  return s;
}
