/**
 * `berth list` (`ls`): the containers of the namespace (or of all).
 *
 * @module
 */

import { bool, expectPositionals, noCommand, parseCommandArgs, str } from "../args.ts";
import type { Command } from "../command.ts";
import { isLive } from "../../container/container.ts";
import { startMonitorIfDead } from "../../monitor/alive.ts";
import { reconcile } from "../../ops/reconcile.ts";
import { type ContainerState, publicState } from "../../container/state_file.ts";
import { type Format, FORMAT_OPTION, formatOf, table } from "./format.ts";
import { printable } from "../../host/printable.ts";

/** Options of `list`. */
export interface ListOptions {
  quiet: boolean;
  format: Format;
  allNamespaces: boolean;
  /** Only members of this sandbox. */
  sandbox: string | null;
}

const OPTIONS = [
  { name: "quiet", short: "q", type: "boolean" as const, help: "print IDs only" },
  FORMAT_OPTION,
  { name: "all-namespaces", short: "A", type: "boolean" as const, help: "list every namespace" },
  {
    name: "sandbox",
    type: "string" as const,
    value: "SID",
    help: "only the members of sandbox SID",
  },
];

/** `list`. */
export const listCommand: Command<ListOptions> = {
  name: "list",
  aliases: ["ls"],
  summary: "list containers",
  usage: "list [-q] [--format table|json] [--all-namespaces] [--sandbox SID]",
  options: OPTIONS,
  examples: ["berth list", "berth ls -q", "berth list --format json --all-namespaces"],
  parse(args) {
    const p = parseCommandArgs("list", args, OPTIONS);
    noCommand("list", p.command);
    expectPositionals("list", p.positionals, []);
    return {
      quiet: bool(p.values, "quiet"),
      format: formatOf("list", p),
      allNamespaces: bool(p.values, "all-namespaces"),
      sandbox: str(p.values, "sandbox") ?? null,
    };
  },
  async run(ctx, o) {
    const namespaces = o.allNamespaces ? await ctx.store.namespaces() : [ctx.globals.namespace];
    const warn = (m: string) => ctx.io.err(`berth: warning: ${printable(m)}\n`);
    let states: ContainerState[] = [];
    for (const ns of namespaces) states.push(...(await ctx.store.list(ns, warn)));
    states = (await Promise.all(states.map((s) => reconcile(ctx, s).catch(() => s))))
      .filter((s): s is ContainerState => s !== null);
    if (states.some(isLive)) await startMonitorIfDead(ctx);
    if (o.sandbox !== null) states = states.filter((s) => s.sandbox === o.sandbox);
    if (o.quiet) {
      ctx.io.out(states.map((s) => s.id + "\n").join(""));
    } else if (o.format === "json") {
      ctx.io.out(JSON.stringify(states.map(publicState), null, 2) + "\n");
    } else {
      const head = ["ID", "PID", "STATUS", "EXIT", "CREATED"];
      const rows = states.map((s) => [
        s.id,
        s.status === "stopped" || s.pid === null ? "-" : String(s.pid),
        // A health check's verdict follows the status, as docker shows it: `running (healthy)`.
        s.health === undefined || s.health === null ? s.status : `${s.status} (${s.health})`,
        s.exitCode === null ? "-" : String(s.exitCode),
        s.createdAt,
      ]);
      if (o.allNamespaces) {
        head.unshift("NAMESPACE");
        rows.forEach((r, i) => r.unshift(states[i]!.namespace));
      }
      ctx.io.out(table([head, ...rows]));
    }
    return 0;
  },
};
