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
import { InvalidArgument, RuntimeError } from "../host/errors.ts";
import type { ImageRecord } from "../image/store.ts";
import { attach, openLogsAtEnd } from "../ops/attach.ts";
import { BUILD_LABEL } from "../ops/build_leftovers.ts";
import { createContainer } from "../ops/create.ts";
import { deleteContainer } from "../ops/delete.ts";
import { startContainer } from "../ops/start.ts";

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
  const s = await createContainer(runCtx, {
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
    const code = await attach(runCtx, s, logs, false);
    crashPoint(ctx.crashAt, "build:ran");
    if (code !== 0) {
      throw new RuntimeError(`${r.where}: RUN ${r.argv.join(" ")} exited with ${code}`);
    }
    return await r.commit(layerDirs(s.workDir).upper);
  } finally {
    await deleteContainer(ctx, ctx.globals.namespace, s.id, true).catch(() => {});
  }
}
