/**
 * `berth ps`: with one container, its processes (`ps ID`, also `top ID`);
 * otherwise the containers, as podman's `ps` (lib/cli/commands/ps_list.ts).
 *
 * @module
 */

import type { Command } from "../command.ts";
import { noCommand, type OptionSpec, parseCommandArgs } from "../args.ts";
import { runtimeTarget } from "../../container/container.ts";
import { InvalidArgument } from "../../host/errors.ts";
import { resolveExisting } from "../../ops/orphans.ts";
import { loadReconciled } from "../../ops/reconcile.ts";
import { cmdline } from "../../host/proc.ts";
import { transition } from "../../container/status.ts";
import { type Format, table } from "./format.ts";
import { PS_FILTER_KEYS, psList, type PsListOptions, psListOptions } from "./ps_list.ts";

/** Options of `ps`: one container's processes, or the listing. */
export type PsOptions = { ref: string; format: Format } | { list: PsListOptions };

const OPTIONS: OptionSpec[] = [
  { name: "all", short: "a", type: "boolean", help: "every container, not only running ones" },
  { name: "quiet", short: "q", type: "boolean", help: "print IDs only" },
  {
    name: "last",
    short: "n",
    type: "string",
    value: "N",
    help: "the N most recently created containers (any status)",
  },
  {
    name: "filter",
    short: "f",
    type: "string",
    multiple: true,
    value: "KEY=VALUE",
    help: `${PS_FILTER_KEYS.join("|")}= (status: created|running|paused|exited; repeatable)`,
  },
  {
    name: "format",
    type: "string",
    value: "table|json",
    default: "table",
    help: "output format (a container's processes: table or json too)",
  },
];

/** `ps`. */
export const psCommand: Command<PsOptions> = {
  name: "ps",
  aliases: ["top"],
  summary: "list containers; with one ID, its processes",
  usage:
    "ps [-a] [-q] [-n N] [--filter KEY=VALUE]... [--format table|json|TEMPLATE] | ps ID [--format F]",
  description:
    "Without an ID: the running containers (-a: all), podman's columns CONTAINER ID, IMAGE,\n" +
    "COMMAND, CREATED, STATUS, PORTS, NAMES; statuses created, running, paused, exited.\n" +
    "Filters of one key match any of their values; different keys must all match.\n" +
    "With one ID (and as top): the container's processes.",
  options: OPTIONS,
  examples: [
    "berth ps",
    "berth ps -a --filter status=exited -q",
    "berth ps --format json",
    "berth ps web1",
  ],
  parse(args) {
    const p = parseCommandArgs("ps", args, OPTIONS);
    noCommand("ps", p.command);
    if (p.positionals.length > 1) {
      throw new InvalidArgument(`ps: unexpected argument "${p.positionals[1]}"`);
    }
    const [ref] = p.positionals;
    if (ref === undefined) return { list: psListOptions(p) };
    const format = p.values["format"] ?? "table";
    if (format !== "table" && format !== "json") {
      throw new InvalidArgument(`ps: --format must be table or json, not "${format}"`);
    }
    for (const o of ["all", "quiet", "last", "filter"]) {
      if (p.values[o] !== undefined) {
        throw new InvalidArgument(`ps: --${o} lists containers: give no ID`);
      }
    }
    return { ref, format };
  },
  async run(ctx, o) {
    if ("list" in o) return await psList(ctx, o.list);
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
