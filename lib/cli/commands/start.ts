/**
 * `berth start NAME...`: starts created containers, and stopped ones again
 * with their configuration (podman's `start`).
 *
 * @module
 */

import { bool, noCommand, type OptionSpec, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import type { Context } from "../../container/context.ts";
import { startOrRestart } from "../../ops/start.ts";
import { resolveExisting } from "../../ops/orphans.ts";
import { loadReconciled } from "../../ops/reconcile.ts";
import { InvalidArgument } from "../../host/errors.ts";
import { eachRef, podmanOutput } from "./each_ref.ts";
import { withCommandCodes } from "./not_runnable.ts";

/** Options of `start`. */
export interface StartOptions {
  refs: string[];
  /** Print each name as given (the podman form). */
  podman?: boolean;
  /** `-a`: stream its output and exit with its code (one container). */
  attach?: boolean;
}

const OPTIONS: OptionSpec[] = [
  {
    name: "attach",
    short: "a",
    type: "boolean",
    help: "stream the container's stdout/stderr and exit with its code (one container)",
  },
];

/** `start -a`: opens its logs at their end, starts it, and follows them until it exits. */
async function startAttached(ctx: Context, ref: string): Promise<number> {
  const id = await resolveExisting(ctx, ref);
  const { openLogsAtEnd, runInForeground } = await import("../../ops/foreground.ts");
  const logs = await openLogsAtEnd((await loadReconciled(ctx, id)).workDir);
  try {
    await startOrRestart(ctx, id);
  } catch (err) {
    logs.out?.close();
    logs.err?.close();
    throw err;
  }
  return await runInForeground(ctx, await loadReconciled(ctx, id), logs, false);
}

/** `start`. */
export const startCommand: Command<StartOptions> = {
  name: "start",
  summary: "start containers: created ones, and stopped ones again",
  usage: "start [-a] ID...",
  description:
    "A stopped container starts again with its configuration (as restart without the stop).\n" +
    "With several IDs each is started in turn and printed as given; the first failure's\n" +
    "exit code is returned. -a (one container): its output streams to berth's, and berth\n" +
    "exits with its exit code (127/126: its command cannot be found / run; it stays created).",
  options: OPTIONS,
  positionals: [{ name: "ID", repeat: true }],
  command: "none",
  examples: ["berth start web1", "berth start web1 web2", "berth start -a job1"],
  parse(args) {
    const p = parseCommandArgs("start", args, OPTIONS);
    noCommand("start", p.command);
    if (p.positionals.length === 0) throw new InvalidArgument("start: missing ID");
    if (!bool(p.values, "attach")) return { refs: p.positionals };
    if (p.positionals.length > 1) {
      throw new InvalidArgument("start: -a takes one container");
    }
    return { refs: p.positionals, attach: true };
  },
  run: (ctx, o) =>
    o.attach === true
      ? withCommandCodes(ctx, () => startAttached(ctx, o.refs[0]!))
      : eachRef(ctx, o.refs, podmanOutput(o), (id) => startOrRestart(ctx, id)),
};
