/**
 * The monitor's waits (conmon's exit-file waiters): a `wait` request is
 * answered with the exit code of the init it names once that exit is
 * recorded, and a `kill` request SIGKILLs the init and answers once it is
 * reaped. Both wait on the reaper's watch of the init; a wait is answered
 * from the recent exits when it comes after the exit was recorded (an
 * `--rm` container is already gone then).
 *
 * @module
 */

import type { Context } from "../container/context.ts";
import { after } from "../host/clock.ts";
import { waitUntil } from "../host/poll.ts";
import { RuntimeError } from "../host/errors.ts";
import { liveness } from "../host/proc.ts";
import type { Exits } from "./exits.ts";
import {
  type KillRequest,
  type MonitorReply,
  REAP_TIMEOUT_MS,
  WAIT_SLICE_MS,
  type WaitRequest,
} from "./protocol.ts";
import { key, type Reaper } from "./reaper.ts";

/**
 * Answers a `wait`: the recorded exit code, `watched: false` when the
 * monitor neither watches the init nor can adopt it, or `pending` after
 * {@linkcode WAIT_SLICE_MS} (the client asks again, so a monitor that stops
 * answering is noticed by its timeout).
 */
export async function serveWait(
  req: WaitRequest,
  reaper: Reaper,
  exits: Exits,
): Promise<MonitorReply> {
  const k = key(req.ns, req.id);
  let w = reaper.get(k);
  const past = exits.recent(k);
  if (w === undefined && past !== undefined && (req.pid === null || past.pid === req.pid)) {
    return { ok: true, watched: true, exitCode: past.exitCode };
  }
  if (
    w !== undefined && req.pid !== null &&
    (w.pid !== req.pid ||
      (req.startTime !== null && w.startTime !== null && w.startTime !== req.startTime))
  ) {
    // A restart policy started a new init since (its pid may even be the
    // old one's, reused): the one asked about has exited. Its code if
    // remembered, else 255 (it was not observed here).
    if (liveness(req.pid, req.startTime) !== "gone") return { ok: true, watched: false };
    return { ok: true, watched: true, exitCode: past?.pid === req.pid ? past.exitCode : 255 };
  }
  if (w === undefined && req.pid !== null) {
    w = reaper.watch(req.ns, req.id, req.pid, req.startTime) ?? undefined;
    reaper.sweep();
  }
  if (w === undefined) return { ok: true, watched: false };
  const watch = w;
  let settle!: (code: number | null) => void;
  const outcome = new Promise<number | null>((resolve) => (settle = resolve));
  watch.waiters.push(settle);
  const cancel = after(WAIT_SLICE_MS, () => settle(null));
  const exitCode = await outcome;
  cancel();
  if (exitCode === null) {
    const i = watch.waiters.indexOf(settle);
    if (i >= 0) watch.waiters.splice(i, 1);
    return { ok: true, watched: true, pending: true };
  }
  return { ok: true, watched: true, exitCode };
}

/**
 * SIGKILLs the init of `req.ns/req.id` and answers once it is reaped
 * (within {@linkcode REAP_TIMEOUT_MS}). The monitor's own child cannot be
 * confused with another process: its pid stays the monitor's until it is
 * reaped. An adoptee is checked against its start time and then polled.
 */
export async function killAndReap(
  ctx: Context,
  req: KillRequest,
  reaper: Reaper,
  exits: Exits,
): Promise<MonitorReply> {
  const k = key(req.ns, req.id);
  const w = reaper.get(k);
  if (w === undefined || w.pid !== req.pid) {
    const past = exits.recent(k);
    if (past !== undefined && past.pid === req.pid) return { ok: true, exitCode: past.exitCode };
    return { ok: false, kind: "NotFound", message: `${k}: pid ${req.pid} is not watched` };
  }
  let settle!: (code: number | null) => void;
  const reaped = new Promise<number | null>((resolve) => (settle = resolve));
  w.reaped.push(settle);
  let expired = false;
  const cancel = after(REAP_TIMEOUT_MS, () => {
    expired = true;
    settle(null);
  });
  try {
    if (w.child || liveness(w.pid, w.startTime) !== "gone") {
      try {
        Deno.kill(w.pid, "SIGKILL");
      } catch { /* it exited meanwhile: the sweep reaps it */ }
    }
    if (w.child) {
      reaper.sweep();
    } else {
      // An adoptee's exit is noticed by polling /proc; poll briskly here.
      await waitUntil(() => {
        reaper.sweep();
        return expired || reaper.get(k) !== w;
      }, { timeoutMs: Infinity, maxMs: 10, clock: ctx.clock });
    }
    const exitCode = await reaped;
    if (exitCode === null) {
      throw new RuntimeError(`${k}: its init (pid ${w.pid}) did not die`);
    }
    return { ok: true, exitCode };
  } finally {
    cancel();
  }
}
