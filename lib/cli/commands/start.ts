/**
 * `berth start ID`: starts a created container.
 *
 * @module
 */

import { expectPositionals, noCommand, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { opRecord, runtimeTarget } from "../../container/container.ts";
import { resolveExisting } from "../../ops/orphans.ts";
import { crashPoint } from "../../container/crash.ts";
import { emit } from "../../container/events.ts";
import { withLoaded } from "../../ops/reconcile.ts";
import type { Context } from "../../container/context.ts";
import { transition } from "../../container/status.ts";

/** Starts the created container `id` (exact ID) of the context's namespace. */
export async function startContainer(ctx: Context, id: string): Promise<void> {
  await withLoaded(ctx, id, async (s) => {
    const next = transition(s.id, s.status, "start");
    s.op = opRecord(ctx, "start");
    await ctx.store.save(s);
    crashPoint(ctx.crashAt, "start:recorded");
    await ctx.runtime.start(runtimeTarget(ctx, s));
    crashPoint(ctx.crashAt, "start:runtime");
    s.status = next;
    s.startedAt = ctx.clock.now().toISOString();
    s.op = null;
    await ctx.store.save(s);
    await emit(ctx, "start", s.namespace, s.id);
  });
}

/** `start`. */
export const startCommand: Command<{ ref: string }> = {
  name: "start",
  summary: "start a created container",
  usage: "start ID",
  options: [],
  examples: ["berth start web1"],
  parse(args) {
    const p = parseCommandArgs("start", args, []);
    noCommand("start", p.command);
    const [ref] = expectPositionals("start", p.positionals, ["ID"]);
    return { ref: ref! };
  },
  async run(ctx, o) {
    await startContainer(ctx, await resolveExisting(ctx, o.ref));
    return 0;
  },
};
