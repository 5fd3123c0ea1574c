/**
 * `stop` and `restart`. Stop marks the container as stopped on purpose
 * (its `--restart` policy leaves it stopped, also when it is waiting out a
 * back-off), sends the stop signal, and sends SIGKILL once the grace
 * period is over; the lock is not held while waiting, because the monitor
 * records the exit under it. Restart stops, then starts the same bundle
 * again through the monitor (`restartLocked`, as the restart policy does).
 *
 * @module
 */

import { join } from "../_std/path.ts";
import { runtimeTarget } from "../container/container.ts";
import type { Context } from "../container/context.ts";
import { NotFound, WrongState } from "../host/errors.ts";
import { monitorRequest } from "../monitor/client.ts";
import { liveness } from "../host/proc.ts";
import { waitUntil } from "../host/poll.ts";
import { withLoaded } from "./reconcile.ts";
import { parseSignal } from "../host/signals.ts";
import type { ContainerState } from "../container/state_file.ts";
import { restartLocked } from "./restart.ts";
import { waitExit } from "./wait.ts";

/** The stop signal of a bundle's config (the image's `StopSignal` annotation), else SIGTERM. */
export function stopSignalOf(bundle: string): number {
  try {
    const config = JSON.parse(Deno.readTextFileSync(join(bundle, "config.json")));
    const sig = config?.annotations?.["org.opencontainers.image.stopSignal"];
    if (typeof sig === "string" && sig !== "") return parseSignal(sig);
  } catch { /* no config or no annotation */ }
  return 15;
}

/** How a stop ended. */
export interface StopOutcome {
  /** The recorded exit code; null when it was not running (nothing was signalled). */
  exitCode: number | null;
  /** SIGKILL was needed. */
  killed: boolean;
}

/**
 * Stops `id` (exact ID of the context's namespace): the stop signal, then
 * SIGKILL after `timeoutS` seconds; resolves once the exit is recorded.
 */
export async function stopContainer(
  ctx: Context,
  id: string,
  timeoutS: number,
): Promise<StopOutcome> {
  const ns = ctx.globals.namespace;
  const init = await withLoaded(ctx, id, async (s) => {
    if (s.op !== null) throw new WrongState(`cannot stop "${id}": ${s.op.name} is under way`);
    if (s.restart !== undefined && s.restart !== "no" && s.restartSuppressed !== true) {
      s.restartSuppressed = true; // stopped on purpose: ends a restart loop for good
      await ctx.store.save(s);
    }
    if (s.status === "stopped" || s.pid === null) return null;
    const target = runtimeTarget(ctx, s);
    if (s.status === "paused") {
      // A frozen process would not see the signal: kill it outright.
      await signal(ctx, s, 9);
      return { pid: s.pid, startTime: s.pidStartTime, signalled: 9 };
    }
    const sig = stopSignalOf(s.bundle);
    const pid = s.pid;
    await ctx.runtime.kill(target, sig).catch((err) => {
      // It exited on its own meanwhile ("not running"): its exit is being recorded.
      if (!(err instanceof NotFound) && liveness(pid, s.pidStartTime) === "alive") throw err;
    });
    return { pid: s.pid, startTime: s.pidStartTime, signalled: sig };
  });
  if (init === null) return { exitCode: null, killed: false };
  let killed = false;
  if (init.signalled !== 9) {
    const ended = await waitUntil(() => liveness(init.pid, init.startTime) !== "alive", {
      timeoutMs: timeoutS * 1000,
      firstMs: 5,
      maxMs: 50,
      clock: ctx.clock,
    });
    if (!ended) {
      killed = true;
      await withLoaded(ctx, id, async (s) => {
        if (s.status !== "stopped" && s.pid === init.pid) await signal(ctx, s, 9);
      }).catch((err) => {
        if (!(err instanceof NotFound)) throw err;
      });
    }
  }
  const outcome = await waitExit(ctx, ns, id, { pid: init.pid, startTime: init.startTime });
  return { exitCode: outcome.exitCode, killed };
}

async function signal(ctx: Context, s: ContainerState, sig: number): Promise<void> {
  await ctx.runtime.kill(runtimeTarget(ctx, s), sig, sig === 9).catch((err) => {
    const gone = s.pid === null || liveness(s.pid, s.pidStartTime) !== "alive";
    if (!(err instanceof NotFound) && !gone) throw err;
  });
}

/**
 * Restarts `id`: stops it (as {@linkcode stopContainer}), then starts the
 * same bundle again; its `--restart` policy applies again afterwards.
 */
export async function restartContainer(
  ctx: Context,
  id: string,
  timeoutS: number,
): Promise<ContainerState> {
  await stopContainer(ctx, id, timeoutS);
  return await withLoaded(ctx, id, async (s) => {
    await restartLocked(ctx, s, {
      runtime: ctx.runtime,
      launch: (req) => monitorRequest(ctx, req),
    });
    return s;
  });
}
