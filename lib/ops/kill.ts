/**
 * Signalling a container's init (or all its processes).
 *
 * @module
 */

import { runtimeTarget } from "../container/container.ts";
import type { Context } from "../container/context.ts";
import { recordedStep } from "../container/step.ts";
import { withLoaded } from "./reconcile.ts";
import { refuseUnlaunched } from "./not_runnable.ts";

/** Signals that mean "stop": HUP, INT, QUIT, KILL, TERM. */
const TERMINATING = new Set([1, 2, 3, 9, 15]);

/**
 * Sends `signal` to the container `id` of the context's namespace. A
 * terminating signal suppresses its restart policy first: stopped on
 * purpose, it stays stopped. No op is recorded (a kill leaves nothing to
 * repair); a `kill` event names the signal (as podman's does), and the
 * exit that may follow is the monitor's to record.
 */
export async function killContainer(
  ctx: Context,
  id: string,
  signal: number,
  all: boolean,
): Promise<void> {
  await withLoaded(ctx, id, (s) => {
    refuseUnlaunched(s, "kill");
    return recordedStep(ctx, s, "kill", async () => {
      if (TERMINATING.has(signal) && s.restart !== undefined && s.restart !== "no") {
        s.restartSuppressed = true;
        await ctx.store.save(s);
      }
      await ctx.runtime.kill(runtimeTarget(ctx, s), signal, all);
    }, { event: { type: "kill", details: () => ({ signal, ...(all ? { all } : {}) }) } });
  });
}
