/**
 * The closed set of domain errors berth reports, each carrying the exit code
 * the contract (`shared/spec/cli.md`, "Exit codes") assigns to it.
 *
 * Every failure that reaches `main.ts` is either one of these or an
 * unexpected error, which is reported as a {@linkcode RuntimeError} (exit 1).
 *
 * @module
 */

import { printable } from "./printable.ts";

/** Exit codes of the contract. */
export const ExitCode = {
  Ok: 0,
  Failure: 1,
  Usage: 2,
  NotFound: 3,
  Exists: 4,
  WrongState: 5,
} as const;

/** Base class of all domain errors; `exitCode` is what berth exits with. */
export abstract class BerthError extends Error {
  /** The process exit code for this error. */
  abstract readonly exitCode: number;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad ID, bad flag, malformed config, ambiguous prefix (exit 2). */
export class InvalidArgument extends BerthError {
  readonly exitCode = ExitCode.Usage;
}

/** No such container (exit 3). */
export class NotFound extends BerthError {
  readonly exitCode = ExitCode.NotFound;
}

/** A container with that ID already exists (exit 4). */
export class Exists extends BerthError {
  readonly exitCode = ExitCode.Exists;
}

/** The container's status does not allow the operation (exit 5). */
export class WrongState extends BerthError {
  readonly exitCode = ExitCode.WrongState;
}

/** A lock could not be taken within its bounded wait (exit 1). */
export class Locked extends BerthError {
  readonly exitCode = ExitCode.Failure;
}

/** The OCI runtime, an I/O call or a timeout failed (exit 1). */
export class RuntimeError extends BerthError {
  readonly exitCode = ExitCode.Failure;
}

/** Maps any thrown value to the exit code berth must exit with. */
export function exitCodeOf(err: unknown): number {
  return err instanceof BerthError ? err.exitCode : ExitCode.Failure;
}

/**
 * The one-line message for any thrown value (without the `berth: ` prefix):
 * newlines are folded so the contract's "one line on stderr" holds even for
 * multi-line messages from the runtime or the OS, and every other control
 * character is shown as `\xNN` (lib/host/printable.ts): a message may carry
 * text from a registry, an image or a container.
 */
export function messageOf(err: unknown): string {
  const raw = err instanceof Error ? err.message : String(err);
  return printable(raw.replace(/\s*[\r\n]\s*/g, "; ").trim()) || "unknown error";
}

/** True when `err` is Deno's "not found" I/O error. */
export function isNotFound(err: unknown): boolean {
  return err instanceof Deno.errors.NotFound;
}
