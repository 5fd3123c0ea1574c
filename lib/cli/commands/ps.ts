/**
 * `berth ps ID`: the container's processes.
 *
 * @module
 */

import type { Command } from "../command.ts";
import { runtimeTarget } from "../../container/container.ts";
import { resolveExisting } from "../../ops/orphans.ts";
import { loadReconciled } from "../../ops/reconcile.ts";
import { cmdline } from "../../host/proc.ts";
import { transition } from "../../container/status.ts";
import { type Format, FORMAT_OPTION, formatOf, table } from "./format.ts";
import { parseOneId } from "./single_id.ts";

/** `ps`. */
export const psCommand: Command<{ ref: string; format: Format }> = {
  name: "ps",
  aliases: ["top"],
  summary: "list the container's processes",
  usage: "ps ID [--format table|json]",
  options: [FORMAT_OPTION],
  examples: ["berth ps web1", "berth ps web1 --format json"],
  parse(args) {
    const { ref, parsed } = parseOneId("ps", args, [FORMAT_OPTION]);
    return { ref, format: formatOf("ps", parsed) };
  },
  async run(ctx, o) {
    const id = await resolveExisting(ctx, o.ref);
    const s = await loadReconciled(ctx, id);
    transition(s.id, s.status, "kill"); // any live status
    const pids = (await ctx.runtime.ps(runtimeTarget(ctx, s))).sort((a, b) => a - b);
    const procs = pids.map((pid) => ({ pid, command: cmdline(pid) }));
    if (o.format === "json") ctx.io.out(JSON.stringify(procs, null, 2) + "\n");
    else ctx.io.out(table([["PID", "CMD"], ...procs.map((p) => [String(p.pid), p.command])]));
    return 0;
  },
};
