/**
 * The CLI side of the monitor: connect to the root's socket, starting the
 * monitor on demand (the same berth binary, hidden `__monitor` command,
 * detached into its own session).
 *
 * @module
 */

import { monitorAlive } from "./alive.ts";
import type { ContainerState } from "../container/state_file.ts";
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
  readMessageAndRest,
  WAIT_SLICE_MS,
  writeMessage,
} from "./protocol.ts";
import { after } from "../host/clock.ts";
import { poll } from "../host/poll.ts";
import { HELPER_PATH, helperArgv, helperEnv, spawnHelper } from "../host/helper_process.ts";

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

/** The PATH of the monitor (and of what it runs), whoever started it. */
export const MONITOR_PATH = HELPER_PATH;

/** The monitor's whole environment (see {@linkcode helperEnv}). */
export function monitorEnv(env: Record<string, string>): Record<string, string> {
  return helperEnv(env, MONITOR_V8_FLAGS);
}

/** The monitor's command line (see {@linkcode helperArgv}). */
export const monitorArgv = helperArgv;

/** Starts a monitor process for the context's roots; does not wait for it. */
export function spawnMonitor(ctx: Context): void {
  spawnHelper(ctx.self, [...globalsToArgs(ctx.globals), "__monitor"], MONITOR_V8_FLAGS);
}

/** Connects, starting the monitor if none is running. */
export async function connectOrStart(ctx: Context): Promise<Deno.UnixConn> {
  const first = await connectMonitor(ctx);
  if (first !== null) return first;
  await Deno.mkdir(ctx.paths.root, { recursive: true, mode: 0o700 });
  spawnMonitor(ctx);
  let spawnedAt = ctx.clock.monotonic();
  const conn = await poll(async () => {
    const conn = await connectMonitor(ctx);
    if (conn !== null) return conn;
    // The one we started may have failed or exited (an idle monitor goes):
    // with nobody holding the monitor lock for a while, start another.
    const now = ctx.clock.monotonic();
    if (now - spawnedAt > 1000 && !(await monitorAlive(ctx))) {
      spawnMonitor(ctx);
      spawnedAt = now;
    }
    return undefined;
  }, { timeoutMs: START_TIMEOUT_MS, firstMs: 2, maxMs: 50, clock: ctx.clock });
  if (conn === undefined) {
    throw new RuntimeError(
      `the berth monitor did not start within ${START_TIMEOUT_MS} ms (see ${ctx.paths.monitorLog})`,
    );
  }
  return conn;
}

const ERRORS: Record<string, new (msg: string) => BerthError> = {
  NotFound,
  Exists,
  WrongState,
  InvalidArgument,
};

/** Slack on top of a request's own bound before a client gives up on the monitor. */
const REPLY_GRACE_MS = 5_000;

/**
 * How long a client waits for the reply to `req`: the longest the monitor
 * may legitimately take (a runtime call, a reap, a wait slice) plus
 * {@linkcode REPLY_GRACE_MS}. A monitor that is stopped or wedged is then
 * reported, never waited for forever.
 */
export function replyTimeoutMs(req: MonitorRequest): number {
  switch (req.op) {
    case "create":
    case "restore":
    case "delete":
      return RUNTIME_CALL_MS + REPLY_GRACE_MS;
    case "kill":
      return REAP_MS + REPLY_GRACE_MS;
    case "wait":
      return WAIT_SLICE_MS + REPLY_GRACE_MS;
    default:
      return REPLY_GRACE_MS;
  }
}

/** The runtime client's bound on one call (runtime.ts) and the monitor's on a reap (REAP_TIMEOUT_MS). */
const RUNTIME_CALL_MS = 30_000;
const REAP_MS = 10_000;

/**
 * One request/reply on `conn`, which it closes: the reply, null if the
 * connection broke first; throws RuntimeError after {@linkcode replyTimeoutMs}.
 */
async function exchange(
  ctx: Context,
  conn: Deno.UnixConn,
  req: MonitorRequest,
): Promise<MonitorReply | null> {
  return await (await send(ctx, conn, req))();
}

/**
 * Writes `req` on `conn`; resolves once it is sent, to a function that
 * awaits the reply (as {@linkcode exchange}). The bound of
 * {@linkcode replyTimeoutMs} runs from the start of the write.
 */
async function send(
  ctx: Context,
  conn: Deno.UnixConn,
  req: MonitorRequest,
): Promise<() => Promise<MonitorReply | null>> {
  const ms = replyTimeoutMs(req);
  let timedOut = false;
  const cancel = after(ms, () => {
    timedOut = true;
    try {
      conn.close(); // ends the pending read
    } catch { /* closed */ }
  });
  const end = (): void => {
    cancel();
    if (!timedOut) conn.close();
    if (timedOut) {
      throw new RuntimeError(
        `the berth monitor did not answer within ${ms} ms (see ${ctx.paths.monitorLog})`,
      );
    }
  };
  try {
    await writeMessage(conn, req);
  } catch {
    end();
    return () => Promise.resolve(null);
  }
  return async () => {
    let reply: MonitorReply | null;
    try {
      reply = await readMessage<MonitorReply>(conn);
    } catch {
      reply = null;
    } finally {
      end();
    }
    return reply;
  };
}

