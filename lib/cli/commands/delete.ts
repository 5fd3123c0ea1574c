/**
 * `berth delete [-f] ID...` (`rm [-f] [-v] NAME...`, podman's output).
 *
 * @module
 */

import { bool, noCommand, parseCommandArgs } from "../args.ts";
import type { Command } from "../command.ts";
import { isLive } from "../../container/container.ts";
import type { Context } from "../../container/context.ts";
import { InvalidArgument, WrongState } from "../../host/errors.ts";
import { deleteContainer, membersOf } from "../../ops/delete.ts";
import { eachRef } from "./each_ref.ts";

const OPTIONS = [
  {
    name: "force",
    short: "f",
    type: "boolean" as const,
    help: "kill a running or paused container first and wait until it is reaped",
  },
  {
    name: "volumes",
    short: "v",
    type: "boolean" as const,
    help: "accepted for podman: berth makes no anonymous volumes (named ones stay)",
  },
];

/**
 * A sandbox cannot go while its members run: refused without `force`;
 * with it, its members (all of them) are deleted first.
 */
async function deleteMembers(ctx: Context, sid: string, force: boolean): Promise<void> {
  const ns = ctx.globals.namespace;
  const members = await membersOf(ctx, ns, sid);
  const live = members.filter(isLive).map((s) => s.id);
  if (live.length > 0 && !force) {
    throw new WrongState(
      `cannot delete "${sid}": members of its sandbox still run: ${live.join(", ")} (use -f)`,
    );
  }
  if (!force) return;
  for (const m of members) await deleteContainer(ctx, ns, m.id, true);
}

/** `delete`. */
export const deleteCommand: Command<{ refs: string[]; force: boolean; podman?: boolean }> = {
  name: "delete",
  summary: "delete stopped or created containers",
  usage: "delete [-f] [-v] ID...",
  description: "Each ID is deleted in turn; failures are reported and the first one's exit code\n" +
    "is returned. Nothing of a deleted container remains under either root. As rm (or\n" +
    "container rm), each is printed as given once deleted, as podman does.",
  options: OPTIONS,
  examples: ["berth delete web1", "berth delete -f web1 web2"],
  parse(args) {
    const p = parseCommandArgs("delete", args, OPTIONS);
    noCommand("delete", p.command);
    if (p.positionals.length === 0) throw new InvalidArgument("delete: missing ID");
    return { refs: p.positionals, force: bool(p.values, "force") };
  },
  run: (ctx, o) =>
    eachRef(ctx, o.refs, o.podman === true, async (id) => {
      await deleteMembers(ctx, id, o.force);
      await deleteContainer(ctx, ctx.globals.namespace, id, o.force);
    }),
};
