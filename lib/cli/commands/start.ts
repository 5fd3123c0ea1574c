/**
 * `berth start ID`: starts a created container.
 *
 * @module
 */

import { expectPositionals, noCommand, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { resolveExisting } from "../../ops/orphans.ts";
import { startContainer } from "../../ops/start.ts";

/** `start`. */
export const startCommand: Command<{ ref: string }> = {
  name: "start",
  summary: "start a created container",
  usage: "start ID",
  options: [],
  positionals: [{ name: "ID" }],
  command: "none",
  examples: ["berth start web1"],
  parse(args) {
    const p = parseCommandArgs("start", args, []);
    noCommand("start", p.command);
    const [ref] = expectPositionals("start", p.positionals, ["ID"]);
    return { ref: ref! };
  },
  async run(ctx, o) {
    await startContainer(ctx, await resolveExisting(ctx, o.ref));
    return 0;
  },
};
