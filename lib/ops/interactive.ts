/**
 * Interactive containers on the CLI side: foreground `run -i`/`-t` and
 * `attach`. The monitor holds the terminal's master (or the stdin pipe);
 * berth connects to it over the monitor's socket (`attach` request) and
 * runs the session (lib/terminal/_session.ts).
 *
 * @module
 */

import type { Context } from "../container/context.ts";
import { NotFound, RuntimeError, WrongState } from "../host/errors.ts";
import { connectMonitor, replyError, replyTimeoutMs } from "../monitor/client.ts";
import { after } from "../host/clock.ts";
import { type MonitorReply, readMessageAndRest, writeMessage } from "../monitor/protocol.ts";
import type { ContainerState } from "../container/state_file.ts";
import { MonitorEnd, Poller, runSession, terminalLibc } from "../terminal/mod.ts";
import { loadReconciled } from "./reconcile.ts";
import { resolveExisting } from "./orphans.ts";
import { type OpenLogs, openLogsAtEnd, runInForeground, type SessionRunner } from "./foreground.ts";
import { waitExit } from "./wait.ts";

/**
 * Connects to what the monitor holds for `ns/id`: its terminal or stdin
 * pipe. Refused (exit 5) when it holds none.
 */
export async function connectTerminal(ctx: Context, ns: string, id: string): Promise<MonitorEnd> {
  const conn = await connectMonitor(ctx);
  if (conn === null) {
    throw new WrongState(
      `cannot attach to "${id}": its terminal is gone (the monitor holding it has exited)`,
    );
  }
  // A stopped or wedged monitor is reported, not waited for (see replyTimeoutMs).
  const ms = replyTimeoutMs({ op: "attach", ns, id });
  let timedOut = false;
  const cancel = after(ms, () => {
    timedOut = true;
    conn.close();
  });
  try {
    await writeMessage(conn, { op: "attach", ns, id });
    const r = await readMessageAndRest<MonitorReply>(conn);
    cancel();
    if (timedOut) throw new RuntimeError(`the berth monitor did not answer within ${ms} ms`);
    if (r === null) throw new RuntimeError(`attach to "${id}": the berth monitor died`);
    if (!r.message.ok) throw replyError(r.message);
    return new MonitorEnd(conn, r.rest);
  } catch (err) {
    cancel();
    if (!timedOut) conn.close();
    throw err;
  }
}

/** What a foreground interactive run does. */
export interface ForegroundTerminal {
  /** `-i`. */
  input: boolean;
  /** `-t`. */
  tty: boolean;
}

/**
 * Prepares the session of the created (not yet started) container `s`:
 * connects to its terminal or stdin pipe and, without `-t`, opens its logs.
 * The caller starts it, then calls {@linkcode runForeground}.
 */
export async function prepareForeground(
  ctx: Context,
  s: ContainerState,
  o: ForegroundTerminal,
): Promise<{ end: MonitorEnd; logs: OpenLogs }> {
  const end = await connectTerminal(ctx, s.namespace, s.id);
  try {
    const logs = o.tty ? { out: null, err: null } : await openLogsAtEnd(s.workDir);
    return { end, logs };
  } catch (err) {
    end.close();
    throw err;
  }
}

/** Runs the session of the started container `s` until it exits (or the user detaches). */
export function runForeground(
  ctx: Context,
  s: ContainerState,
  prepared: { end: MonitorEnd; logs: OpenLogs },
  o: ForegroundTerminal & { rm: boolean },
): Promise<number> {
  const session: SessionRunner = (exited) =>
    runSession({
      lib: terminalLibc,
      poller: new Poller(terminalLibc),
      end: prepared.end,
      input: o.input,
      tty: o.tty,
      detachKeys: o.tty,
      out: (b) => ctx.io.out(b),
      until: exited,
    });
  return runInForeground(ctx, s, prepared.logs, o.rm, session);
}

/** Signals that end an `attach` session (they are not forwarded: the container runs on). */
const ENDING: Record<string, number> = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 };

/**
 * `attach ID`: connects berth's terminal to the container's until it exits
 * (its exit code) or the user detaches with Ctrl-P Ctrl-Q (0). SIGINT,
 * SIGTERM or SIGHUP to berth end the session like a detach, with the
 * terminal restored, and exit 128+N.
 */
export async function attachContainer(ctx: Context, ref: string): Promise<number> {
  const id = await resolveExisting(ctx, ref);
  const s = await loadReconciled(ctx, id);
  if (s.terminal !== true) {
    throw new WrongState(
      `cannot attach to "${id}": it has no terminal (started without -t); use "berth logs -f ${id}"`,
    );
  }
  if (s.status === "stopped") {
    throw new WrongState(`cannot attach to "${id}": container is stopped`);
  }
  const end = await connectTerminal(ctx, s.namespace, s.id);
  const exited = waitExit(ctx, s.namespace, s.id, { pid: s.pid, startTime: s.pidStartTime });
  let signalled: number | null = null;
  let interrupt!: () => void;
  const interrupted = new Promise<void>((resolve) => (interrupt = resolve));
  const handlers = Object.entries(ENDING).map(([sig, num]) => {
    const h = () => {
      signalled ??= num;
      interrupt();
    };
    Deno.addSignalListener(sig as Deno.Signal, h);
    return [sig as Deno.Signal, h] as const;
  });
  let how: "ended" | "detached";
  try {
    how = await runSession({
      lib: terminalLibc,
      poller: new Poller(terminalLibc),
      end,
      input: true,
      tty: true,
      detachKeys: true,
      out: (b) => ctx.io.out(b),
      interrupt: interrupted,
    });
  } finally {
    for (const [sig, h] of handlers) Deno.removeSignalListener(sig, h);
  }
  if (signalled !== null) return 128 + signalled;
  if (how === "detached") return 0;
  const outcome = await exited.catch(() => null);
  if (outcome === null) throw new NotFound(`container "${id}" is gone`);
  return outcome.exitCode;
}
