/**
 * Waiting for a container to exit: the monitor answers as soon as it has
 * reaped and recorded the exit; if no monitor runs, the request starts one,
 * which re-adopts the container. The state file stays the source of truth.
 *
 * @module
 */

import { reconcile } from "./reconcile.ts";
import type { Context } from "../container/context.ts";
import { monitorRequest } from "../monitor/client.ts";

/** How a wait ended. */
export interface WaitOutcome {
  /** The recorded exit code (255 if it could not be observed). */
  exitCode: number;
  /** The container was deleted meanwhile (`--rm`). */
  removed: boolean;
}

/** The init a caller knows of, for when the state is gone (`--rm`). */
export interface KnownInit {
  pid: number | null;
  startTime: number | null;
}

/** Resolves once `ns/id` has stopped. */
export async function waitExit(
  ctx: Context,
  ns: string,
  id: string,
  known: KnownInit = { pid: null, startTime: null },
): Promise<WaitOutcome> {
  let lastReply: number | null = null;
  let init = known;
  for (;;) {
    const loaded = await ctx.store.tryLoad(ns, id);
    if (loaded === null) {
      if (lastReply === null && init.pid !== null) {
        const reply = await monitorRequest(ctx, { op: "wait", ns, id, ...init });
        if (reply?.ok && reply.exitCode !== undefined) lastReply = reply.exitCode;
      }
      return { exitCode: lastReply ?? 255, removed: true };
    }
    const s = await reconcile(ctx, loaded);
    if (s === null) return { exitCode: lastReply ?? 255, removed: true };
    if (s.status === "stopped") return { exitCode: s.exitCode ?? 255, removed: false };
    init = { pid: s.pid, startTime: s.pidStartTime };
    const reply = await monitorRequest(ctx, { op: "wait", ns, id, ...init });
    if (reply?.ok && reply.exitCode !== undefined) {
      lastReply = reply.exitCode;
      continue; // reload: the state holds the code that counts
    }
    // The monitor died meanwhile: the next request starts a new one.
    await ctx.clock.sleep(50);
  }
}
