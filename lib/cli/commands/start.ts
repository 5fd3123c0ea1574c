/**
 * `berth start NAME...`: starts created containers, and stopped ones again
 * with their configuration (podman's `start`).
 *
 * @module
 */

import { noCommand, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { startOrRestart } from "../../ops/start.ts";
import { InvalidArgument } from "../../host/errors.ts";
import { eachRef, podmanOutput } from "./each_ref.ts";

/** Options of `start`. */
export interface StartOptions {
  refs: string[];
  /** Print each name as given (the podman form). */
  podman?: boolean;
}

/** `start`. */
export const startCommand: Command<StartOptions> = {
  name: "start",
  summary: "start containers: created ones, and stopped ones again",
  usage: "start ID...",
  description:
    "A stopped container starts again with its configuration (as restart without the stop).\n" +
    "With several IDs each is started in turn and printed as given; the first failure's\n" +
    "exit code is returned.",
  options: [],
  positionals: [{ name: "ID", repeat: true }],
  command: "none",
  examples: ["berth start web1", "berth start web1 web2"],
  parse(args) {
    const p = parseCommandArgs("start", args, []);
    noCommand("start", p.command);
    if (p.positionals.length === 0) throw new InvalidArgument("start: missing ID");
    return { refs: p.positionals };
  },
  run: (ctx, o) => eachRef(ctx, o.refs, podmanOutput(o), (id) => startOrRestart(ctx, id)),
};
