/**
 * `berth stop [-t SECONDS] ID...` and `berth restart [-t SECONDS] ID...`.
 *
 * @module
 */

import { noCommand, type OptionSpec, parseCommandArgs, str } from "../args.ts";
import type { Command } from "../command.ts";
import { InvalidArgument } from "../../host/errors.ts";
import { restartContainer, stopContainer } from "../../ops/stop.ts";
import { eachRef, podmanOutput } from "./each_ref.ts";

const OPTIONS: OptionSpec[] = [
  {
    name: "time",
    short: "t",
    type: "string",
    value: "SECONDS",
    default: "10",
    help: "grace period before SIGKILL",
  },
];

/** Reads `-t`: a whole number of seconds. */
function timeOf(cmd: string, text: string | undefined): number {
  const t = text ?? "10";
  if (!/^[0-9]{1,6}$/.test(t)) {
    throw new InvalidArgument(`${cmd}: -t must be a whole number of seconds, not "${t}"`);
  }
  return Number(t);
}

/** Options of `stop` and `restart`. */
export interface StopOptions {
  refs: string[];
  timeoutS: number;
  /** Print each name as given (the podman form). */
  podman?: boolean;
}

/** `stop`. */
export const stopCommand: Command<StopOptions> = {
  name: "stop",
  summary: "stop containers: the stop signal, then SIGKILL after a grace period",
  usage: "stop [-t SECONDS] ID...",
  description:
    "Sends the image's stop signal (default SIGTERM), waits up to -t seconds, then sends\n" +
    "SIGKILL; returns once the exit is recorded and prints each ID (as given in the podman\n" +
    "form: container stop). A --restart policy\n" +
    "leaves a stopped container stopped (also one waiting to be restarted).",
  options: OPTIONS,
  examples: ["berth stop web1", "berth stop -t 1 web1 web2"],
  parse(args) {
    const p = parseCommandArgs("stop", args, OPTIONS);
    noCommand("stop", p.command);
    if (p.positionals.length === 0) throw new InvalidArgument("stop: missing ID");
    return { refs: p.positionals, timeoutS: timeOf("stop", str(p.values, "time")) };
  },
  run: (ctx, o) =>
    eachRef(ctx, o.refs, o.podman === true, async (id) => {
      await stopContainer(ctx, id, o.timeoutS);
      return id;
    }),
};

/** `restart`. */
export const restartCommand: Command<StopOptions> = {
  name: "restart",
  summary: "stop containers, then start them again with the same configuration",
  usage: "restart [-t SECONDS] ID...",
  description: "Works on created, running, paused and stopped containers; prints each ID.",
  options: OPTIONS,
  examples: ["berth restart web1", "berth restart -t 2 web1 web2"],
  parse(args) {
    const p = parseCommandArgs("restart", args, OPTIONS);
    noCommand("restart", p.command);
    if (p.positionals.length === 0) throw new InvalidArgument("restart: missing ID");
    return { refs: p.positionals, timeoutS: timeOf("restart", str(p.values, "time")) };
  },
  run: (ctx, o) =>
    eachRef(ctx, o.refs, podmanOutput(o), async (id) => {
      await restartContainer(ctx, id, o.timeoutS);
      return id;
    }),
};
