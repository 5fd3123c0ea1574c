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

/**
 * Resolves once `ns/id` has stopped; given the `known` init, once that
 * init has exited (a restart policy may have started another since).
 */
export async function waitExit(
  ctx: Context,
  ns: string,
  id: string,
  known: KnownInit = { pid: null, startTime: null },
): Promise<WaitOutcome> {
  let lastReply: number | null = null;
  let init = known;
  // Back-off while the monitor has an exit that the state does not show
  // yet (its save is being retried, e.g. on a full disk) or is restarting:
  // none before the first reload, then 10 ms doubling to 1 s: a wait never spins.
  for (let round = 0;; round++) {
    if (round > 1) await ctx.clock.sleep(Math.min(10 * 2 ** (round - 2), 1000));
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
    const another = known.pid !== null && s.pid !== null &&
      (s.pid !== known.pid ||
        (known.startTime !== null && s.pidStartTime !== null &&
          s.pidStartTime !== known.startTime));
    if (another) {
      // A restart policy started a new init (its pid may be the old one's,
      // reused): the one the caller knew has exited. The monitor remembers
      // its code (else 255).
      const reply = await monitorRequest(ctx, { op: "wait", ns, id, ...known });
      return {
        exitCode: reply?.ok && reply.exitCode !== undefined ? reply.exitCode : 255,
        removed: false,
      };
    }
    if (s.status === "stopped") return { exitCode: s.exitCode ?? 255, removed: false };
    init = { pid: s.pid, startTime: s.pidStartTime };
    const reply = await monitorRequest(ctx, { op: "wait", ns, id, ...init });
    // Reload either way: the state holds the code that counts. If the
    // monitor replied with an exit, or died (the next request starts a new
    // one), and the state still says live, back off before asking again.
    if (reply?.ok && reply.exitCode !== undefined) lastReply = reply.exitCode;
    if (reply?.ok && reply.pending === true) round = 0; // a slice ended: ask again at once
  }
}
