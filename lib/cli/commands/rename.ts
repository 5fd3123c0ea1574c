/**
 * `berth rename OLD NEW`: podman's rename.
 *
 * @module
 */

import { expectPositionals, noCommand, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { validateId } from "../../container/id.ts";
import { renameContainer } from "../../ops/rename.ts";

/** `rename`. */
export const renameCommand: Command<{ ref: string; name: string }> = {
  name: "rename",
  summary: "give a container a new name",
  usage: "rename OLD NEW",
  description: "NEW is the name every command then finds it by (OLD no longer does); running\n" +
    "containers too. The runtime's ID, the cgroup path, the hostname and the files stay\n" +
    "as created. NEW must be a valid name (exit 2) no container has as name or ID (exit 4).",
  options: [],
  examples: ["berth rename web1 web2", "berth container rename 3f2a9c1b7d4e api"],
  parse(args) {
    const p = parseCommandArgs("rename", args, []);
    noCommand("rename", p.command);
    const [ref, name] = expectPositionals("rename", p.positionals, ["OLD", "NEW"]);
    validateId(name!, "name");
    return { ref: ref!, name: name! };
  },
  async run(ctx, o) {
    await renameContainer(ctx, o.ref, o.name);
    return 0;
  },
};
