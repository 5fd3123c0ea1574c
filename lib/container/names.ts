/**
 * Names of renamed containers. A container's ID names everything on disk
 * (bundle, lock file, the runtime's container, work directory, cgroup,
 * network records, image use markers) and never changes; `rename` records
 * the new name in the state (`name`) and in the namespace's names index, a
 * symbolic link NAME -> ID. The state is the truth: an index entry counts
 * only while the state it points to carries that name, so a crash between
 * the steps of a rename (or a delete) leaves entries that are ignored and
 * replaced, never a wrong answer.
 *
 * @module
 */

import { join } from "../_std/path.ts";
import type { Context } from "./context.ts";
import type { ContainerState } from "./state_file.ts";
import { isNotFound } from "../host/errors.ts";

/** The name a container is found by: its recorded name, else its ID. */
export function nameOf(s: Pick<ContainerState, "id" | "name">): string {
  return s.name ?? s.id;
}

/** The ID of the container named `name` through the index, or null. */
export async function idByName(ctx: Context, ns: string, name: string): Promise<string | null> {
  let id: string;
  try {
    id = await Deno.readLink(join(ctx.paths.namesDir(ns), name));
  } catch (err) {
    if (isNotFound(err) || err instanceof Deno.errors.InvalidData) return null;
    throw err;
  }
  if (id.includes("/")) return null;
  const s = await ctx.store.tryLoad(ns, id).catch(() => null);
  return s !== null && s.name === name ? id : null;
}

/**
 * True when the container with ID `id` is found by its ID: it exists and
 * was not renamed away from it (a state that cannot be read still is, so
 * `delete -f` reaches it).
 */
export async function foundById(ctx: Context, ns: string, id: string): Promise<boolean> {
  if (!(await ctx.store.exists(ns, id))) return false;
  const s = await ctx.store.tryLoad(ns, id).catch(() => null);
  return s === null || s.name === undefined || s.name === id;
}

/** Points index entry `name` at `id` (atomically replacing a stale entry). */
export async function linkName(ctx: Context, ns: string, name: string, id: string): Promise<void> {
  const dir = ctx.paths.namesDir(ns);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.tmp-${crypto.randomUUID()}`);
  await Deno.symlink(id, tmp);
  try {
    await Deno.rename(tmp, join(dir, name));
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}

/** Removes index entry `name` if it points at `id`. */
export async function unlinkName(
  ctx: Context,
  ns: string,
  name: string,
  id: string,
): Promise<void> {
  const path = join(ctx.paths.namesDir(ns), name);
  try {
    if ((await Deno.readLink(path)) === id) await Deno.remove(path);
  } catch (err) {
    if (!isNotFound(err) && !(err instanceof Deno.errors.InvalidData)) throw err;
  }
}
