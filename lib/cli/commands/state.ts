/**
 * `berth state ID`: the container's state as one JSON object.
 *
 * @module
 */

import type { Command } from "../command.ts";
import { isLive } from "../../container/container.ts";
import { startMonitorIfDead } from "../../monitor/alive.ts";
import { resolveExisting } from "../../ops/orphans.ts";
import { loadReconciled } from "../../ops/reconcile.ts";
import { publicState } from "../../container/state_file.ts";
import { parseOneId } from "./single_id.ts";

/** `state`. */
export const stateCommand: Command<{ ref: string }> = {
  name: "state",
  summary: "print the container's state as JSON",
  usage: "state ID",
  options: [],
  positionals: [{ name: "ID" }],
  command: "none",
  examples: ["berth state web1", "berth state web1 | jq -r .status"],
  parse: (args) => ({ ref: parseOneId("state", args).ref }),
  async run(ctx, o) {
    const id = await resolveExisting(ctx, o.ref);
    const s = await loadReconciled(ctx, id);
    if (isLive(s)) await startMonitorIfDead(ctx);
    ctx.io.out(JSON.stringify(publicState(s), null, 2) + "\n");
    return 0;
  },
};
