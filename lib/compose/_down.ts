/**
 * `compose down`: every container of the project (found by its labels,
 * whatever file made it: what an interrupted `up` left included) stopped
 * and deleted, then the project's networks; with `-v` its volumes (the
 * declared ones and the anonymous ones its containers used), with `--rmi`
 * its images. Each step skips what is already gone, so `down` killed at any
 * point is completed by running it again.
 *
 * @module
 */

import type { Context } from "../container/context.ts";
import { crashPoint } from "../container/crash.ts";
import { BerthError, messageOf, NotFound } from "../host/errors.ts";
import type { Project } from "./_model.ts";
import { projectContainers } from "./_containers.ts";
import { removeContainer } from "./_up.ts";
import { imageOf, serviceOf } from "./_plan.ts";

/** Options of {@linkcode down}. */
export interface DownOptions {
  volumes: boolean;
  /** `--rmi local` (built images only) or `all`. */
  rmi: "local" | "all" | null;
  progress: (line: string) => void;
  warn: (message: string) => void;
}

/** Takes the project down. */
export async function down(ctx: Context, project: Project, o: DownOptions): Promise<void> {
  const containers = await projectContainers(ctx, project.name);
  const volumes = new Set<string>();
  for (const c of containers) {
    for (const m of c.request?.mounts ?? []) {
      // Anonymous volumes are the project's own (`PROJECT_SERVICE-N_anon-I`).
      if (
        m.type === "volume" && m.source?.startsWith(`${project.name}_`) &&
        m.source.includes("_anon-")
      ) {
        volumes.add(m.source);
      }
    }
  }
  await Promise.all(containers.map(async (c) => {
    const grace = project.services[serviceOf(c)]?.stop_grace_period_s ?? 10;
    await removeContainer(ctx, c, grace);
    o.progress(` Container ${c.id}  Removed`);
  }));
  crashPoint(ctx.crashAt, "compose:containers");
  const { networkList, networkRemove } = await import("../network/mod.ts");
  const names = new Set(
    Object.values(project.networks).filter((n) => !n.external).map((n) => n.name),
  );
  names.add(`${project.name}_default`);
  const present = new Set((await networkList(ctx)).map((n) => n.name));
  for (const name of names) {
    if (!present.has(name)) continue;
    try {
      await networkRemove(ctx, name);
      o.progress(` Network ${name}  Removed`);
    } catch (err) {
      if (err instanceof NotFound) continue;
      if (!(err instanceof BerthError)) throw err;
      o.warn(`network "${name}" kept: ${messageOf(err)}`);
    }
  }
  if (o.volumes) {
    for (const v of Object.values(project.volumes)) if (!v.external) volumes.add(v.name);
    const { removeVolume } = await import("../volume/mod.ts");
    for (const name of volumes) {
      try {
        await removeVolume(ctx, ctx.globals.namespace, name);
        o.progress(` Volume ${name}  Removed`);
      } catch (err) {
        if (err instanceof NotFound) continue;
        if (!(err instanceof BerthError)) throw err;
        o.warn(`volume "${name}" kept: ${messageOf(err)}`);
      }
    }
  }
  if (o.rmi !== null) {
    const refs = new Set<string>();
    for (const [name, s] of Object.entries(project.services)) {
      if (o.rmi === "all" || s.image === undefined) refs.add(imageOf(project, name));
    }
    const { storeOf, staleUse } = await import("../image/mod.ts");
    const store = storeOf(ctx);
    for (const ref of refs) {
      if (store.find(ref) === null) continue;
      try {
        await store.remove([ref], false, staleUse(ctx));
        o.progress(` Image ${ref}  Removed`);
      } catch (err) {
        if (!(err instanceof BerthError)) throw err;
        o.warn(`image "${ref}" kept: ${messageOf(err)}`);
      }
    }
  }
}
