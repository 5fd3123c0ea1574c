/**
 * One recorded step: how every status-changing operation of an existing
 * container runs under its lock. In order: the transition check, the op
 * recorded in the state and saved (so an interrupted step is repaired:
 * `ops/repair.ts`), its first crash point, the act (a runtime or monitor
 * call), its second crash point, the new status ({@linkcode changeStatus}, checked again),
 * the state saved without the op, and the event. A step whose act removes
 * the container (delete) ends with the event: there is no state to save.
 *
 * @module
 */

import { opRecord } from "./container.ts";
import type { Context } from "./context.ts";
import { type CrashPoint, crashPoint } from "./crash.ts";
import { emit, type EventType } from "./events.ts";
import type { ContainerState, Limits, OpName } from "./state_file.ts";
import { changeStatus, type Operation, transition } from "./status.ts";

/** The operations that run as a recorded step. */
export type StepOperation = (Operation & OpName) | "kill" | "forceDelete" | "restart";

/** Options of {@linkcode recordedStep}. */
export interface StepOptions<T> {
  /**
   * The op recorded while it runs (default: `op` itself, `delete` for
   * `forceDelete`, none for `kill`); null records none.
   */
  record?: OpName | null;
  /** The checkpoint image directory kept in the record (checkpoint, restore). */
  imagePath?: string;
  /** The limits kept in the record (update). */
  limits?: Limits;
  /** Crash points right after the record is saved and (if given) right after the act. */
  crash?: readonly [CrashPoint, CrashPoint?];
  /**
   * The act can run again from the start (delete): a state whose `op`
   * already records this step, left by a process that died in it, is
   * finished by running it again. Its transition was checked when it was
   * recorded, and the record is kept as it is.
   */
  resumable?: boolean;
  /**
   * The act removes the container, its state with it (delete): no status
   * is set and nothing is saved after it; the event still follows.
   */
  removes?: boolean;
  /**
   * When the act fails, drop the record and save: the container is as it
   * was (checkpoint, restore). Otherwise the record stays for repair.
   */
  undoOnFailure?: boolean;
  /** Sets further fields from the act's result before the final save. */
  apply?: (s: ContainerState, result: T) => void;
  /** The event at the end (default: `op`, no details; none for kill); null emits none. */
  event?: { type: EventType; details?: (s: ContainerState) => Record<string, unknown> } | null;
}

/**
 * Runs `act` as the operation `op` of `s` (loaded under its lock): see the
 * module doc for the order. Returns what `act` returned.
 */
export async function recordedStep<T>(
  ctx: Context,
  s: ContainerState,
  op: StepOperation,
  act: () => Promise<T>,
  options: StepOptions<T> = {},
): Promise<T> {
  const record = options.record !== undefined
    ? options.record
    : op === "kill"
    ? null
    : op === "forceDelete"
    ? "delete"
    : op === "restart"
    ? "start" // an interrupted restart is settled like a start
    : op;
  const resuming = options.resumable === true && record !== null && s.op?.name === record;
  if (!resuming) transition(s.id, s.status, op); // refused before anything is recorded
  if (record !== null) {
    if (!resuming) {
      s.op = opRecord(ctx, record);
      if (options.imagePath !== undefined) s.op.imagePath = options.imagePath;
      if (options.limits !== undefined) s.op.limits = options.limits;
      await ctx.store.save(s);
    }
    if (options.crash !== undefined) crashPoint(ctx.crashAt, options.crash[0]);
  }
  let result: T;
  try {
    result = await act();
  } catch (err) {
    if (record !== null && options.undoOnFailure === true) {
      s.op = null;
      await ctx.store.save(s);
    }
    throw err;
  }
  const acted = options.crash?.[1];
  if (acted !== undefined) crashPoint(ctx.crashAt, acted);
  if (options.removes !== true) {
    if (!resuming) changeStatus(s, op, ctx.clock.now());
    options.apply?.(s, result);
    if (record !== null) {
      s.op = null;
      await ctx.store.save(s);
    }
  }
  const event = options.event !== undefined
    ? options.event
    : op === "kill"
    ? null
    : { type: (op === "forceDelete" ? "delete" : op === "restart" ? "start" : op) as EventType };
  if (event !== null) await emit(ctx, event.type, s.namespace, s.id, event.details?.(s));
  return result;
}
