/**
 * `berth commit`: a container's changes as a new image. The container may
 * run: it is paused for the commit (as podman does; `--pause=false`
 * skips that) and resumed after, and the commit holds its lock so it is
 * neither removed nor resumed meanwhile. The pause is recorded as the
 * commit's (`pausedBy`) before the freeze: if the commit is killed, the
 * next command on the container or `berth gc` resumes it. A container made from an image
 * commits its overlay upper directory as one layer on that image; one made
 * from `--rootfs`/`--bundle` (no image) commits its whole merged root as a
 * one-layer image. The config is the image's with what the container was
 * given (its command as Cmd, `-e`, `--cwd`, `--user`), then the `-c`
 * changes.
 *
 * @module
 */

import { layerDirs } from "../container/bundle.ts";
import type { Context } from "../container/context.ts";
import type { ContainerState } from "../container/state_file.ts";
import { WrongState } from "../host/errors.ts";
import { mountPoints } from "../host/mounts.ts";
import {
  checkCommitArgs,
  commitTree,
  type ContainerConfigSection,
  type ImageRecord,
  storeOf,
} from "../image/mod.ts";
import { resolveExisting } from "./orphans.ts";
import { freezeContainer } from "./pause.ts";
import { crashPoint } from "../container/crash.ts";
import { withLoaded } from "./reconcile.ts";

/** Options of {@linkcode commitContainer}. */
export interface CommitOptions {
  changes: string[];
  message: string | null;
  author: string | null;
  pause: boolean;
  /** The image's name, or null (an unnamed image). */
  name: string | null;
}

/** The container's command, for the history's `created_by` (its bundle's process args). */
function commandOf(s: ContainerState): string {
  try {
    const spec = JSON.parse(Deno.readTextFileSync(`${s.bundle}/config.json`));
    const args = spec?.process?.args;
    if (Array.isArray(args)) return args.map(String).join(" ");
  } catch { /* none */ }
  return "";
}

/**
 * What the container was given over its image's config, as podman's commit
 * keeps it: the command (as Cmd), `-e` values (over the image's Env),
 * `--cwd` and `--user`.
 */
export function containerSettings(s: ContainerState): (c: ContainerConfigSection) => void {
  return (c) => {
    const r = s.request;
    if (r === undefined || r === null) return;
    if (r.command.length > 0) c.Cmd = [...r.command];
    if (r.env.length > 0) {
      const env = [...(c.Env ?? [])];
      for (const kv of r.env) {
        if (!kv.includes("=")) continue;
        const key = kv.slice(0, kv.indexOf("="));
        const at = env.findIndex((e) => e.startsWith(key + "="));
        if (at >= 0) env[at] = kv;
        else env.push(kv);
      }
      c.Env = env;
    }
    if (r.cwd !== null && r.cwd !== undefined) c.WorkingDir = r.cwd;
    if (typeof r.user === "string" && r.user !== "") c.User = r.user;
  };
}

/** Commits container `ref`; returns the new image's record. */
export async function commitContainer(
  ctx: Context,
  ref: string,
  o: CommitOptions,
): Promise<ImageRecord> {
  await checkCommitArgs(o.changes, o.name);
  const id = await resolveExisting(ctx, ref);
  const status = await withLoaded(ctx, id, (s) => Promise.resolve(s.status));
  const pausing = o.pause && status === "running";
  if (pausing) await freezeContainer(ctx, id, "pause", true);
  try {
    if (pausing) crashPoint(ctx.crashAt, "commit:paused");
    return await withLoaded(ctx, id, async (s) => {
      if (pausing && s.status !== "paused") {
        throw new WrongState(`cannot commit "${ref}": it was ${s.status} while being paused`);
      }
      const store = storeOf(ctx);
      const parent = s.image ? store.list().find((r) => r.id === s.image!.id) ?? null : null;
      if (s.image && parent === null) {
        throw new WrongState(`cannot commit "${ref}": its image ${s.image.id} is not stored`);
      }
      if (parent === null && !(await mountPoints()).includes(s.rootfs)) {
        throw new WrongState(`cannot commit "${ref}": its root file system is not mounted`);
      }
      return await commitTree(ctx, {
        tree: parent !== null ? layerDirs(s.workDir).upper : s.rootfs,
        mode: parent !== null ? "upper" : "tree",
        parent,
        adjust: containerSettings(s),
        changes: o.changes,
        createdBy: commandOf(s),
        comment: o.message,
        author: o.author,
        name: o.name,
      });
    });
  } finally {
    if (pausing) await freezeContainer(ctx, id, "resume");
  }
}
