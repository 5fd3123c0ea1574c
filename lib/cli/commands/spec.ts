/**
 * `berth spec`: prints the default OCI config that `create --rootfs` uses.
 *
 * @module
 */

import { expectPositionals, noCommand, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { defaultSpec } from "../../host/spec.ts";

/** `spec`. */
export const specCommand: Command<Record<never, never>> = {
  name: "spec",
  skipRootCheck: true,
  summary: "print the default OCI config.json that create --rootfs uses",
  usage: "spec",
  description:
    "create replaces process.args (CMD), adds -e variables, sets cwd, hostname (the ID)\n" +
    "and linux.cgroupsPath (/berth/ROOTHASH/NAMESPACE/ID), and points root.path at the overlay.",
  options: [],
  examples: [
    "berth spec > config.json",
    "berth create --rootfs /srv/rootfs --config config.json web1",
  ],
  parse(args) {
    const p = parseCommandArgs("spec", args, []);
    noCommand("spec", p.command);
    expectPositionals("spec", p.positionals, []);
    return {};
  },
  run(ctx) {
    ctx.io.out(JSON.stringify(defaultSpec(), null, 2) + "\n");
    return Promise.resolve(0);
  },
};
