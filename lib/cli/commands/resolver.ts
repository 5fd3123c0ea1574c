/**
 * `berth __resolver DIR`: the hidden entry point of the host's resolver
 * (lib/network/dns/_resolver.ts, through lib/network/mod.ts), started by berth on demand.
 *
 * @module
 */

import { expectPositionals, noCommand, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { InvalidArgument } from "../../host/errors.ts";

/** `__resolver DIR` (started by berth itself). */
export const resolverCommand: Command<{ dir: string }> = {
  name: "__resolver",
  hidden: true,
  summary: "run the host's resolver of container names (started by berth on demand)",
  usage: "__resolver DIR",
  options: [],
  examples: [],
  parse(args) {
    const p = parseCommandArgs("__resolver", args, []);
    noCommand("__resolver", p.command);
    const [dir] = expectPositionals("__resolver", p.positionals, ["DIR"]);
    if (!dir!.startsWith("/")) throw new InvalidArgument(`__resolver: ${dir} is not absolute`);
    return { dir: dir! };
  },
  async run(ctx, o) {
    const { runResolver, HOST_RESOLV_CONF } = await import("../../network/mod.ts");
    await runResolver({
      dir: o.dir,
      pollMs: 1000,
      idleChecks: 2,
      libc: ctx.libc,
      hostResolvConf: HOST_RESOLV_CONF,
    });
    return 0;
  },
};
