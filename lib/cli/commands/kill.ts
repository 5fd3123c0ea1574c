/**
 * `berth kill [--all] [-s SIGNAL] ID...` and `berth kill ID SIGNAL`.
 *
 * @module
 */

import { bool, noCommand, type OptionSpec, parseCommandArgs, str } from "../args.ts";
import type { Command } from "../command.ts";
import { killContainer } from "../../ops/kill.ts";
import { InvalidArgument } from "../../host/errors.ts";
import { parseSignal } from "../../host/signals.ts";
import { eachRef, podmanOutput } from "./each_ref.ts";

/** Options of `kill`. */
export interface KillOptions {
  refs: string[];
  signal: number;
  all: boolean;
  /** Print each name as given (the podman form). */
  podman?: boolean;
}

const OPTIONS: OptionSpec[] = [
  {
    name: "all",
    short: "a",
    type: "boolean",
    help: "signal every process of the container",
  },
  {
    name: "signal",
    short: "s",
    type: "string",
    value: "SIGNAL",
    default: "KILL",
    help: "the signal: a name (TERM, SIGKILL) or a number",
  },
];

/** The signal `text` names, or null when it is none. */
function signalOrNull(text: string): number | null {
  try {
    return parseSignal(text);
  } catch {
    return null;
  }
}

/** `kill`. */
export const killCommand: Command<KillOptions> = {
  name: "kill",
  summary: "send a signal to containers (default SIGKILL)",
  usage: "kill [--all] [-s SIGNAL] ID... | kill [--all] ID SIGNAL",
  description:
    "SIGNAL is a name (TERM, SIGKILL) or a number; default SIGKILL, as podman and docker.\n" +
    "A second argument is the signal only when exactly two are given, there is no -s, and\n" +
    "it names a signal; otherwise every argument is a container. A container killed\n" +
    "with HUP, INT, QUIT, KILL or TERM is not restarted by its --restart policy.",
  options: OPTIONS,
  positionals: [{ name: "ID", repeat: true }],
  command: "none",
  examples: ["berth kill web1", "berth kill -s TERM web1 web2", "berth kill --all web1 9"],
  parse(args) {
    const p = parseCommandArgs("kill", args, OPTIONS);
    noCommand("kill", p.command);
    const all = bool(p.values, "all");
    const given = str(p.values, "signal");
    if (p.positionals.length === 0) throw new InvalidArgument("kill: missing ID");
    if (given !== undefined) {
      return { refs: p.positionals, signal: parseSignal(given), all };
    }
    const second = p.positionals.length === 2 ? signalOrNull(p.positionals[1]!) : null;
    if (second !== null) return { refs: [p.positionals[0]!], signal: second, all };
    return { refs: p.positionals, signal: 9, all };
  },
  run: (ctx, o) =>
    eachRef(ctx, o.refs, podmanOutput(o), (id) => killContainer(ctx, id, o.signal, o.all)),
};
