/**
 * `berth pause ID` / `berth resume ID`: freeze and thaw.
 *
 * @module
 */

import type { Command } from "../command.ts";
import { opRecord, runtimeTarget } from "../../container/container.ts";
import { resolveExisting } from "../../ops/orphans.ts";
import { emit } from "../../container/events.ts";
import { withLoaded } from "../../ops/reconcile.ts";
import { transition } from "../../container/status.ts";
import { parseOneId } from "./single_id.ts";

function freezeCommand(name: "pause" | "resume", summary: string): Command<{ ref: string }> {
  return {
    name,
    summary,
    usage: `${name} ID`,
    options: [],
    examples: [`berth ${name} web1`],
    parse: (args) => ({ ref: parseOneId(name, args).ref }),
    async run(ctx, o) {
      const id = await resolveExisting(ctx, o.ref);
      await withLoaded(ctx, id, async (s) => {
        const next = transition(s.id, s.status, name);
        s.op = opRecord(ctx, name);
        await ctx.store.save(s);
        await ctx.runtime[name](runtimeTarget(ctx, s));
        s.status = next;
        s.op = null;
        await ctx.store.save(s);
        await emit(ctx, name, s.namespace, s.id);
      });
      return 0;
    },
  };
}

/** `pause`. */
export const pauseCommand = freezeCommand("pause", "freeze all processes of a container");
/** `resume`. */
export const resumeCommand = freezeCommand("resume", "thaw a paused container");
