/**
 * The containers of builds that are gone: `build` runs each RUN step as a
 * container labelled with its own process (pid and start time); a build
 * killed while one exists leaves it, and `gc` (or the next build) deletes
 * it, running or not.
 *
 * @module
 */

import type { Context } from "../container/context.ts";
import { messageOf } from "../host/errors.ts";
import { startTimeOf } from "../host/proc.ts";
import { deleteContainer } from "./delete.ts";

/** The label a build's RUN container carries: `PID:STARTTIME` of the build. */
export const BUILD_LABEL = "io.berth.build";

/** True when the build `owner` (a {@linkcode BUILD_LABEL} value) is no longer running. */
export function buildGone(owner: string): boolean {
  const m = /^(\d+):(\d+)$/.exec(owner);
  if (m === null) return true;
  const start = startTimeOf(Number(m[1]));
  return start === null || String(start) !== m[2];
}

/**
 * Deletes (force) every container of the context's namespaces whose build
 * is gone; `dry` only reports. Returns one line per container.
 */
export async function removeBuildLeftovers(ctx: Context, dry: boolean): Promise<string[]> {
  const out: string[] = [];
  let namespaces: string[];
  try {
    namespaces = [...Deno.readDirSync(ctx.paths.namespacesDir)].filter((e) => e.isDirectory)
      .map((e) => e.name);
  } catch {
    return out;
  }
  for (const ns of namespaces) {
    for (const s of await ctx.store.list(ns)) {
      const owner = s.labels?.[BUILD_LABEL];
      if (owner === undefined || !buildGone(owner)) continue;
      try {
        if (!dry) await deleteContainer(ctx, ns, s.id, true);
        out.push(`${dry ? "would remove" : "removed"} the build container ${ns}/${s.id}`);
      } catch (err) {
        out.push(`cannot remove the build container ${ns}/${s.id}: ${messageOf(err)}`);
      }
    }
  }
  return out;
}
