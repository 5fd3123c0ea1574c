/**
 * `berth pause NAME...` / `berth resume NAME...` (`unpause`): freeze and thaw.
 *
 * @module
 */

import { noCommand, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { freezeContainer } from "../../ops/pause.ts";
import { InvalidArgument } from "../../host/errors.ts";
import { eachRef, podmanOutput } from "./each_ref.ts";

/** Options of `pause` and `resume`. */
export interface FreezeOptions {
  refs: string[];
  /** Print each name as given (the podman form). */
  podman?: boolean;
}

function freezeCommand(name: "pause" | "resume", summary: string): Command<FreezeOptions> {
  return {
    name,
    summary,
    usage: `${name} ID...`,
    description: "With several IDs each is done in turn and printed as given; the first\n" +
      "failure's exit code is returned.",
    options: [],
    positionals: [{ name: "ID", repeat: true }],
    command: "none",
    examples: [`berth ${name} web1`, `berth ${name} web1 web2`],
    parse(args) {
      const p = parseCommandArgs(name, args, []);
      noCommand(name, p.command);
      if (p.positionals.length === 0) throw new InvalidArgument(`${name}: missing ID`);
      return { refs: p.positionals };
    },
    run: (ctx, o) => eachRef(ctx, o.refs, podmanOutput(o), (id) => freezeContainer(ctx, id, name)),
  };
}

/** `pause`. */
export const pauseCommand = freezeCommand("pause", "freeze all processes of containers");
/** `resume` (`unpause`). */
export const resumeCommand = freezeCommand("resume", "thaw paused containers");
