/**
 * Per-container building blocks shared by the operations and the monitor:
 * ID resolution, the container lock, runtime targets, liveness of the
 * recorded init, and applying an exit to a state.
 *
 * @module
 */

import { join } from "../_std/path.ts";
import type { Context } from "./context.ts";
import { logFiles } from "./paths.ts";
import { resolveId, validateReference } from "./id.ts";
import { foundById, idByName } from "./names.ts";
import { FileLock, type LockOptions } from "../host/lock.ts";
import { liveness, startTimeOf } from "../host/proc.ts";
import type { RuntimeTarget } from "../host/runtime.ts";
import type { ContainerState, InFlight, OpName } from "./state_file.ts";
import { changeStatus, settleStatus } from "./status.ts";

/** Resolves a renamed container's name, or an ID or unique prefix, in the context's namespace. */
export async function resolveContainer(ctx: Context, ref: string): Promise<string> {
  const ns = ctx.globals.namespace;
  validateReference(ref);
  // A renamed container's name first; an ID renamed away is not found by it.
  const named = await idByName(ctx, ns, ref);
  if (named !== null) return named;
  return await resolveId(ref, (id) => foundById(ctx, ns, id), () => ctx.store.ids(ns));
}

/**
 * Runs `fn` holding the lock of `ns/id`. If afterwards the container has
 * no state (it was deleted, or never created), the lock file is removed
 * while still held, so no lock file outlives its container.
 */
export async function withContainerLock<T>(
  ctx: Context,
  ns: string,
  id: string,
  fn: (lock: FileLock) => Promise<T>,
  options: LockOptions = {},
): Promise<T> {
  const lock = await FileLock.acquire(ctx.paths.lockFile(ns, id), `container "${id}"`, {
    clock: ctx.clock,
    ...options,
  });
  try {
    return await fn(lock);
  } finally {
    if (lock.held) await releaseContainerLock(ctx, ns, id, lock);
  }
}

/**
 * Like {@linkcode withContainerLock} for a container that should exist (the
 * monitor recording an exit): `fn` runs only while the container has a
 * lock file, and a lock file its deleter removed while this waited is not
 * recreated (it would outlive the container until this releases it).
 * Undefined when the container is gone. A state without a lock file (one
 * removed by hand) is locked as usual.
 */
export async function withExistingContainerLock<T>(
  ctx: Context,
  ns: string,
  id: string,
  fn: (lock: FileLock) => Promise<T>,
  options: LockOptions = {},
): Promise<T | undefined> {
  const lock = await FileLock.acquireExisting(ctx.paths.lockFile(ns, id), `container "${id}"`, {
    clock: ctx.clock,
    ...options,
  });
  if (lock === null) {
    if (!(await ctx.store.exists(ns, id))) return undefined;
    return await withContainerLock(ctx, ns, id, fn, options);
  }
  try {
    return await fn(lock);
  } finally {
    if (lock.held) await releaseContainerLock(ctx, ns, id, lock);
  }
}

/**
 * Releases the lock of `ns/id`, or, if the container has no state (it was
 * deleted meanwhile, or never created), removes the lock file while still
 * holding it, so no lock file outlives its container. An unreadable state
 * counts as there.
 */
export async function releaseContainerLock(
  ctx: Context,
  ns: string,
  id: string,
  lock: FileLock,
): Promise<void> {
  if (await ctx.store.exists(ns, id).catch(() => true)) lock.release();
  else await lock.releaseAndRemove().catch(() => lock.release());
}

/**
 * Runs `fn` holding the lock of `ns/id` if it is free right now, or
 * within `waitMs` (a lock still busy then: an operation is under way,
 * skip). A lock file that did not exist before is removed again, so a dry
 * run leaves no trace. False when the lock stayed busy and `fn` did not run.
 */
export async function withFreeLock(
  ctx: Context,
  ns: string,
  id: string,
  fn: () => Promise<void>,
  waitMs = 0,
): Promise<boolean> {
  const until = ctx.clock.monotonic() + waitMs;
  let lock = await FileLock.tryAcquire(ctx.paths.lockFile(ns, id));
  while (lock === null && ctx.clock.monotonic() < until) {
    await ctx.clock.sleep(20);
    lock = await FileLock.tryAcquire(ctx.paths.lockFile(ns, id));
  }
  if (lock === null) return false;
  try {
    await fn();
    return true;
  } finally {
    await releaseContainerLock(ctx, ns, id, lock);
  }
}

/** The runtime call target of a container. */
export function runtimeTarget(ctx: Context, s: { namespace: string; id: string }): RuntimeTarget {
  return {
    root: ctx.paths.runtimeRoot(s.namespace),
    id: s.id,
    logFile: join(ctx.paths.bundleDir(s.namespace, s.id), "runc.log"),
  };
}

/** What the runtime's create or restore of a container is run with. */
export interface LaunchPaths {
  /** The runtime binary (absolute: resolved by the CLI that created it). */
  runtime: string;
  /** Runtime `--root`. */
  runtimeRoot: string;
  bundle: string;
  logFile: string;
  pidFile: string;
  stdout: string;
  stderr: string;
}

/**
 * The runtime and paths of the create or restore of `s`: from its state's
 * runtime and, for every path, from the context's roots and its ID (the
 * monitor computes them itself; a request never carries them).
 */
export function launchPaths(ctx: Context, s: ContainerState): LaunchPaths {
  const target = runtimeTarget(ctx, s);
  const bundle = ctx.paths.bundleDir(s.namespace, s.id);
  const logs = logFiles(ctx.paths.workDir(s.namespace, s.id));
  return {
    runtime: s.runtime,
    runtimeRoot: target.root,
    bundle,
    logFile: target.logFile,
    pidFile: join(bundle, "init.pid"),
    stdout: logs.stdout,
    stderr: logs.stderr,
  };
}

/** True when the status says a process should exist. */
export function isLive(s: ContainerState): boolean {
  return s.status !== "stopped";
}

/** True when the recorded init process is gone (not merely a zombie). */
export function initGone(s: ContainerState): boolean {
  return s.pid !== null && liveness(s.pid, s.pidStartTime) === "gone";
}

/**
 * Records that the container's init exited. `observed` is false for a
 * synthetic code (255, the exit could not be observed): a synthetic code
 * never replaces a real one, and a real one always replaces a synthetic
 * one. Must be called under the container's lock with a fresh state.
 * Returns true when the state changed (the caller saves it).
 */
export function applyExit(
  s: ContainerState,
  exitCode: number,
  observed: boolean,
  at: Date,
): boolean {
  if (s.status === "stopped") {
    if (s.exitObserved || !observed) return false;
    settleStatus(s, "stopped", at, "exit"); // the real code replaces a synthetic 255
  } else changeStatus(s, "exit", at);
  s.exitCode = exitCode;
  s.exitObserved = observed;
  return true;
}

/** An op record for `name`, owned by this process (see `ops/repair.ts`). */
export function opRecord(ctx: Context, name: OpName): InFlight {
  return {
    name,
    pid: Deno.pid,
    pidStartTime: startTimeOf(Deno.pid),
    since: ctx.clock.now().toISOString(),
  };
}
