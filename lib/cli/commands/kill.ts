/**
 * `berth kill [--all] ID [SIGNAL]`.
 *
 * @module
 */

import { bool, noCommand, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { resolveExisting } from "../../ops/orphans.ts";
import { killContainer } from "../../ops/kill.ts";
import { InvalidArgument } from "../../host/errors.ts";
import { parseSignal } from "../../host/signals.ts";

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
  positionals: [{ name: "ID" }, { name: "SIGNAL", optional: true }],
  command: "none",
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
    await killContainer(ctx, id, o.signal, o.all);
    return 0;
  },
};
