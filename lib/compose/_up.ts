/**
 * `compose up`: the project network(s), images (pulled by create, built by
 * `berth build`), then each service's containers created and started in
 * dependency order (services whose dependencies are met at once, in
 * parallel), waiting for `depends_on` conditions. Converges: a container
 * whose config hash matches and that runs is left alone, a stopped one is
 * started, a changed one is recreated, replicas beyond the wanted number
 * go. State lives only in the containers' labels, so `up` killed at any
 * point is completed by the next `up` (or undone by `down`).
 *
 * @module
 */

import type { Context } from "../container/context.ts";
import { crashPoint } from "../container/crash.ts";
import type { ContainerState } from "../container/state_file.ts";
import { Exists, InvalidArgument, NotFound, RuntimeError, WrongState } from "../host/errors.ts";
import { createContainer } from "../ops/create.ts";
import { deleteContainer } from "../ops/delete.ts";
import { startOrRestart } from "../ops/start.ts";
import { stopContainer } from "../ops/stop.ts";
import { loadReconciled } from "../ops/reconcile.ts";
import type { Project } from "./_model.ts";
import { projectContainers } from "./_containers.ts";
import { dependenciesOf, selectServices } from "./_load.ts";
import {
  configHash,
  containerName,
  createRequestOf,
  imageOf,
  LABELS,
  numberOf,
  serviceOf,
} from "./_plan.ts";

/** Options of {@linkcode up}. */
export interface UpOptions {
  /** Services named (empty: all). */
  services: string[];
  noDeps: boolean;
  forceRecreate: boolean;
  /** `--build`: build images of `build:` services first. */
  build: boolean;
  /** `--remove-orphans`: remove the project's containers of services no longer in the files. */
  removeOrphans?: boolean;
  /** Progress lines (` Container x  Started`). */
  progress: (line: string) => void;
  /** Runs `berth build` (the same binary) for a service; resolves when built. */
  buildImage: (service: string) => Promise<void>;
}

/** What `up` did to one container. */
export interface UpResult {
  id: string;
  service: string;
  action: "created" | "recreated" | "started" | "running" | "removed";
}

/** Makes the project's networks the services use (a missing external one is exit 2). */
export async function ensureNetworks(
  ctx: Context,
  project: Project,
  services: string[],
): Promise<void> {
  const { networkCreate, networkList } = await import("../network/mod.ts");
  const wanted = new Set(services.flatMap((s) => Object.keys(project.services[s]!.networks)));
  for (const key of wanted) {
    const def = project.networks[key]!;
    const have = (await networkList(ctx)).some((n) => n.name === def.name);
    if (have) continue;
    if (def.external) {
      throw new InvalidArgument(`external network "${def.name}" does not exist`);
    }
    try {
      await networkCreate(ctx, def.name, {
        subnet: def.subnet ?? null,
        internal: def.internal ?? false,
        disableDns: false,
      });
    } catch (err) {
      // Another `up` of the same project made it meanwhile.
      if (!(await networkList(ctx)).some((n) => n.name === def.name)) throw err;
    }
  }
}

/** Creates the missing host directories of bind mounts (as compose does for the short syntax). */
async function ensureBindSources(project: Project, service: string): Promise<void> {
  for (const v of project.services[service]!.volumes) {
    if (v.type !== "bind" || v.source === undefined) continue;
    try {
      await Deno.stat(v.source);
    } catch {
      await Deno.mkdir(v.source, { recursive: true, mode: 0o755 });
      await Deno.chmod(v.source, 0o755);
    }
  }
}

/** True when a `build:` service's image is not in the store. */
async function imageMissing(ctx: Context, ref: string): Promise<boolean> {
  const { storeOf } = await import("../image/mod.ts");
  return storeOf(ctx).find(ref) === null;
}

/** Pulls the images of `services` (each once) that are missing, or all with `pull_policy: always`. */
export async function pullImages(
  ctx: Context,
  project: Project,
  services: string[],
  progress: (line: string) => void,
  always = false,
): Promise<void> {
  const { resolveImage, storeOf } = await import("../image/mod.ts");
  const refs = new Map<string, boolean>();
  for (const s of services) {
    const svc = project.services[s]!;
    if (svc.image === undefined || svc.pull_policy === "build") continue;
    if (svc.pull_policy === "never") continue;
    refs.set(svc.image, (refs.get(svc.image) ?? false) || always || svc.pull_policy === "always");
  }
  await Promise.all([...refs].map(async ([ref, force]) => {
    if (!force && storeOf(ctx).find(ref) !== null) return;
    progress(` Image ${ref}  Pulling`);
    await resolveImage(ctx, ref, force ? "always" : "missing");
    progress(` Image ${ref}  Pulled`);
  }));
}

