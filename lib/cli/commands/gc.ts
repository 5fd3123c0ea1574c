/**
 * `berth gc [--dry-run]`: reconcile after crashes.
 *
 * @module
 */

import { bool, expectPositionals, noCommand, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { emit } from "../../container/events.ts";
import { gc } from "../../ops/gc.ts";
import { printable } from "../../host/printable.ts";

const OPTIONS = [
  { name: "dry-run", type: "boolean" as const, help: "print what would be done; change nothing" },
];

/** `gc`. */
export const gcCommand: Command<{ dryRun: boolean }> = {
  name: "gc",
  summary:
    "reconcile after crashes: finish interrupted operations, remove what belongs to no container",
  usage: "gc [--dry-run]",
  description:
    "Prints one line per action. Rolls back interrupted creates, finishes interrupted\n" +
    "deletes, settles interrupted status changes with the runtime, marks containers whose\n" +
    "process is gone stopped (255), deletes runtime containers berth has no state for, and\n" +
    "removes bundles, work directories (logs included), mounts and lock files of containers\n" +
    "that are gone. Containers busy with another operation are left alone. Where the root\n" +
    "has used a network, it also sweeps the host (its network namespace): idle bth-* bridges\n" +
    "that no network directory defines, and berth's firewall rules of bridges that are gone\n" +
    "(any root's). On a healthy root and host it prints nothing.",
  options: OPTIONS,
  positionals: [],
  command: "none",
  examples: ["berth gc --dry-run", "berth gc"],
  parse(args) {
    const p = parseCommandArgs("gc", args, OPTIONS);
    noCommand("gc", p.command);
    expectPositionals("gc", p.positionals, []);
    return { dryRun: bool(p.values, "dry-run") };
  },
  async run(ctx, o) {
    const report = await gc(ctx, { dryRun: o.dryRun });
    for (const line of report.actions) {
      ctx.io.out(printable(line) + "\n");
      if (!o.dryRun) await emit(ctx, "gc", null, null, { action: line });
    }
    for (const line of report.errors) ctx.io.err(`berth: ${printable(line)}\n`);
    return report.errors.length > 0 ? 1 : 0;
  },
};
