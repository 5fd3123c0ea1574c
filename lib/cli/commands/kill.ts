/**
 * `berth kill [--all] ID [SIGNAL]`.
 *
 * @module
 */

import { bool, noCommand, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { runtimeTarget } from "../../container/container.ts";
import { resolveExisting } from "../../ops/orphans.ts";
import { withLoaded } from "../../ops/reconcile.ts";
import { InvalidArgument } from "../../host/errors.ts";
import { parseSignal } from "../../host/signals.ts";
import { transition } from "../../container/status.ts";

/** Signals that mean "stop": HUP, INT, QUIT, KILL, TERM. */
const TERMINATING = new Set([1, 2, 3, 9, 15]);

const OPTIONS = [
  {
    name: "all",
    short: "a",
    type: "boolean" as const,
    help: "signal every process of the container",
  },
];

/** `kill`. */
export const killCommand: Command<{ ref: string; signal: number; all: boolean }> = {
  name: "kill",
  summary: "send a signal to a container",
  usage: "kill [--all] ID [SIGNAL]",
  description:
    "SIGNAL is a name (TERM, SIGKILL) or a number; default SIGTERM. A container killed\n" +
    "with HUP, INT, QUIT, KILL or TERM is not restarted by its --restart policy.",
  options: OPTIONS,
  examples: ["berth kill web1", "berth kill web1 KILL", "berth kill --all web1 9"],
  parse(args) {
    const p = parseCommandArgs("kill", args, OPTIONS);
    noCommand("kill", p.command);
    const [ref, sig, extra] = p.positionals;
    if (ref === undefined) throw new InvalidArgument("kill: missing ID");
    if (extra !== undefined) throw new InvalidArgument(`kill: unexpected argument "${extra}"`);
    return { ref, signal: parseSignal(sig ?? "TERM"), all: bool(p.values, "all") };
  },
  async run(ctx, o) {
    const id = await resolveExisting(ctx, o.ref);
    await withLoaded(ctx, id, async (s) => {
      transition(s.id, s.status, "kill");
      if (TERMINATING.has(o.signal) && s.restart !== undefined && s.restart !== "no") {
        s.restartSuppressed = true; // stopped on purpose: the restart policy leaves it stopped
        await ctx.store.save(s);
      }
      await ctx.runtime.kill(runtimeTarget(ctx, s), o.signal, o.all);
    });
    return 0;
  },
};