/**
 * Sends one request and returns the reply. A monitor that is shutting down
 * answers `retry`; then a new one is started and the request sent again.
 * `null` means the connection broke before a reply (the monitor died).
 * A monitor that does not answer in time is a RuntimeError. `whileWaiting`
 * runs once, as soon as the request is first sent (work of the caller's
 * that can overlap the monitor's).
 */
export async function monitorRequest(
  ctx: Context,
  req: MonitorRequest,
  whileWaiting: () => void = () => {},
): Promise<MonitorReply | null> {
  let sent = false;
  for (let attempt = 0; attempt < 20; attempt++) {
    const conn = await connectOrStart(ctx);
    const wait = await send(ctx, conn, req);
    if (!sent) {
      sent = true;
      whileWaiting();
    }
    const reply = await wait();
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
  return await exchange(ctx, conn, req);
}

/**
 * Sends one request to a monitor that is already running, without starting
 * one, and resolves once it is written, to a function that awaits the reply
 * (null when the monitor died first); null when no monitor runs. The caller
 * works meanwhile, while the monitor serves the request.
 */
export async function monitorSendIfRunning(
  ctx: Context,
  req: MonitorRequest,
): Promise<(() => Promise<MonitorReply | null>) | null> {
  const conn = await connectMonitor(ctx);
  if (conn === null) return null;
  return await send(ctx, conn, req);
}

/**
 * Sends `req` to the root's monitor if one runs (null when none does) and
 * reads its reply, keeping the connection open for a second message (see
 * `deleteReply` of a kill): `next` reads that one (null when the monitor
 * closed the connection without it) within `nextTimeoutMs`, and closes the
 * connection. After a reply that is not ok, or none, the connection is
 * closed already and `next` resolves to null. The caller must call `next`.
 * `whileWaiting` runs once the request is sent, before the reply is read
 * (work of the caller's that the monitor's does not wait for).
 */
export async function monitorRequestThenIfRunning(
  ctx: Context,
  req: MonitorRequest,
  nextTimeoutMs = RUNTIME_CALL_MS + REPLY_GRACE_MS,
  whileWaiting: () => void = () => {},
): Promise<
  { reply: MonitorReply | null; next: () => Promise<MonitorReply | null> } | null
> {
  const conn = await connectMonitor(ctx);
  if (conn === null) return null;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      conn.close();
    } catch { /* closed */ }
  };
  const timedOut = (ms: number) =>
    new RuntimeError(
      `the berth monitor did not answer within ${ms} ms (see ${ctx.paths.monitorLog})`,
    );
  const firstMs = replyTimeoutMs(req);
  let late = false;
  let cancel = after(firstMs, () => {
    late = true;
    close();
  });
  let first: { message: MonitorReply; rest: Uint8Array } | null;
  try {
    await writeMessage(conn, req);
    whileWaiting();
    first = await readMessageAndRest<MonitorReply>(conn);
  } catch {
    first = null;
  }
  cancel();
  if (late) throw timedOut(firstMs);
  if (first === null || !first.message.ok) {
    close();
    return { reply: first?.message ?? null, next: () => Promise.resolve(null) };
  }
  let rest: Uint8Array | null = first.rest.length > 0 ? first.rest : null;
  // The bytes that came with the first reply, then the connection's.
  const restConn = {
    read: (p: Uint8Array): Promise<number | null> => {
      if (rest === null) return conn.read(p);
      const n = Math.min(p.length, rest.length);
      p.set(rest.subarray(0, n));
      rest = n < rest.length ? rest.subarray(n) : null;
      return Promise.resolve(n);
    },
    write: (p: Uint8Array) => conn.write(p),
  };
  return {
    reply: first.message,
    next: async () => {
      cancel = after(nextTimeoutMs, () => {
        late = true;
        close();
      });
      let reply: MonitorReply | null;
      try {
        reply = await readMessage<MonitorReply>(restConn);
      } catch {
        reply = null;
      } finally {
        cancel();
        close();
      }
      if (late) throw timedOut(nextTimeoutMs);
      return reply;
    },
  };
}

/** Turns an error reply into the matching domain error. */
export function replyError(reply: { kind: string; message: string }): BerthError {
  const E = ERRORS[reply.kind] ?? RuntimeError;
  return new E(reply.message);
}

/** The fields of a monitor `create`/`restore` request for `s` (no paths: see `launchPaths`). */
export function launchRequest(s: ContainerState): Omit<CreateRequest, "op"> {
  return { ns: s.namespace, id: s.id, ...(s.terminal === true ? { terminal: true } : {}) };
}
