/**
 * `berth wait NAME...`: blocks until each container exits, prints its exit code.
 *
 * @module
 */

import { noCommand, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { waitExit } from "../../ops/wait.ts";
import { InvalidArgument } from "../../host/errors.ts";
import { eachRef } from "./each_ref.ts";

/** `wait`. */
export const waitCommand: Command<{ refs: string[]; podman?: boolean }> = {
  name: "wait",
  summary: "wait for containers to exit and print their exit codes",
  usage: "wait ID...",
  description: "Prints one exit code a line, in the order given (as podman).",
  options: [],
  positionals: [{ name: "ID", repeat: true }],
  command: "none",
  examples: ["berth wait web1", "berth wait web1 web2"],
  parse(args) {
    const p = parseCommandArgs("wait", args, []);
    noCommand("wait", p.command);
    if (p.positionals.length === 0) throw new InvalidArgument("wait: missing ID");
    return { refs: p.positionals };
  },
  run: (ctx, o) =>
    eachRef(
      ctx,
      o.refs,
      false,
      async (id) => String((await waitExit(ctx, ctx.globals.namespace, id)).exitCode),
    ),
};
