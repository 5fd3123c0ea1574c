/**
 * `berth container prune [-f]`: removes every container of the namespace
 * that does not run (created or stopped), printing each one's ID.
 *
 * @module
 */

import { BUILD_LABEL, buildGone } from "../../ops/build_leftovers.ts";
import { bool, expectPositionals, noCommand, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import type { Context } from "../../container/context.ts";
import type { ContainerState } from "../../container/state_file.ts";
import { NotFound, WrongState } from "../../host/errors.ts";
import { deleteContainer } from "../../ops/delete.ts";
import { reconcile } from "../../ops/reconcile.ts";
import { confirmed } from "./confirm.ts";

const OPTIONS = [
  {
    name: "force",
    short: "f",
    type: "boolean" as const,
    help: "do not ask for confirmation (needed when stdin is not a terminal)",
  },
];

/** podman's warning before a container prune. */
export const CONTAINER_PRUNE_WARNING = "WARNING! This will remove all non running containers.";

/**
 * Deletes every created or stopped container of the namespace and returns
 * their IDs. Each goes under its own lock and only if it still does not run
 * then (a container started meanwhile stays), and a sandbox whose members
 * run stays; members go before their sandbox.
 */
export async function pruneContainers(ctx: Context): Promise<string[]> {
  const ns = ctx.globals.namespace;
  const warn = (m: string) => ctx.io.err(`berth: warning: ${m}\n`);
  const loaded = await ctx.store.list(ns, warn);
  const all = (await Promise.all(loaded.map((s) => reconcile(ctx, s).catch(() => s))))
    .filter((s): s is ContainerState => s !== null);
  // A running build's step containers are its own (created, or exited and being committed).
  const states = all.filter((s) => !isRunningOrPaused(s) && !ofRunningBuild(s));
  // Members first, so their sandbox has none left when its turn comes.
  states.sort((a, b) => (a.sandbox === null ? 1 : 0) - (b.sandbox === null ? 1 : 0));
  const removed: string[] = [];
  for (const s of states) {
    if (all.some((m) => m.sandbox === s.id && isRunningOrPaused(m))) continue;
    try {
      await deleteContainer(ctx, ns, s.id, false);
      removed.push(s.id);
    } catch (err) {
      // Started or removed by someone else meanwhile: not ours to prune.
      if (!(err instanceof WrongState) && !(err instanceof NotFound)) throw err;
    }
  }
  return removed;
}

function ofRunningBuild(s: ContainerState): boolean {
  const owner = s.labels?.[BUILD_LABEL];
  return owner !== undefined && !buildGone(owner);
}

function isRunningOrPaused(s: ContainerState): boolean {
  return s.status === "running" || s.status === "paused";
}

/** `container prune`. */
export const containerPruneCommand: Command<{ force: boolean }> = {
  name: "container-prune",
  summary: "remove every container that does not run",
  usage: "container-prune [-f]",
  description: "Removes the namespace's created and stopped containers and prints their IDs.\n" +
    "Without -f it asks on the terminal first; without a terminal it needs -f (exit 2).",
  options: OPTIONS,
  positionals: [],
  examples: ["berth container prune", "berth container prune -f"],
  parse(args) {
    const p = parseCommandArgs("container prune", args, OPTIONS);
    noCommand("container prune", p.command);
    expectPositionals("container prune", p.positionals, []);
    return { force: bool(p.values, "force") };
  },
  async run(ctx, o) {
    if (!(await confirmed("container prune", CONTAINER_PRUNE_WARNING, o.force, ctx.io))) return 0;
    for (const id of await pruneContainers(ctx)) ctx.io.out(`${id}\n`);
    return 0;
  },
};
