/**
 * `berth doctor`: checks the host.
 *
 * @module
 */

import { expectPositionals, noCommand, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { runChecks } from "../../ops/doctor.ts";

/** `doctor`. */
export const doctorCommand: Command<Record<never, never>> = {
  name: "doctor",
  skipRootCheck: true,
  summary: "check the host: runtime, a throwaway container, cgroups, freezer, overlay, criu, roots",
  usage: "doctor",
  description: "Prints one line per check (ok, warn or fail, with a hint) and exits 1 if a\n" +
    "check that run needs fails.",
  options: [],
  examples: ["berth doctor", "berth --runtime /usr/local/bin/runc doctor"],
  parse(args) {
    const p = parseCommandArgs("doctor", args, []);
    noCommand("doctor", p.command);
    expectPositionals("doctor", p.positionals, []);
    return {};
  },
  async run(ctx) {
    const results = await runChecks(ctx);
    const width = Math.max(...results.map((r) => r.name.length));
    for (const r of results) {
      const hint = r.hint !== undefined && r.level !== "ok" ? ` (hint: ${r.hint})` : "";
      ctx.io.out(`${r.level.padEnd(4)}  ${r.name.padEnd(width)}  ${r.message}${hint}\n`);
    }
    return results.some((r) => r.level === "fail" && r.neededForRun) ? 1 : 0;
  },
};
