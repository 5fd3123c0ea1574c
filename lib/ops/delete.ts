/**
 * Deleting a container: kill (with force), wait until its init is reaped,
 * let the runtime forget it (and remove what a killed runtime process left
 * in its state directory, see `runtime_state.ts`), unmount the rootfs, remove the bundle
 * atomically (the state goes with it), then the work directory.
 *
 * @module
 */

import { unlinkName } from "../container/names.ts";
import { join } from "../_std/path.ts";
import { membersDir, removeAtomically } from "../container/bundle.ts";
import { applyExit, isLive, runtimeTarget, withContainerLock } from "../container/container.ts";
import { crashPoint } from "../container/crash.ts";
import { emit } from "../container/events.ts";
import type { Context } from "../container/context.ts";
import { BerthError, isNotFound, RuntimeError } from "../host/errors.ts";
import { unmountAll } from "../host/mounts.ts";
import { prepareMountCalls } from "../host/libc.ts";
import { prepareExec } from "../host/process.ts";
import {
  monitorRequestThenIfRunning,
  monitorSendIfRunning,
  replyError,
} from "../monitor/client.ts";
import type { MonitorReply } from "../monitor/protocol.ts";
import { REAP_TIMEOUT_MS } from "../monitor/protocol.ts";
import { inCgroup, liveness, startTimeOf } from "../host/proc.ts";
import { deleteArgs, type RuntimeTarget } from "../host/runtime.ts";
import type { ContainerState } from "../container/state_file.ts";
import { settleLocked } from "./settle.ts";
import { waitUntil } from "../host/poll.ts";
import { recordedStep } from "../container/step.ts";
import { removeRuntimeState } from "../container/runtime_state.ts";
import { tearDownNetwork } from "../network/mod.ts";

/** Waits until `pid` (started at `startTime`) no longer exists at all. */
export async function waitReaped(
  ctx: Context,
  pid: number,
  startTime: number | null,
  timeoutMs = REAP_TIMEOUT_MS,
): Promise<boolean> {
  return await waitUntil(() => liveness(pid, startTime) === "gone", {
    timeoutMs,
    maxMs: 10,
    clock: ctx.clock,
  });
}

/**
 * The init of `s`: recorded, or (an interrupted create) from the runtime's
 * pid file, trusted only if that process is in the container's cgroup.
 */
async function initOf(
  ctx: Context,
  s: ContainerState,
): Promise<{ pid: number; startTime: number | null } | null> {
  if (s.pid !== null) return { pid: s.pid, startTime: s.pidStartTime };
  try {
    const pid = Number((await Deno.readTextFile(join(s.bundle, "init.pid"))).trim());
    if (!Number.isInteger(pid) || pid <= 0) return null;
    if (!inCgroup(pid, ctx.paths.cgroupPath(s.namespace, s.id))) return null;
    return { pid, startTime: startTimeOf(pid) };
  } catch {
    return null;
  }
}

/**
 * Deletes `s`, which the caller loaded under the container's lock and
 * still holds the lock of. Without `force`, only created or stopped
 * containers may be deleted. Records op "delete" first, so a delete that
 * is interrupted anywhere is finished by whoever touches it next.
 */
export async function deleteLocked(ctx: Context, s: ContainerState, force: boolean): Promise<void> {
  const init = isLive(s) ? await initOf(ctx, s) : null;
  const live = init !== null && liveness(init.pid, init.startTime) !== "gone";
  if (isLive(s) && !live && s.op === null) applyExit(s, 255, false, ctx.clock.now());
  // An interrupted create is rolled back the same way: whatever it made goes.
  const op = force || s.op !== null ? "forceDelete" : "delete";
  await recordedStep(ctx, s, op, () => removeLocked(ctx, s, live ? init : null), {
    resumable: true,
    removes: true,
    crash: ["delete:recorded"],
  });
}

/**
 * The act of a delete: kills what runs (`init`, when live), lets the
 * runtime and the network forget it, unmounts and removes the bundle
 * (the state goes with it) and the work directory, and releases the
 * image and the sandbox marker. Runs again from the start when an
 * interrupted delete is finished.
 */
