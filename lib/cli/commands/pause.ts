/**
 * `berth pause ID` / `berth resume ID`: freeze and thaw.
 *
 * @module
 */

import type { Command } from "../command.ts";
import { resolveExisting } from "../../ops/orphans.ts";
import { freezeContainer } from "../../ops/pause.ts";
import { parseOneId } from "./single_id.ts";

function freezeCommand(name: "pause" | "resume", summary: string): Command<{ ref: string }> {
  return {
    name,
    summary,
    usage: `${name} ID`,
    options: [],
    positionals: [{ name: "ID" }],
    command: "none",
    examples: [`berth ${name} web1`],
    parse: (args) => ({ ref: parseOneId(name, args).ref }),
    async run(ctx, o) {
      const id = await resolveExisting(ctx, o.ref);
      await freezeContainer(ctx, id, name);
      return 0;
    },
  };
}

/** `pause`. */
export const pauseCommand = freezeCommand("pause", "freeze all processes of a container");
/** `resume`. */
export const resumeCommand = freezeCommand("resume", "thaw a paused container");
