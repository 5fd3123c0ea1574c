/**
 * Per-container building blocks shared by the commands and the monitor:
 * ID resolution, the container lock, runtime targets, and reconciling a
 * recorded status with the process table.
 *
 * @module
 */

import type { CreateRequest } from "../monitor/monitor_protocol.ts";
import { join } from "../_std/path.ts";
import { logFiles } from "./paths.ts";
import type { Context } from "./context.ts";
import { resolveId } from "./id.ts";
import { FileLock, type LockOptions } from "../host/lock.ts";
import { liveness, startTimeOf } from "../host/proc.ts";
import type { RuntimeTarget } from "../host/runtime.ts";
import type { ContainerState, InFlight } from "./state_file.ts";
import { canTransition } from "./status.ts";
import { promised } from "../host/sync_io.ts";

/** Resolves an ID or unique prefix in the context's namespace. */
export function resolveContainer(ctx: Context, ref: string): Promise<string> {
  const ns = ctx.globals.namespace;
  return resolveId(ref, (id) => ctx.store.exists(ns, id), () => ctx.store.ids(ns));
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
    if (lock.held) {
      if (await ctx.store.exists(ns, id).catch(() => true)) lock.release();
      else await lock.releaseAndRemove().catch(() => lock.release());
    }
  }
}

/**
 * Runs `fn` holding the lock of `ns/id` if it is free right now (a busy
 * lock: an operation is under way, skip). A lock file that did not exist
 * before is removed again, so a dry run leaves no trace.
 */
export async function withFreeLock(
  ctx: Context,
  ns: string,
  id: string,
  fn: () => Promise<void>,
): Promise<void> {
  const lock = await FileLock.tryAcquire(ctx.paths.lockFile(ns, id));
  if (lock === null) return;
  try {
    await fn();
  } finally {
    if (await ctx.store.exists(ns, id).catch(() => true)) lock.release();
    else await lock.releaseAndRemove().catch(() => lock.release());
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

/**
 * The fields of a monitor `create`/`restore` request for `s`: its runtime,
 * runtime root, bundle, runc log, pid file and log files.
 */
export function launchRequest(ctx: Context, s: ContainerState): Omit<CreateRequest, "op"> {
  const target = runtimeTarget(ctx, s);
  const logs = logFiles(s.workDir);
  return {
    ns: s.namespace,
    id: s.id,
    runtime: s.runtime,
    runtimeRoot: target.root,
    bundle: s.bundle,
    logFile: target.logFile,
    pidFile: join(s.bundle, "init.pid"),
    stdout: logs.stdout,
    stderr: logs.stderr,
    ...(s.terminal === true ? { terminal: true } : {}),
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
  if (s.status === "stopped" && (s.exitObserved || !observed)) return false;
  if (s.status !== "stopped" && !canTransition(s.status, "exit")) return false;
  s.status = "stopped";
  s.exitCode = exitCode;
  s.exitObserved = observed;
  s.exitedAt = at.toISOString();
  return true;
}

/**
 * True while a monitor holds the root's monitor lock. A live monitor
 * watches every live container of the root (it adopts them all when it
 * starts and creates the rest), so it, not a reader, records their exits:
 * a reader that saw the init gone would otherwise race it with a synthetic
 * 255 in the instant between its waitpid and its record.
 */
export function monitorAlive(ctx: Context): Promise<boolean> {
  return promised(() => {
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(ctx.paths.monitorLock, { read: true }); // see sync_io.ts
    } catch {
      return false;
    }
    try {
      return !file.tryLockSync(false);
    } finally {
      file.close();
    }
  });
}

/**
 * Starts a monitor for the root if none runs (it re-adopts live
 * containers); a held monitor lock is checked first, so the common case
 * loads no client code and connects to nothing.
 */
export async function startMonitorIfDead(ctx: Context): Promise<void> {
  if (await monitorAlive(ctx)) return;
  (await import("../monitor/monitor_client.ts")).spawnMonitor(ctx);
}

/**
 * For a state loaded under the lock: if the container should be live but
 * its init is gone and no monitor will record it, records the stop (255,
 * unobserved) and saves.
 * Zombies count as alive: their reaper records the real code.
 */
export async function refreshLocked(ctx: Context, s: ContainerState): Promise<ContainerState> {
  if (isLive(s) && s.pid !== null && initGone(s) && !(await monitorAlive(ctx))) {
    if (applyExit(s, 255, false, ctx.clock.now())) await ctx.store.save(s);
  }
  return s;
}

/** An op record for `name`, owned by this process (see `ops/repair.ts`). */
export function opRecord(ctx: Context, name: string): InFlight {
  return {
    name,
    pid: Deno.pid,
    pidStartTime: startTimeOf(Deno.pid),
    since: ctx.clock.now().toISOString(),
  };
}