/** Brings the project up; resolves to what was done to each container. */
export async function up(ctx: Context, project: Project, o: UpOptions): Promise<UpResult[]> {
  const selected = selectServices(project, o.services, o.noDeps);
  // Everything that can be refused is refused before anything is made.
  const hashes = new Map<string, string>();
  for (const s of selected) hashes.set(s, await configHash(project, s));
  await ensureNetworks(ctx, project, selected);
  crashPoint(ctx.crashAt, "compose:networks");
  for (const s of selected) {
    const svc = project.services[s]!;
    if (svc.build === undefined) continue;
    if (o.build || svc.pull_policy === "build" || await imageMissing(ctx, imageOf(project, s))) {
      o.progress(` Image ${imageOf(project, s)}  Building`);
      await o.buildImage(s);
      o.progress(` Image ${imageOf(project, s)}  Built`);
    }
  }
  await pullImages(ctx, project, selected, o.progress);
  const existing = await projectContainers(ctx, project.name, { oneoff: false });
  const results: UpResult[] = [];
  const orphans = existing.filter((c) => !(serviceOf(c) in project.services));
  if (orphans.length > 0 && o.removeOrphans === true) {
    await Promise.all(orphans.map(async (c) => {
      await removeContainer(ctx, c, 10);
      o.progress(` Container ${c.id}  Removed`);
      results.push({ id: c.id, service: serviceOf(c), action: "removed" });
    }));
  } else if (orphans.length > 0) {
    o.progress(
      ` Found orphan containers (${orphans.map((c) => c.id).join(", ")}) for this project: ` +
        "up --remove-orphans removes them",
    );
  }
  const done = new Map<string, Promise<void>>();
  const converge = (service: string): Promise<void> => {
    let p = done.get(service);
    if (p !== undefined) return p;
    p = (async () => {
      const svc = project.services[service]!;
      const deps = o.noDeps ? [] : dependenciesOf(svc).filter((d) => selected.includes(d));
      await Promise.all(deps.map(async (d) => {
        await converge(d);
        const cond = svc.depends_on[d]?.condition ?? "service_started";
        await waitCondition(ctx, project, d, cond);
      }));
      await ensureBindSources(project, service);
      const mine = existing.filter((c) => serviceOf(c) === service);
      results.push(...await convergeService(ctx, project, service, hashes.get(service)!, mine, o));
      crashPoint(ctx.crashAt, "compose:service");
    })();
    done.set(service, p);
    return p;
  };
  // All at once: each waits for its own dependencies.
  const outcomes = await Promise.allSettled(selected.map(converge));
  const failed = outcomes.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed !== undefined) throw failed.reason;
  return results;
}

/** One service: its replicas made to match the model. */
async function convergeService(
  ctx: Context,
  project: Project,
  service: string,
  hash: string,
  mine: ContainerState[],
  o: UpOptions,
): Promise<UpResult[]> {
  const svc = project.services[service]!;
  const out: UpResult[] = [];
  const byNumber = new Map(mine.map((c) => [numberOf(c), c]));
  // A container of an image the name no longer points to (pulled or built anew) is recreated.
  const { storeOf } = await import("../image/mod.ts");
  const imageId = storeOf(ctx).find(imageOf(project, service))?.id ?? null;
  const stale = (c: ContainerState) =>
    c.labels[LABELS.hash] !== hash || o.forceRecreate ||
    (imageId !== null && c.image !== null && c.image !== undefined && c.image.id !== imageId);
  const tasks: Promise<void>[] = [];
  for (let n = 1; n <= svc.replicas; n++) {
    const id = containerName(project, service, n);
    const current = byNumber.get(n) ?? mine.find((c) => c.id === id);
    tasks.push((async () => {
      let action: UpResult["action"];
      if (current !== undefined && stale(current)) {
        await removeContainer(ctx, current, svc.stop_grace_period_s);
        await create(ctx, project, service, id, n, hash);
        action = "recreated";
      } else if (current !== undefined) {
        if (current.status === "running" || current.status === "paused") action = "running";
        else {
          action = await startUnlessRunning(ctx, current.id);
        }
      } else {
        action = await create(ctx, project, service, id, n, hash);
      }
      o.progress(` Container ${id}  ${label(action)}`);
      out.push({ id, service, action });
    })());
  }
  for (const c of mine) {
    if (numberOf(c) > svc.replicas) {
      tasks.push((async () => {
        await removeContainer(ctx, c, svc.stop_grace_period_s);
        o.progress(` Container ${c.id}  Removed`);
        out.push({ id: c.id, service, action: "removed" });
      })());
    }
  }
  const settled = await Promise.allSettled(tasks);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed !== undefined) throw failed.reason;
  return out;
}

