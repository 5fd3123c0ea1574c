/**
 * `rename OLD NEW`: a new name for a container, recorded in its state and
 * the namespace's names index (see container/names.ts). The ID, and so the
 * bundle, lock file, the runtime's container, work directory, cgroup path,
 * network records, image use markers and the hostname, stay as created:
 * nothing on disk moves, so a running container is renamed like a stopped
 * one and a crash leaves either name in force, never neither.
 *
 * @module
 */

import type { Context } from "../container/context.ts";
import { resolveContainer, withContainerLock } from "../container/container.ts";
import { validateId } from "../container/id.ts";
import { idByName, linkName, nameOf, unlinkName } from "../container/names.ts";
import type { ContainerState } from "../container/state_file.ts";
import { emit } from "../container/events.ts";
import { Exists } from "../host/errors.ts";

/**
 * Renames the container `ref` to `name`. Holds the container's lock and the
 * lock of the ID `name` (taken in sorted order): `create --name NAME` takes
 * that lock too and checks the index under it, so the two cannot both win.
 */
export async function renameContainer(ctx: Context, ref: string, name: string): Promise<string> {
  validateId(name, "name");
  const ns = ctx.globals.namespace;
  const id = await resolveContainer(ctx, ref);
  const [first, second] = [id, name].sort() as [string, string];
  const body = async () => {
    const s = await ctx.store.load(ns, id);
    const taken = () => new Exists(`cannot rename "${nameOf(s)}": the name "${name}" is in use`);
    if (nameOf(s) === name) throw taken();
    if (name !== id) {
      // Any container's ID (renamed away or not: its files bear it), or a name.
      if (await ctx.store.exists(ns, name)) throw taken();
      if ((await idByName(ctx, ns, name)) !== null) throw taken();
      await linkName(ctx, ns, name, id);
    }
    const { name: old, ...rest } = s;
    const next: ContainerState = name === id ? rest : { ...rest, name };
    await ctx.store.save(next);
    if (next.net !== undefined) {
      // The resolver answers the new name from now on (a network with DNS).
      const { renameDnsRecord } = await import("../network/mod.ts");
      await renameDnsRecord(ctx, next);
    }
    if (old !== undefined) await unlinkName(ctx, ns, old, id);
    // The event keeps the ID (what every event names) and both names.
    await emit(ctx, "rename", ns, id, { name, oldName: old ?? id });
    return id;
  };
  if (first === second) return await withContainerLock(ctx, ns, id, body);
  // NEW's ID's lock has no state of its own: its lock file goes with it.
  return await withContainerLock(ctx, ns, first, () => withContainerLock(ctx, ns, second, body));
}
