/**
 * Commands that take several containers (`stop`, `rm`, `kill`, `start`,
 * `pause`, `unpause`, `restart`, `wait`): each one in turn, an error per
 * name (`berth: ...` on stderr) and the exit code of the first failure, as
 * podman. What is printed on success: in the podman form each argument as
 * given (podman's output); in the runc form what the command printed before.
 *
 * @module
 */

import type { Context } from "../../container/context.ts";
import { messageOf } from "../../host/errors.ts";
import { commandExitCode } from "./not_runnable.ts";
import { resolveExisting } from "../../ops/orphans.ts";

/**
 * Whether a command that took one name in the runc form (`start`, `kill`,
 * `pause`, `resume`, `restart`) prints podman's output: when invoked by a
 * podman-only name (`unpause`, `container ...`: `podman` set by the
 * registry) or given several names. (`delete`/`stop` took several before:
 * for them only the podman names count.)
 */
export function podmanOutput(o: { refs: string[]; podman?: boolean }): boolean {
  return o.podman === true || o.refs.length > 1;
}

/**
 * Runs `fn` for each reference (resolved to its exact ID). `fn` returns
 * the runc form's output line, if any; with `podman` the reference as
 * given is printed instead. Resolves to the first failure's exit code, or 0.
 */
export async function eachRef(
  ctx: Context,
  refs: string[],
  podman: boolean,
  fn: (id: string, ref: string) => Promise<string | void>,
): Promise<number> {
  let code = 0;
  for (const ref of refs) {
    try {
      const id = await resolveExisting(ctx, ref);
      const line = await fn(id, ref);
      if (podman) ctx.io.out(`${ref}\n`);
      else if (typeof line === "string") ctx.io.out(`${line}\n`);
    } catch (err) {
      ctx.io.err(`berth: ${messageOf(err)}\n`);
      // --debug: the stack trace too, as the CLI frame adds it.
      if (ctx.globals.debug && err instanceof Error && err.stack) ctx.io.err(`${err.stack}\n`);
      // start: a command that cannot be run is 127/126, as podman.
      if (code === 0) code = commandExitCode(err);
    }
  }
  return code;
}
