/**
 * `berth attach ID`: connects berth's terminal to the terminal of a
 * container started with `-t` (the monitor holds its master).
 *
 * @module
 */

import type { Command } from "../command.ts";
import { parseOneId } from "./single_id.ts";

/** `attach`. */
export const attachCommand: Command<{ ref: string }> = {
  name: "attach",
  summary: "connect the terminal to a container started with -t",
  usage: "attach ID",
  description:
    "Ctrl-P Ctrl-Q detaches and leaves the container running (exit 0); otherwise berth\n" +
    "exits with the container's exit code once it exits. Several attach sessions at\n" +
    "once see the same output. A container without a terminal: use logs -f (exit 5).",
  options: [],
  examples: ["berth run -dt --rootfs /srv/rootfs box -- sh", "berth attach box"],
  parse: (args) => ({ ref: parseOneId("attach", args).ref }),
  async run(ctx, o) {
    const { attachContainer } = await import("../../ops/interactive.ts");
    return await attachContainer(ctx, o.ref);
  },
};
