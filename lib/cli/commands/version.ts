/**
 * `berth version`: berth, Deno and runtime versions.
 *
 * @module
 */

import { expectPositionals, noCommand, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { VERSION } from "../../host/version.ts";

/** `version`. */
export const versionCommand: Command<Record<never, never>> = {
  name: "version",
  skipRootCheck: true,
  summary: "print berth, Deno and runtime versions",
  usage: "version",
  options: [],
  positionals: [],
  command: "none",
  examples: ["berth version", "berth --runtime /usr/local/bin/crun version"],
  parse(args) {
    const p = parseCommandArgs("version", args, []);
    noCommand("version", p.command);
    expectPositionals("version", p.positionals, []);
    return {};
  },
  async run(ctx) {
    ctx.io.out(`berth ${VERSION}\n`);
    ctx.io.out(
      `deno ${Deno.version.deno} (v8 ${Deno.version.v8}, typescript ${Deno.version.typescript})\n`,
    );
    ctx.io.out(`runtime ${ctx.globals.runtime}: ${await ctx.runtime.version()}\n`);
    return 0;
  },
};
