/**
 * `berth export [-o FILE] NAME`: a container's root file system as a tar.
 *
 * @module
 */

import { expectPositionals, noCommand, parseCommandArgs, str } from "../args.ts";
import type { Command } from "../command.ts";
import { InvalidArgument } from "../../host/errors.ts";

/** Options of `export`. */
export interface ExportArgs {
  container: string;
  /** A file, or null: stdout. */
  output: string | null;
}

const OPTIONS = [
  {
    name: "output",
    short: "o",
    type: "string" as const,
    value: "FILE",
    help: "the tar to write (- or none: stdout, unless it is a terminal)",
  },
];

/** `export`. */
export const exportCommand: Command<ExportArgs> = {
  name: "export",
  summary: "write a container's root file system as a tar",
  usage: "export [-o FILE] NAME",
  description:
    "The container's files as it sees them (stopped or running), without its volumes and binds. FILE is written beside itself and renamed into place, so a failed or killed export never leaves a partial FILE. berth import makes an image of it.",
  options: OPTIONS,
  examples: ["berth export -o web1.tar web1", "berth export web1 | tar -t"],
  parse(args) {
    const p = parseCommandArgs("export", args, OPTIONS);
    noCommand("export", p.command);
    const [container] = expectPositionals("export", p.positionals, ["NAME"]);
    const out = str(p.values, "output");
    if (out === "") throw new InvalidArgument("export: -o needs a file name");
    return { container: container!, output: out === undefined || out === "-" ? null : out };
  },
  async run(ctx, o) {
    if (o.output === null && Deno.stdout.isTerminal()) {
      throw new InvalidArgument("export: refusing to write a tar to a terminal: give -o FILE");
    }
    const { exportContainer } = await import("../../ops/export.ts");
    await exportContainer(ctx, o.container, o.output);
    return 0;
  },
};
