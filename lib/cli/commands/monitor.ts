/**
 * `berth __monitor`: the hidden entry point of the shared monitor.
 *
 * @module
 */

import { noCommand, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import type { ExitActions } from "../../monitor/exits.ts";
import { runMonitor } from "../../monitor/server.ts";

/**
 * What the monitor does with an exit (conmon's `--exit-command`): the
 * operations, loaded only when an `--rm` container or a restart policy
 * first needs them, so an idle monitor carries none of their code.
 */
export const monitorExitActions: ExitActions = {
  async remove(ctx, s) {
    const { deleteLocked } = await import("../../ops/delete.ts");
    await deleteLocked(ctx, s, true);
  },
  async restart(ctx, s, count, runtime, launch) {
    const { restartLocked } = await import("../../ops/restart.ts");
    await restartLocked(ctx, s, { runtime, launch, policyCount: count });
  },
};

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
      actions: monitorExitActions,
    });
  },
};
