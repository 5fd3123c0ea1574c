/**
 * Container statuses and the one table of legal transitions (modelled on runc
 * `libcontainer/state_linux.go`). Every status change goes through
 * {@linkcode transition}; an illegal move is a {@linkcode WrongState} error.
 *
 * @module
 */

import { WrongState } from "../host/errors.ts";

/** The statuses of the contract. */
export type Status = "created" | "running" | "paused" | "stopped";

/** All statuses, for validation of stored state. */
export const STATUSES: readonly Status[] = ["created", "running", "paused", "stopped"];

/** The operations that are checked against a container's status. */
export type Operation =
  | "start"
  | "pause"
  | "resume"
  | "kill"
  | "exec"
  | "exit"
  | "delete"
  | "forceDelete"
  | "checkpoint"
  | "restore"
  | "restart"
  | "update";

interface Rule {
  /** Statuses the operation is allowed from. */
  readonly from: readonly Status[];
  /** The status afterwards; `null` keeps the current one. */
  readonly to: Status | null;
}

/** The transition table. */
export const TRANSITIONS: Readonly<Record<Operation, Rule>> = {
  start: { from: ["created"], to: "running" },
  pause: { from: ["created", "running"], to: "paused" },
  resume: { from: ["paused"], to: "running" },
  kill: { from: ["created", "running", "paused"], to: null },
  exec: { from: ["running"], to: null },
  exit: { from: ["created", "running", "paused"], to: "stopped" },
  delete: { from: ["created", "stopped"], to: null },
  forceDelete: { from: ["created", "running", "paused", "stopped"], to: null },
  checkpoint: { from: ["running"], to: null },
  restore: { from: ["stopped"], to: "running" },
  restart: { from: ["stopped"], to: "running" },
  update: { from: ["created", "running", "paused"], to: null },
};

const VERBS: Readonly<Record<Operation, string>> = {
  start: "start",
  pause: "pause",
  resume: "resume",
  kill: "kill",
  exec: "exec in",
  exit: "record the exit of",
  delete: "delete",
  forceDelete: "delete",
  checkpoint: "checkpoint",
  restore: "restore",
  restart: "restart",
  update: "update",
};

/** True when `op` is allowed from `status`. */
export function canTransition(status: Status, op: Operation): boolean {
  return TRANSITIONS[op].from.includes(status);
}

/** The fields of a state that a status change touches. */
export interface StatusFields {
  /** The container's ID (named in a refused move). */
  id: string;
  status: Status;
  startedAt: string | null;
  exitCode: number | null;
  exitedAt: string | null;
  exitObserved: boolean;
}

/**
 * Moves `s` by the operation `op` (gVisor runsc's `changeStatus`): the
 * move is checked against the transition table and refused with
 * WrongState when illegal; an operation that keeps the status (kill,
 * exec, update) changes nothing. Returns the status afterwards.
 */
export function changeStatus(s: StatusFields, op: Operation, now: Date): Status {
  const next = transition(s.id, s.status, op);
  if (next !== s.status) writeStatus(s, next, now);
  return next;
}

/**
 * Why a status is taken as found rather than moved by an operation: repair
 * of an interrupted operation (the runtime says what the container is) or
 * an exit observed (or taken as 255) while no operation moved it.
 */
export type SettleReason = "repair" | "exit";

/**
 * Sets the status `observed` on `s` without a transition check: the one
 * named path for what was found rather than done (see {@linkcode SettleReason}).
 * Every other move goes through {@linkcode changeStatus}.
 */
export function settleStatus(
  s: StatusFields,
  observed: Status,
  now: Date,
  _reason: SettleReason,
): void {
  writeStatus(s, observed, now);
}

/**
 * The one writer of `status`, private to this module. It owns the fields
 * that go with a status: entering `stopped` stamps `exitedAt` (the caller
 * sets the exit code); leaving `stopped` for a live status (restore,
 * restart) clears the last exit and stamps a new `startedAt`; entering
 * `running` for the first time stamps `startedAt`.
 */
function writeStatus(s: StatusFields, next: Status, now: Date): void {
  if (next === "stopped") {
    s.exitedAt = now.toISOString();
  } else if (s.status === "stopped") {
    s.startedAt = now.toISOString();
    s.exitCode = null;
    s.exitedAt = null;
    s.exitObserved = false;
  } else if (next === "running" && s.startedAt === null) {
    s.startedAt = now.toISOString();
  }
  s.status = next;
}

/**
 * Checks `op` against `status` and returns the status afterwards.
 * Throws WrongState, e.g. `cannot pause "web1": container is stopped`.
 */
export function transition(id: string, status: Status, op: Operation): Status {
  const rule = TRANSITIONS[op];
  if (!rule.from.includes(status)) {
    const hint = op === "delete" && (status === "running" || status === "paused")
      ? " (use -f to kill it first)"
      : "";
    throw new WrongState(`cannot ${VERBS[op]} "${id}": container is ${status}${hint}`);
  }
  return rule.to ?? status;
}
