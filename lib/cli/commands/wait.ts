/**
 * `berth wait ID`: blocks until the container exits, prints its exit code.
 *
 * @module
 */

import type { Command } from "../command.ts";
import { resolveExisting } from "../../ops/orphans.ts";
import { waitExit } from "../../ops/wait.ts";
import { parseOneId } from "./single_id.ts";

/** `wait`. */
export const waitCommand: Command<{ ref: string }> = {
  name: "wait",
  summary: "wait for a container to exit and print its exit code",
  usage: "wait ID",
  options: [],
  examples: ["berth wait web1"],
  parse: (args) => ({ ref: parseOneId("wait", args).ref }),
  async run(ctx, o) {
    const id = await resolveExisting(ctx, o.ref);
    const { exitCode } = await waitExit(ctx, ctx.globals.namespace, id);
    ctx.io.out(`${exitCode}\n`);
    return 0;
  },
};
