/**
 * `exec -t`: the runtime starts the process detached with a terminal and
 * sends the master to a console socket of this berth process, which then
 * runs the session itself (nothing outlives it: the process is ended by its
 * terminal closing when berth goes). berth is a child subreaper meanwhile,
 * so the process, re-parented to it when the runtime exits, is reaped here
 * by pid and its exit code returned.
 *
 * @module
 */

import { after } from "../host/clock.ts";
import type { Context } from "../container/context.ts";
import { ErrnoError } from "../host/libc.ts";
import { execScratch } from "../container/bundle.ts";
import { crashPoint } from "../container/crash.ts";
import { RuntimeError } from "../host/errors.ts";
import { inCgroup, procInfo } from "../host/proc.ts";
import type { RuntimeTarget } from "../host/runtime.ts";
import { ConsoleSocket } from "./_console_socket.ts";
import { terminalLibc } from "./_ffi.ts";
import { Poller } from "./_poller.ts";
import { MasterEnd, runSession } from "./_session.ts";

const FORWARDED: Record<string, Deno.Signal> = {
  SIGINT: "SIGINT",
  SIGTERM: "SIGTERM",
  SIGHUP: "SIGHUP",
};

/** How long output may still drain after the process exited. */
const DRAIN_MS = 500;

/**
 * Runs the process described by `processFile` (its `terminal` set) in the
 * container of `target` (bundle `bundle`, where its pid file goes) with a
 * terminal; `input`: berth's stdin goes to it; `cgroup`: the container's.
 * Returns its exit code.
 */
export async function execWithTerminal(
  ctx: Context,
  target: RuntimeTarget,
  processFile: string,
  bundle: string,
  input: boolean,
  cgroup: string,
): Promise<number> {
  const lib = terminalLibc;
  ctx.libc.setChildSubreaper();
  const pidFile = execScratch(bundle, "pid");
  const socket = ConsoleSocket.create(lib, ctx.paths.consoleDir);
  let master: number;
  let pid: number;
  try {
    await ctx.runtime.execTerminal(target, processFile, socket.path, pidFile);
    crashPoint(ctx.crashAt, "exec:terminal");
    master = socket.receive();
    pid = Number(Deno.readTextFileSync(pidFile).trim());
  } finally {
    socket.close();
    try {
      Deno.removeSync(pidFile);
    } catch { /* not written */ }
  }
  // A pid from a file is trusted only for our child (re-parented to this
  // subreaper when the runtime exited) or a process in the container's cgroup.
  if (
    !Number.isInteger(pid) || pid <= 0 ||
    (procInfo(pid)?.ppid !== Deno.pid && !inCgroup(pid, cgroup))
  ) {
    lib.close(master);
    throw new RuntimeError(`exec in "${target.id}": pid ${pid} is not the process it started`);
  }
  let settle!: (code: number) => void;
  const exited = new Promise<number>((resolve) => (settle = resolve));
  const reap = () => {
    try {
      const r = ctx.libc.waitpid(pid);
      if (r !== null) settle(r.exitCode);
    } catch (err) {
      // Not our child after all: its code cannot be known.
      if (err instanceof ErrnoError) settle(255);
    }
  };
  const forward = Object.values(FORWARDED).map((sig) => {
    const h = () => {
      try {
        Deno.kill(pid, sig); // our child (a zombie at worst): the pid is not reused
      } catch { /* gone */ }
    };
    Deno.addSignalListener(sig, h);
    return [sig, h] as const;
  });
  Deno.addSignalListener("SIGCHLD", reap);
  reap();
  const poller = new Poller(lib);
  const end = new MasterEnd(lib, poller, master);
  try {
    const session = runSession({
      lib,
      poller,
      end,
      input,
      tty: true,
      detachKeys: false,
      out: (b) => ctx.io.out(b),
    });
    // The session ends when every holder of the terminal closed it; a
    // background process may keep it open after the process exited.
    const code = await exited;
    let cancel = () => {};
    await Promise.race([
      session,
      new Promise<void>((resolve) => (cancel = after(DRAIN_MS, resolve))),
    ]);
    cancel();
    end.close();
    await session;
    return code;
  } finally {
    Deno.removeSignalListener("SIGCHLD", reap);
    for (const [sig, h] of forward) Deno.removeSignalListener(sig, h);
    end.close();
  }
}
