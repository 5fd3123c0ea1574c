/**
 * `berth inspect ID...`: a JSON array, each entry the state object plus
 * `config` (see ops/inspect.ts).
 *
 * @module
 */

import { noCommand, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { InvalidArgument } from "../../host/errors.ts";
import { inspectEntry } from "../../ops/inspect.ts";
import { resolveExisting } from "../../ops/orphans.ts";
import { loadReconciled } from "../../ops/reconcile.ts";

/** `inspect`. */
export const inspectCommand: Command<{ refs: string[] }> = {
  name: "inspect",
  summary: "print containers' state and configuration as a JSON array",
  usage: "inspect ID...",
  description: "Each entry is the `state` object plus `config`: image, process, mounts, limits,\n" +
    "network, ports, restart policy and count, health (null where not set).",
  options: [],
  positionals: [{ name: "ID" }],
  examples: ["berth inspect web1", "berth inspect web1 | jq '.[0].config.mounts'"],
  parse(args) {
    const p = parseCommandArgs("inspect", args, []);
    noCommand("inspect", p.command);
    if (p.positionals.length === 0) throw new InvalidArgument("inspect: missing ID");
    return { refs: p.positionals };
  },
  async run(ctx, o) {
    const out = [];
    for (const ref of o.refs) {
      const s = await loadReconciled(ctx, await resolveExisting(ctx, ref));
      out.push(inspectEntry(ctx, s));
    }
    ctx.io.out(JSON.stringify(out, null, 2) + "\n");
    return 0;
  },
};