function label(a: UpResult["action"]): string {
  return {
    created: "Started",
    recreated: "Recreated",
    started: "Started",
    running: "Running",
    removed: "Removed",
  }[a];
}

/**
 * Creates and starts replica `n`. A concurrent `up` that made it first
 * (exit 4 here) counts as made: it is started if it is not running.
 */
async function create(
  ctx: Context,
  project: Project,
  service: string,
  id: string,
  n: number,
  hash: string,
): Promise<"created" | "running" | "started"> {
  const req = createRequestOf(project, service, { id, number: n, hash });
  try {
    await createContainer(ctx, req, { start: true });
    return "created";
  } catch (err) {
    if (!(err instanceof Exists)) throw err;
    const s = await loadReconciled(ctx, id);
    if (s.labels[LABELS.project] !== project.name) {
      throw new Exists(
        `container "${id}" already exists and is not part of project "${project.name}"`,
      );
    }
    if (s.status === "running" || s.status === "paused") return "running";
    return await startUnlessRunning(ctx, id);
  }
}

/**
 * Starts a created or stopped container; one that another `up` of the
 * same project started meanwhile (it was made by the other, which starts
 * what it makes) is no error: it is running, as wanted.
 */
async function startUnlessRunning(ctx: Context, id: string): Promise<"running" | "started"> {
  try {
    await startOrRestart(ctx, id);
    return "started";
  } catch (err) {
    if (!(err instanceof WrongState)) throw err;
    const s = await loadReconciled(ctx, id);
    if (s.status === "running" || s.status === "paused") return "running";
    throw err;
  }
}

/** Stops (within its grace period) and deletes a container; one already gone is no error. */
export async function removeContainer(
  ctx: Context,
  s: ContainerState,
  graceS: number,
): Promise<void> {
  try {
    // With no grace period the stop is a SIGKILL: delete -f does it under the same lock.
    const live = s.status === "running" || s.status === "paused";
    if (live && graceS > 0) await stopContainer(ctx, s.id, graceS);
  } catch (err) {
    if (!(err instanceof NotFound) && !(err instanceof WrongState)) throw err;
  }
  try {
    await deleteContainer(ctx, ctx.globals.namespace, s.id, true);
  } catch (err) {
    if (!(err instanceof NotFound)) throw err;
  }
}

/**
 * Waits until `service`'s containers meet `condition`: started (they were,
 * by converge), healthy (a health check passed), or exited 0. An unhealthy
 * or failed dependency fails `up` (exit 1).
 */
async function waitCondition(
  ctx: Context,
  project: Project,
  service: string,
  condition: string,
): Promise<void> {
  if (condition === "service_started") return;
  const svc = project.services[service]!;
  if (condition === "service_healthy" && svc.healthcheck === undefined) {
    throw new InvalidArgument(`service "${service}" has no healthcheck: it cannot become healthy`);
  }
  const ids = Array.from(
    { length: svc.replicas },
    (_, i) => containerName(project, service, i + 1),
  );
  for (const id of ids) {
    for (let delay = 50;; delay = Math.min(delay * 2, 500)) {
      const s = await loadReconciled(ctx, id);
      if (condition === "service_healthy") {
        if (s.health === "healthy") break;
        if (s.health === "unhealthy") {
          throw new RuntimeError(`dependency failed to start: container "${id}" is unhealthy`);
        }
        if (s.status === "stopped") {
          throw new RuntimeError(
            `dependency failed to start: container "${id}" exited (${s.exitCode})`,
          );
        }
      } else if (s.status === "stopped") {
        if (s.exitCode === 0) break;
        throw new RuntimeError(
          `service "${service}" didn't complete successfully: container "${id}" exited ${s.exitCode}`,
        );
      }
      await ctx.clock.sleep(delay);
    }
  }
}
