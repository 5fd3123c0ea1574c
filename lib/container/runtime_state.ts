/**
 * What a killed runtime process leaves in a container's runtime state
 * directory (`ROOT/ns/NS/runc/ID`, see `paths.ts`).
 *
 * runc 1.1 protects its binary while a `create` or `exec` starts (its
 * cloned-binary protection, CVE-2019-5736): its `runc init` makes an empty
 * `runc.XXXXXX` in that directory, bind-mounts `/proc/self/exe` on it,
 * opens it and unmounts it a moment later. A `runc init` killed in between
 * (a `delete --force` killing the container's cgroup while an exec or a
 * health check starts, a timeout, a SIGKILL of its process group) leaves
 * the mount, in the host's mount namespace; runc's own `delete` then
 * cannot remove the directory (`unlinkat …: device or resource busy`, and
 * it still exits 0), so the mount and the directory outlive the container.
 *
 * berth unmounts such mounts (only under the container's own runtime state
 * directory, never elsewhere) and removes the directory once the runtime
 * has forgotten the container: on delete (and so on every rollback and
 * finished delete), for an ID without a state (gc, repair on touch, a
 * create reusing it), and for a live container once no runtime process of
 * it can be making one (gc).
 *
 * @module
 */

import { removeTree } from "./bundle.ts";
import type { Paths } from "./paths.ts";
import { mountsUnder, unmountAll } from "../host/mounts.ts";
import { pidsWithEnv } from "../host/proc.ts";
import { poll } from "../host/poll.ts";

/** The environment variable runc gives its `runc init` processes: the state directory. */
export const RUNC_STATE_ENV = "_LIBCONTAINER_STATEDIR";

function present(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** True when the runtime state directory of `ns/id` exists. */
export function hasRuntimeState(paths: Paths, ns: string, id: string): boolean {
  return present(paths.runtimeStateDir(ns, id));
}

/**
 * Removes the runtime state directory of `ns/id`, unmounting first
 * whatever the runtime left mounted in it. For a container the runtime has
 * forgotten (after its `delete`, or for an ID berth has no state of).
 * Returns the mounts it unmounted; nothing there is fine.
 */
export async function removeRuntimeState(paths: Paths, ns: string, id: string): Promise<string[]> {
  const dir = paths.runtimeStateDir(ns, id);
  const done: string[] = [];
  // A runtime process killed just now (by the delete that preceded this)
  // may still be on its way out: a few rounds, 20 ms apart doubling.
  let round = 0;
  await poll(async () => {
    // Gone (the runtime's delete removes it): nothing can be mounted under
    // it, and the mount table need not be read.
    if (!present(dir)) return true;
    done.push(...await unmountAll(dir));
    if (!present(dir)) return true;
    try {
      removeTree(dir);
      return true;
    } catch (err) {
      if (round++ >= 3) throw err;
      return undefined;
    }
  }, { timeoutMs: Infinity, firstMs: 20, maxMs: 80 });
  return done;
}

/**
 * For a container that is still there: unmounts what a killed runtime
 * process left in its runtime state directory, unless a runtime process of
 * it other than its init (`initPid`: a created container's `runc init`
 * waits there) is alive, which may be between its mount and its unmount
 * right now. Returns what it unmounted (or, with `dryRun`, would).
 */
export async function unmountStaleRuntimeMounts(
  paths: Paths,
  ns: string,
  id: string,
  initPid: number | null,
  dryRun = false,
): Promise<string[]> {
  const dir = paths.runtimeStateDir(ns, id);
  const mounts = await mountsUnder(dir);
  if (mounts.length === 0) return [];
  const busy = pidsWithEnv(RUNC_STATE_ENV, dir).filter((p) => p !== initPid);
  if (busy.length > 0) return [];
  // One whose runc ended (and unmounted it) between the two reads was no leftover.
  const still = (await mountsUnder(dir)).filter((m) => mounts.includes(m));
  if (dryRun) return still;
  const done: string[] = [];
  for (const m of still) done.push(...await unmountAll(m));
  return done;
}
