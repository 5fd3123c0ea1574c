/**
 * `berth stop [-t SECONDS] ID...` and `berth restart [-t SECONDS] ID`.
 *
 * @module
 */

import { expectPositionals, noCommand, type OptionSpec, parseCommandArgs, str } from "../args.ts";
import type { Command } from "../command.ts";
import { exitCodeOf, InvalidArgument, messageOf } from "../../host/errors.ts";
import { resolveExisting } from "../../ops/orphans.ts";
import { restartContainer, stopContainer } from "../../ops/stop.ts";

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

/** `stop`. */
export const stopCommand: Command<{ refs: string[]; timeoutS: number }> = {
  name: "stop",
  summary: "stop containers: the stop signal, then SIGKILL after a grace period",
  usage: "stop [-t SECONDS] ID...",
  description:
    "Sends the image's stop signal (default SIGTERM), waits up to -t seconds, then sends\n" +
    "SIGKILL; returns once the exit is recorded and prints each ID. A --restart policy\n" +
    "leaves a stopped container stopped (also one waiting to be restarted).",
  options: OPTIONS,
  examples: ["berth stop web1", "berth stop -t 1 web1 web2"],
  parse(args) {
    const p = parseCommandArgs("stop", args, OPTIONS);
    noCommand("stop", p.command);
    if (p.positionals.length === 0) throw new InvalidArgument("stop: missing ID");
    return { refs: p.positionals, timeoutS: timeOf("stop", str(p.values, "time")) };
  },
  async run(ctx, o) {
    let code = 0;
    for (const ref of o.refs) {
      try {
        const id = await resolveExisting(ctx, ref);
        await stopContainer(ctx, id, o.timeoutS);
        ctx.io.out(`${id}\n`);
      } catch (err) {
        ctx.io.err(`berth: ${messageOf(err)}\n`);
        if (code === 0) code = exitCodeOf(err);
      }
    }
    return code;
  },
};

/** `restart`. */
export const restartCommand: Command<{ ref: string; timeoutS: number }> = {
  name: "restart",
  summary: "stop a container, then start it again with the same configuration",
  usage: "restart [-t SECONDS] ID",
  description: "Works on created, running, paused and stopped containers; prints the ID.",
  options: OPTIONS,
  examples: ["berth restart web1", "berth restart -t 2 web1"],
  parse(args) {
    const p = parseCommandArgs("restart", args, OPTIONS);
    noCommand("restart", p.command);
    const [ref] = expectPositionals("restart", p.positionals, ["ID"]);
    return { ref: ref!, timeoutS: timeOf("restart", str(p.values, "time")) };
  },
  async run(ctx, o) {
    const id = await resolveExisting(ctx, o.ref);
    await restartContainer(ctx, id, o.timeoutS);
    ctx.io.out(`${id}\n`);
    return 0;
  },
};
