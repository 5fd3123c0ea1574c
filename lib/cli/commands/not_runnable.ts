/**
 * podman's exit codes for a container command that cannot be run: 127 when
 * it is not found, 126 when it is found but cannot be executed (permission
 * denied, a directory): see `ops/not_runnable.ts`. Used by `run`,
 * `create`, `start` and `exec`; every other failure keeps berth's codes.
 *
 * @module
 */

import { exitCodeOf, messageOf } from "../../host/errors.ts";
import type { Context } from "../../container/context.ts";
import { notRunnableCode } from "../../ops/not_runnable.ts";

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
