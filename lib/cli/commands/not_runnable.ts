/**
 * podman's exit codes for a container command that cannot be run: 127 when
 * it is not found, 126 when it is found but cannot be executed (permission
 * denied, a directory), read from the OCI runtime's error
 * (`exec: "X": executable file not found in $PATH`). Used by `run`,
 * `create`, `start` and `exec`; every other failure keeps berth's codes.
 *
 * @module
 */

import { exitCodeOf, messageOf } from "../../host/errors.ts";
import type { Context } from "../../container/context.ts";

const NOT_FOUND =
  /exec: "[^"]*": (executable file not found|(stat [^:]*: )?no such file or directory)/;
const CANNOT_RUN = /exec: "[^"]*": (permission denied|is a directory|exec format error)/;

/** 127 or 126 when `err` says the container's command is missing or cannot run, else null. */
export function notRunnableCode(err: unknown): number | null {
  const m = messageOf(err);
  if (NOT_FOUND.test(m)) return 127;
  if (CANNOT_RUN.test(m)) return 126;
  return null;
}

/** The exit code for `err`: {@linkcode notRunnableCode}, else berth's. */
export function commandExitCode(err: unknown): number {
  return notRunnableCode(err) ?? exitCodeOf(err);
}

/**
 * Runs `fn`; a failure because the container's command cannot be run is
 * reported as one line and resolves to 127/126 (podman's codes); any other
 * is thrown on, for the CLI frame.
 */
export async function withCommandCodes(
  ctx: Context,
  fn: () => Promise<number>,
): Promise<number> {
  try {
    return await fn();
  } catch (err) {
    const code = notRunnableCode(err);
    if (code === null) throw err;
    ctx.io.err(`berth: ${messageOf(err)}\n`);
    if (ctx.globals.debug && err instanceof Error && err.stack) ctx.io.err(`${err.stack}\n`);
    return code;
  }
}