async function removeLocked(
  ctx: Context,
  s: ContainerState,
  init: { pid: number; startTime: number | null } | null,
): Promise<void> {
  const target = runtimeTarget(ctx, s);
  // Through the monitor, it starts the runtime's delete as soon as the init is reaped.
  const killed = init !== null ? await killThroughMonitor(ctx, s, init) : null;
  if (init !== null && killed === null) {
    await ignoreGone(ctx.runtime.kill(target, 9, true));
    if (s.status === "paused") await ignoreGone(ctx.runtime.resume(target));
    if (!(await waitReaped(ctx, init.pid, init.startTime))) {
      throw new RuntimeError(`cannot delete "${s.id}": its init (pid ${init.pid}) did not die`);
    }
  }
  crashPoint(ctx.crashAt, "delete:killed");
  // Its processes are gone: the network goes (CNI DEL, while the namespace
  // still exists, see lib/network/_attach.ts) as the runtime forgets it.
  const network = tearDownNetwork(ctx, s).then(() => null, (err: unknown) => ({ err }));
  const finishRuntime = await startRuntimeDelete(
    ctx,
    s.namespace,
    target,
    killed !== null ? init : null,
    killed,
  ).catch(
    (err: unknown) => () => Promise.reject(err),
  );
  // Meanwhile (the monitor runs the runtime's delete in a process of its
  // own) the rootfs is unmounted, when its init was the init of its own PID
  // namespace: its reap means every process of the container is gone, and
  // the runtime's delete does not use the rootfs. Otherwise (a --config
  // without a PID namespace) processes may remain until the runtime's
  // delete kills them, and the unmount waits for it, as before.
  const unmounted = ownsPidNamespace(s.bundle) &&
    await unmountAll(s.bundle).then(() => true, () => false);
  const runtime = await finishRuntime().then(() => null, (err: unknown) => ({ err }));
  // Both ran to the end; the network's failure is reported first, as before.
  const failed = (await network) ?? runtime;
  if (failed !== null) throw failed.err;
  // What a runtime process killed midway left in its state directory (a
  // bind mount runc's delete cannot remove): the runtime forgot it.
  await removeRuntimeState(ctx.paths, s.namespace, s.id);
  crashPoint(ctx.crashAt, "delete:runtime");
  crashPoint(ctx.crashAt, "delete:network");
  if (!unmounted) await unmountAll(s.bundle);
  crashPoint(ctx.crashAt, "delete:unmounted");
  await removeAtomically(s.bundle, () => crashPoint(ctx.crashAt, "delete:renamed"));
  crashPoint(ctx.crashAt, "delete:bundle");
  await removeAtomically(s.workDir);
  if (s.image) await (await import("../image/mod.ts")).releaseImage(ctx, s.namespace, s.id);
  // Its name last: an entry left by a crash before is ignored (names.ts).
  if (s.name !== undefined) await unlinkName(ctx, s.namespace, s.name, s.id);
  if (s.sandbox !== null) {
    // Its marker in the sandbox (a leftover one is ignored, see membersOf).
    await Deno.remove(join(membersDir(ctx.paths.bundleDir(s.namespace, s.sandbox)), s.id))
      .catch(() => {});
  }
}

/**
 * The members of sandbox `sid`: the containers named by the markers in its
 * bundle that still name it as their sandbox. Reads no other state, so
 * deleting a container costs the same however many there are. A sandbox
 * made before markers existed (no markers directory) is looked up by
 * reading every state of the namespace.
 */
export async function membersOf(
  ctx: Context,
  ns: string,
  sid: string,
): Promise<ContainerState[]> {
  let names: string[];
  try {
    names = (await Array.fromAsync(Deno.readDir(membersDir(ctx.paths.bundleDir(ns, sid)))))
      .map((e) => e.name);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    return (await ctx.store.list(ns)).filter((s) => s.sandbox === sid);
  }
  const members: ContainerState[] = [];
  for (const id of names) {
    const s = await ctx.store.tryLoad(ns, id).catch(() => null);
    if (s !== null && s.sandbox === sid) members.push(s);
  }
  return members;
}

/**
 * SIGKILLs a running container's init through the root's monitor, which is
 * its parent, and waits for the reap there: no runtime process, and no
 * polling of /proc. The monitor then starts the runtime's delete, whose
 * reply comes on the same connection: the function returned awaits it
 * (null: the monitor sent none). Null when no monitor runs or it does not
 * watch the init (the caller then kills through the runtime). A paused
 * container is left to the runtime, which has to thaw it after the kill.
 */
async function killThroughMonitor(
  ctx: Context,
  s: ContainerState,
  init: { pid: number; startTime: number | null },
): Promise<(() => Promise<MonitorReply | null>) | null> {
  if (!ctx.useMonitor || s.status !== "running") return null;
  const r = await monitorRequestThenIfRunning(
    ctx,
    {
      op: "kill",
      ns: s.namespace,
      id: s.id,
      pid: init.pid,
      startTime: init.startTime,
      thenDelete: true,
      deleteReply: true,
    },
    undefined,
    // libc for the unmount that follows, loaded while the monitor kills
    // (should that fail, the unmount reports it); and Deno's process
    // module where the network's tear-down runs iptables (published ports).
    () => {
      try {
        prepareMountCalls();
      } catch { /* see above */ }
      if ((s.net?.ports.length ?? 0) > 0) prepareExec();
    },
  );
  if (r === null) return null;
  if (r.reply === null || !r.reply.ok) {
    await r.next(); // closes the connection
    return null;
  }
  return r.next;
}

