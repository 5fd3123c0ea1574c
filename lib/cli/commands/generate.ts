/**
 * `berth generate systemd [--berth PATH] [--restart-sec N] ID`.
 *
 * @module
 */

import { basename } from "../../_std/path.ts";
import { expectPositionals, noCommand, parseCommandArgs, str } from "../args.ts";
import type { Command } from "../command.ts";
import { InvalidArgument } from "../../host/errors.ts";
import { resolveExisting } from "../../ops/orphans.ts";
import { systemdUnit } from "../../ops/systemd.ts";

/** Options of `generate systemd`. */
export interface GenerateOptions {
  ref: string;
  berth: string | null;
  restartSec: number;
}

const OPTIONS = [
  {
    name: "berth",
    type: "string" as const,
    value: "PATH",
    default: "this binary, or /usr/local/bin/berth when run from source",
    help: "the berth binary the unit runs",
  },
  {
    name: "restart-sec",
    type: "string" as const,
    value: "N",
    default: "2",
    help: "seconds between restarts",
  },
];

/** The default berth path for units. */
function defaultBerth(): string {
  const exe = Deno.execPath();
  return basename(exe) === "deno" ? "/usr/local/bin/berth" : exe;
}

/** `generate`. */
export const generateCommand: Command<GenerateOptions> = {
  name: "generate",
  summary: "print a systemd unit that runs the container at boot and restarts it on failure",
  usage: "generate systemd [--berth PATH] [--restart-sec N] ID",
  description:
    "The unit runs `berth run --rm` with the inputs the container was created from, in\n" +
    "the foreground, so systemd sees its exit code; Restart=on-failure restarts it.",
  options: OPTIONS,
  positionals: [{ name: "systemd", choices: ["systemd"] }, { name: "ID" }],
  command: "none",
  examples: [
    "berth generate systemd web1 > /etc/systemd/system/berth-web1.service",
    "systemctl daemon-reload && systemctl enable --now berth-web1.service",
  ],
  parse(args) {
    const p = parseCommandArgs("generate", args, OPTIONS);
    noCommand("generate", p.command);
    const [what, ref] = expectPositionals("generate", p.positionals, ["systemd", "ID"]);
    if (what !== "systemd") {
      throw new InvalidArgument(`generate: unknown generator "${what}" (use systemd)`);
    }
    const rs = str(p.values, "restart-sec") ?? "2";
    if (!/^[0-9]+$/.test(rs)) {
      throw new InvalidArgument(`generate: --restart-sec must be a whole number`);
    }
    const berth = str(p.values, "berth") ?? null;
    if (berth !== null && !berth.startsWith("/")) {
      throw new InvalidArgument(`generate: --berth ${berth} must be an absolute path`);
    }
    return { ref: ref!, berth, restartSec: Number(rs) };
  },
  async run(ctx, o) {
    const id = await resolveExisting(ctx, o.ref);
    const s = await ctx.store.load(ctx.globals.namespace, id);
    if (s.request === undefined) {
      throw new InvalidArgument(`cannot generate a unit for "${id}": it records no create inputs`);
    }
    ctx.io.out(systemdUnit({
      id,
      // The limits in force (as `update` left them), not only those given at create.
      request: s.limits === undefined ? s.request : { ...s.request, limits: s.limits },
      globals: ctx.globals,
      berth: o.berth ?? defaultBerth(),
      restartSec: o.restartSec,
    }));
    return 0;
  },
};
