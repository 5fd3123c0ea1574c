/**
 * What an ID without a state file can leave behind when a create or delete
 * was killed midway: a runtime container (or its state directory, with a
 * mount a killed runtime process left in it), a bundle, a work directory, and
 * `.trash-ID-*` leftovers of an interrupted removal. Removed by `gc`, by a
 * `create` that reuses the ID, and by any command that looks the ID up and
 * finds no container ("repair on touch").
 *
 * @module
 */

import { join } from "../_std/path.ts";
import { removeAtomically, removeTree, TRASH_PREFIX } from "../container/bundle.ts";
import { resolveContainer, runtimeTarget, withFreeLock } from "../container/container.ts";
import type { Context } from "../container/context.ts";
import { isNotFound, NotFound } from "../host/errors.ts";
import { isValidId } from "../container/id.ts";
import { mountsUnder, unmountAll } from "../host/mounts.ts";
import { hasRuntimeState, removeRuntimeState } from "../container/runtime_state.ts";
import { promised } from "../host/sync_io.ts";

// Synchronous calls: see sync_io.ts.
function present(path: string): Promise<boolean> {
  return promised(() => {
    try {
      Deno.lstatSync(path);
      return true;
    } catch {
      return false;
    }
  });
}

/** `.trash-ID-xxxxxxxx` leftovers of `id` in `dir` (names only). */
function trashOf(dir: string, id: string): Promise<string[]> {
  return promised(() => {
    const prefix = `${TRASH_PREFIX}${id}-`;
    const out: string[] = [];
    try {
      for (const e of Deno.readDirSync(dir)) {
        if (e.name.startsWith(prefix) && /^[0-9a-f]{8}$/.test(e.name.slice(prefix.length))) {
          out.push(join(dir, e.name));
        }
      }
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    return out;
  });
}

/**
 * Describes (and unless `dryRun`, removes) what `ns/id` left behind. The
 * caller holds the lock of `ns/id` and has seen that it has no state.
 */
export async function removeOrphansLocked(
  ctx: Context,
  ns: string,
  id: string,
  dryRun = false,
  runtimeKnows?: boolean,
): Promise<string[]> {
  const done: string[] = [];
  const bundle = ctx.paths.bundleDir(ns, id);
  const work = ctx.paths.workDir(ns, id);
  const hasBundle = await present(bundle);
  const knows = runtimeKnows ?? hasBundle;
  if (knows) {
    if (!dryRun) await ctx.runtime.delete(runtimeTarget(ctx, { namespace: ns, id }), true);
    done.push(`the runtime's container ${ns}/${id}`);
  }
  // Its runtime state directory, with what a killed runtime process left
  // mounted in it (see runtime_state.ts): the runtime does not know it.
  if (hasRuntimeState(ctx.paths, ns, id)) {
    const mounts = dryRun
      ? await mountsUnder(ctx.paths.runtimeStateDir(ns, id))
      : await removeRuntimeState(ctx.paths, ns, id);
    if (!knows || mounts.length > 0) {
      done.push(
        `the runtime's state directory of ${ns}/${id}${
          mounts.length > 0 ? ` (unmounting ${mounts.join(", ")})` : ""
        }`,
      );
    }
  }
  if (hasBundle) {
    if (!dryRun) await removeAtomically(bundle);
    done.push(`the bundle of ${ns}/${id}`);
  }
  if (await present(work)) {
    if (!dryRun) await removeAtomically(work);
    done.push(`the work directory of ${ns}/${id}`);
  }
  for (
    const t of [
      ...await trashOf(ctx.paths.containersDir(ns), id),
      ...await trashOf(ctx.paths.dataNsDir(ns), id),
    ]
  ) {
    if (!dryRun) {
      await unmountAll(t);
      removeTree(t);
    }
    done.push(`the leftover ${t}`);
  }
  return done;
}

/** True when something of `id` exists on disk in the context's namespace. */
async function hasOrphans(ctx: Context, id: string): Promise<boolean> {
  const ns = ctx.globals.namespace;
  if (
    await present(ctx.paths.bundleDir(ns, id)) || await present(ctx.paths.workDir(ns, id)) ||
    hasRuntimeState(ctx.paths, ns, id)
  ) {
    return true;
  }
  return (await trashOf(ctx.paths.containersDir(ns), id)).length > 0 ||
    (await trashOf(ctx.paths.dataNsDir(ns), id)).length > 0;
}

/**
 * Resolves a reference like {@linkcode resolveContainer}; when an exact,
 * valid ID is not found, first removes what it may have left behind.
 */
export async function resolveExisting(ctx: Context, ref: string): Promise<string> {
  try {
    return await resolveContainer(ctx, ref);
  } catch (err) {
    if (err instanceof NotFound && isValidId(ref) && await hasOrphans(ctx, ref)) {
      const ns = ctx.globals.namespace;
      await withFreeLock(ctx, ns, ref, async () => {
        if (!(await ctx.store.exists(ns, ref))) await removeOrphansLocked(ctx, ns, ref);
      }).catch(() => {});
    }
    throw err;
  }
}