/**
 * True when the bundle's config gives the container a PID namespace of its
 * own (berth's default spec does; a `--config` may not). False when the
 * config cannot be read.
 */
function ownsPidNamespace(bundle: string): boolean {
  try {
    const config = JSON.parse(Deno.readTextFileSync(join(bundle, "config.json")));
    const namespaces: unknown = config?.linux?.namespaces;
    return Array.isArray(namespaces) &&
      namespaces.some((n) => n?.type === "pid" && (n.path === undefined || n.path === ""));
  } catch {
    return false;
  }
}

/**
 * `runtime delete --force`, run by the root's monitor when one runs (see
 * `RuntimeDeleteRequest`), else by this process.
 */
async function runtimeDelete(ctx: Context, ns: string, target: RuntimeTarget): Promise<void> {
  await (await startRuntimeDelete(ctx, ns, target, null, null))();
}

/**
 * Starts {@linkcode runtimeDelete}: resolves once the request is sent to
 * the monitor (or the runtime is started here), to a function that awaits
 * its end. The caller may work in between. `killed`: the init the monitor
 * just reaped for this delete (it started the runtime's delete then);
 * `started`: reads the reply of that delete on the kill's connection (a
 * monitor that sends none gets the `delete` request instead).
 */
async function startRuntimeDelete(
  ctx: Context,
  ns: string,
  target: RuntimeTarget,
  killed: { pid: number; startTime: number | null } | null,
  started: (() => Promise<MonitorReply | null>) | null,
): Promise<() => Promise<void>> {
  if (started !== null) {
    return async () => {
      const reply = await started();
      if (reply === null) return await (await startRuntimeDelete(ctx, ns, target, killed, null))();
      await settleDelegatedDelete(ctx, target, reply);
    };
  }
  if (ctx.useMonitor) {
    const pending = await monitorSendIfRunning(ctx, {
      op: "delete",
      ns,
      id: target.id,
      ...(killed !== null ? { init: { pid: killed.pid, startTime: killed.startTime } } : {}),
    });
    if (pending !== null) {
      return async () => await settleDelegatedDelete(ctx, target, await pending());
    }
  }
  const done = ctx.runtime.delete(target, true);
  done.catch(() => {}); // awaited by the caller's function
  return () => done;
}

/**
 * What the monitor answered to a runtime delete it ran for this process
 * (null: no answer): done when ok; a `retry` answer, or none, and this
 * process runs it; any other error is thrown.
 */
async function settleDelegatedDelete(
  ctx: Context,
  target: RuntimeTarget,
  reply: MonitorReply | null,
): Promise<void> {
  if (reply !== null) ctx.runtime.traceDelegated(target, deleteArgs(target.id, true));
  if (reply !== null && reply.ok) return;
  if (reply !== null && reply.kind !== "retry") throw replyError(reply);
  await ctx.runtime.delete(target, true);
}

/**
 * Takes the lock of `ns/id`, reloads its state and deletes it. An
 * interrupted operation recorded in it is settled first.
 */
export async function deleteContainer(
  ctx: Context,
  ns: string,
  id: string,
  force: boolean,
): Promise<void> {
  await withContainerLock(ctx, ns, id, async () => {
    let s: ContainerState;
    try {
      s = await ctx.store.load(ns, id);
    } catch (err) {
      // A state that cannot be read (corrupt, not a regular file): with
      // force, the container goes all the same, found by its ID alone.
      if (!force || !(err instanceof RuntimeError)) throw err;
      await deleteUnreadableLocked(ctx, ns, id);
      return;
    }
    const settled = s.op !== null && s.op.name !== "delete" && s.op.name !== "create"
      ? await settleLocked(ctx, s)
      : s;
    await deleteLocked(ctx, settled, force);
  });
}

/**
 * Deletes `ns/id` whose state cannot be read: the runtime's container
 * (`delete --force` kills what runs in it), the rootfs mount, the bundle
 * (state included) and the work directory, all from the roots and the ID.
 */
async function deleteUnreadableLocked(ctx: Context, ns: string, id: string): Promise<void> {
  const target = runtimeTarget(ctx, { namespace: ns, id });
  await runtimeDelete(ctx, ns, target);
  await removeRuntimeState(ctx.paths, ns, id);
  const bundle = ctx.paths.bundleDir(ns, id);
  await unmountAll(bundle);
  await removeAtomically(bundle);
  await removeAtomically(ctx.paths.workDir(ns, id));
  await emit(ctx, "delete", ns, id);
}

/**
 * Awaits a runtime call whose refusal is not fatal: any domain error (the
 * process or the runtime's state already gone, or the runtime refusing) is
 * ignored, since berth's side is removed anyway and `gc` retries what the
 * runtime may still hold; anything else (a bug) propagates.
 */
async function ignoreGone(p: Promise<void>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (!(err instanceof BerthError)) throw err;
  }
}
