/**
 * `berth __monitor`: the hidden entry point of the shared monitor.
 *
 * @module
 */

import { noCommand, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { runMonitor } from "../../monitor/server.ts";

/** `__monitor` (started by berth itself). */
export const monitorCommand: Command<Record<never, never>> = {
  name: "__monitor",
  hidden: true,
  summary: "run the shared monitor of a root (started by berth on demand)",
  usage: "__monitor",
  options: [],
  examples: [],
  parse(args) {
    const p = parseCommandArgs("__monitor", args, []);
    noCommand("__monitor", p.command);
    return {};
  },
  run(ctx) {
    const idle = Number(ctx.env("BERTH_MONITOR_IDLE_MS") ?? "");
    return runMonitor(ctx, {
      idleMs: Number.isFinite(idle) && idle > 0 ? idle : 2000,
      pollMs: 250,
    });
  },
};
