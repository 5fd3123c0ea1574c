/**
 * Freezing and thawing a container (the runtime's freezer).
 *
 * @module
 */

import { runtimeTarget } from "../container/container.ts";
import type { Context } from "../container/context.ts";
import type { ContainerState } from "../container/state_file.ts";
import { recordedStep } from "../container/step.ts";
import { startTimeOf } from "../host/proc.ts";
import { withLoaded } from "./reconcile.ts";
import { refuseUnlaunched } from "./not_runnable.ts";

/**
 * Pauses (`pause`) or resumes (`resume`) the container `id` of the
 * context's namespace. A pause that the runtime refuses because the
 * container is frozen already (the monitor holds back a runaway log
 * writer, lib/monitor/log_trimmer.ts) is done: it is recorded, and the
 * monitor, seeing it, leaves the freezer as it is.
 *
 * `forCommit` marks a pause as this process's own (`commit`): the state
 * records it (`pausedBy`) before the runtime is called, so that once this
 * process is dead the next command or `berth gc` resumes the container
 * (lib/ops/commit_pause.ts). Every resume clears the mark.
 */
export async function freezeContainer(
  ctx: Context,
  id: string,
  op: "pause" | "resume",
  forCommit = false,
): Promise<void> {
  await withLoaded(ctx, id, (s) => freezeLocked(ctx, s, op, forCommit));
}

/** {@linkcode freezeContainer} for a state loaded under its lock. */
export async function freezeLocked(
  ctx: Context,
  s: ContainerState,
  op: "pause" | "resume",
  forCommit = false,
): Promise<void> {
  refuseUnlaunched(s, op);
  if (op === "pause" && forCommit) {
    // Saved with the op record, before the runtime freezes anything.
    s.pausedBy = {
      pid: Deno.pid,
      pidStartTime: startTimeOf(Deno.pid),
      since: ctx.clock.now().toISOString(),
    };
  }
  await recordedStep(ctx, s, op, async () => {
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
    // Cleared with the final save: a resume killed before it keeps the mark for repair.
    apply: (st) => {
      if (op === "resume") delete st.pausedBy;
    },
  });
}
