/**
 * A RUN step: a berth container made from the image so far (same
 * runtime, seccomp profile, capabilities and limits as `run`'s, with the
 * image's Env, WorkingDir and User), its output streamed, its overlay
 * upper committed as the step's layer once it exited 0, and the container
 * deleted whatever happens. The container carries the build's owner in
 * {@linkcode BUILD_LABEL}, so `gc` deletes it if the build is killed.
 *
 * @module
 */

import { layerDirs } from "../container/bundle.ts";
import type { Context } from "../container/context.ts";
import { crashPoint } from "../container/crash.ts";
import type { ContainerState } from "../container/state_file.ts";
import { InvalidArgument, RuntimeError } from "../host/errors.ts";
import type { ImageRecord } from "../image/mod.ts";
import { openLogsAtEnd, runInForeground } from "../ops/foreground.ts";
import { BUILD_LABEL } from "../ops/build_leftovers.ts";
import { createContainer } from "../ops/create.ts";
import { deleteContainer } from "../ops/delete.ts";
import { startContainer } from "../ops/start.ts";
import { join } from "../_std/path.ts";
import { cleanRel } from "./_ignore.ts";
import { ImageTree } from "./_sources.ts";

export { BUILD_LABEL };

/** What a RUN step runs. */
export interface RunStep {
  image: ImageRecord | null;
  argv: string[];
  /** Build arguments in scope, `K=V` (the image's Env wins over them). */
  env: string[];
  network: string | null;
  quiet: boolean;
  /** The build's `PID:STARTTIME`. */
  owner: string;
  /** `Containerfile:LINE`, for errors. */
  where: string;
  /** The image's layer directories, top first. */
  layers: string[];
  /** Commits the container's upper directory. */
  commit: (upper: string) => Promise<ImageRecord>;
}

/** Runs the step; returns the image `commit` made. */
export async function runStep(ctx: Context, r: RunStep): Promise<ImageRecord> {
  if (r.image === null) {
    throw new InvalidArgument(`${r.where}: RUN needs a base image (the stage is FROM scratch)`);
  }
  const id = `berth-build-${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const quiet = { out: () => {}, err: () => {} };
  const runCtx: Context = r.quiet ? { ...ctx, io: quiet } : ctx;
  let s: ContainerState;
  try {
    s = await createContainer(runCtx, {
      id,
      bundle: null,
      rootfs: null,
      config: null,
      command: r.argv,
      entrypoint: [],
      env: r.env,
      cwd: null,
      labels: { [BUILD_LABEL]: r.owner },
      sandbox: null,
      autoRemove: false,
      restart: "no",
      network: r.network,
      image: r.image.id.slice("sha256:".length),
      pull: "never",
    });
  } catch (err) {
    // A command that cannot be found or run leaves a container created
    // (podman's rule for run and create): not a build's.
    await deleteContainer(ctx, ctx.globals.namespace, id, true).catch(() => {});
    throw err;
  }
  try {
    crashPoint(ctx.crashAt, "build:container");
    const logs = await openLogsAtEnd(s.workDir);
    try {
      await startContainer(runCtx, s.id);
    } catch (err) {
      logs.out?.close();
      logs.err?.close();
      throw err;
    }
    const code = await runInForeground(runCtx, s, logs, false);
    crashPoint(ctx.crashAt, "build:ran");
    if (code !== 0) {
      throw new RuntimeError(`${r.where}: RUN ${r.argv.join(" ")} exited with ${code}`);
    }
    const upper = layerDirs(s.workDir).upper;
    dropMountPoints(upper, mountTargets(s.bundle), r.layers);
    return await r.commit(upper);
  } finally {
    await deleteContainer(ctx, ctx.globals.namespace, s.id, true).catch(() => {});
  }
}

/** The mount destinations of the container's config (relative, cleaned). */
function mountTargets(bundle: string): string[] {
  try {
    const spec = JSON.parse(Deno.readTextFileSync(join(bundle, "config.json")));
    const mounts = Array.isArray(spec?.mounts) ? spec.mounts : [];
    return mounts.map((m: { destination?: unknown }) => String(m.destination ?? ""))
      .map(cleanRel).filter((d: string) => d !== "" && !d.startsWith(".."));
  } catch {
    return [];
  }
}

/**
 * Removes from the upper what the runtime made only to mount on (an empty
 * `/etc/hosts`, `/etc/resolv.conf`, a `/proc` the image lacks), and the
 * directories made only for them: they are not the step's changes.
 */
export function dropMountPoints(upper: string, targets: string[], layers: string[]): void {
  const below = new ImageTree("the image", layers);
  for (const t of targets) {
    if (below.lstat(t) !== null) continue;
    const p = join(upper, t);
    let st: Deno.FileInfo;
    try {
      st = Deno.lstatSync(p);
    } catch {
      continue;
    }
    const empty = st.isFile
      ? st.size === 0
      : st.isDirectory && [...Deno.readDirSync(p)].length === 0;
    if (!empty) continue;
    Deno.removeSync(p);
    // Its parents, while they are empty and the image does not have them.
    for (let rel = t; rel.includes("/");) {
      rel = rel.slice(0, rel.lastIndexOf("/"));
      if (below.lstat(rel) !== null) break;
      try {
        Deno.removeSync(join(upper, rel)); // fails when not empty
      } catch {
        break;
      }
    }
  }
}
