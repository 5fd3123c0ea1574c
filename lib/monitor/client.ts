/**
 * The CLI side of the monitor: connect to the root's socket, starting the
 * monitor on demand (the same berth binary, hidden `__monitor` command,
 * detached into its own session).
 *
 * @module
 */

import { monitorAlive } from "./alive.ts";
import { runtimeTarget } from "../container/container.ts";
import { logFiles } from "../container/paths.ts";
import type { ContainerState } from "../container/state_file.ts";
import { join } from "../_std/path.ts";
import type { Context } from "../container/context.ts";
import {
  BerthError,
  Exists,
  InvalidArgument,
  NotFound,
  RuntimeError,
  WrongState,
} from "../host/errors.ts";
import { globalsToArgs } from "../container/globals.ts";
import {
  type CreateRequest,
  type MonitorReply,
  type MonitorRequest,
  readMessage,
  writeMessage,
} from "./protocol.ts";

/** How long a client waits for a monitor to come up. */
const START_TIMEOUT_MS = 10_000;

/** Connects to the running monitor; null when none listens. */
export async function connectMonitor(ctx: Context): Promise<Deno.UnixConn | null> {
  try {
    return await Deno.connect({ transport: "unix", path: ctx.paths.monitorSocket });
  } catch (err) {
    if (
      err instanceof Deno.errors.NotFound || err instanceof Deno.errors.ConnectionRefused ||
      err instanceof Deno.errors.ConnectionReset
    ) return null;
    throw err;
  }
}

/**
 * V8 settings of the monitor, a small long-lived process: a small young
 * generation, no helper threads, and `gc()` so it can collect before it
 * trims its memory (see `lib/host/memory_trim.ts`).
 */
export const MONITOR_V8_FLAGS =
  "--max-semi-space-size=1,--single-threaded,--expose-gc,--optimize-for-size,--lite-mode,--max-lazy";

/** Starts a monitor process for the context's roots; does not wait for it. */
export function spawnMonitor(ctx: Context): void {
  const [exe, ...pre] = ctx.self;
  const inherited = ctx.env("DENO_V8_FLAGS");
  const child = new Deno.Command(exe!, {
    args: [...pre, ...globalsToArgs(ctx.globals), "__monitor"],
    env: {
      DENO_V8_FLAGS: inherited ? `${inherited},${MONITOR_V8_FLAGS}` : MONITOR_V8_FLAGS,
      // One malloc arena: the monitor is one busy thread.
      MALLOC_ARENA_MAX: "1",
    },
    cwd: "/",
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: true,
  }).spawn();
  child.unref();
  // The child handle is never awaited: the monitor outlives this process.
  child.status.catch(() => {});
}

/** Connects, starting the monitor if none is running. */
export async function connectOrStart(ctx: Context): Promise<Deno.UnixConn> {
  const first = await connectMonitor(ctx);
  if (first !== null) return first;
  await Deno.mkdir(ctx.paths.root, { recursive: true, mode: 0o700 });
  spawnMonitor(ctx);
  let spawnedAt = ctx.clock.monotonic();
  const deadline = spawnedAt + START_TIMEOUT_MS;
  let delay = 2;
  for (;;) {
    await ctx.clock.sleep(delay);
    const conn = await connectMonitor(ctx);
    if (conn !== null) return conn;
    // The one we started may have failed or exited (an idle monitor goes):
    // with nobody holding the monitor lock for a while, start another.
    const now = ctx.clock.monotonic();
    if (now - spawnedAt > 1000 && !(await monitorAlive(ctx))) {
      spawnMonitor(ctx);
      spawnedAt = now;
    }
    if (now >= deadline) {
      throw new RuntimeError(
        `the berth monitor did not start within ${START_TIMEOUT_MS} ms (see ${ctx.paths.monitorLog})`,
      );
    }
    delay = Math.min(delay * 2, 50);
  }
}

const ERRORS: Record<string, new (msg: string) => BerthError> = {
  NotFound,
  Exists,
  WrongState,
  InvalidArgument,
};

/**
 * Sends one request and returns the reply. A monitor that is shutting down
 * answers `retry`; then a new one is started and the request sent again.
 * `null` means the connection broke before a reply (the monitor died).
 */
export async function monitorRequest(
  ctx: Context,
  req: MonitorRequest,
): Promise<MonitorReply | null> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const conn = await connectOrStart(ctx);
    let reply: MonitorReply | null;
    try {
      await writeMessage(conn, req);
      reply = await readMessage<MonitorReply>(conn);
    } catch {
      reply = null;
    } finally {
      conn.close();
    }
    if (reply !== null && !reply.ok && reply.kind === "retry") {
      await ctx.clock.sleep(5 * (attempt + 1));
      continue;
    }
    return reply;
  }
  throw new RuntimeError("the berth monitor keeps shutting down; try again");
}

/**
 * Sends one request to a monitor that is already running, without starting
 * one; null when none runs or it died before replying.
 */
export async function monitorRequestIfRunning(
  ctx: Context,
  req: MonitorRequest,
): Promise<MonitorReply | null> {
  const conn = await connectMonitor(ctx);
  if (conn === null) return null;
  try {
    await writeMessage(conn, req);
    return await readMessage<MonitorReply>(conn);
  } catch {
    return null;
  } finally {
    conn.close();
  }
}

/** Turns an error reply into the matching domain error. */
export function replyError(reply: { kind: string; message: string }): BerthError {
  const E = ERRORS[reply.kind] ?? RuntimeError;
  return new E(reply.message);
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
