/**
 * The monitor's server (conmon's `conn_sock.c` and `ctrl.c`): one
 * long-lived berth process per root (hidden command `__monitor`). It runs
 * the runtime's `create` itself and is a child subreaper, so every
 * container init it creates is re-parented to it; `reaper.ts` watches and
 * reaps them, `exits.ts` records their exit codes in the state files under
 * the containers' locks. Containers it did not create (re-adopted after a
 * previous monitor died) are polled in /proc; their exits cannot be
 * observed and are recorded as 255.
 *
 * It holds `monitor.lock` for its whole life, serves `monitor.sock` (0600),
 * and exits once no container is live and no request is under way for
 * `idleMs`, trimming its start-up pages once quiet. Containers never depend on it: if it is killed they keep running
 * and the next berth command starts a new one.
 *
 * @module
 */

import { after } from "../host/clock.ts";
import type { Context } from "../container/context.ts";
import { BerthError, messageOf, RuntimeError } from "../host/errors.ts";
import { FileLock } from "../host/lock.ts";
import { poll } from "../host/poll.ts";
import { isValidId } from "../container/id.ts";
import { launchPaths, runtimeTarget } from "../container/container.ts";
import { type UnixConnection, UnixServer } from "../host/unix_server.ts";
import {
  type AttachRequest,
  type CreateRequest,
  type KillRequest,
  type MonitorReply,
  type MonitorRequest,
  readMessage,
  type RestoreRequest,
  writeMessage,
} from "./protocol.ts";
import type { ProcessRunner } from "../host/process.ts";
import { trimFilePages } from "../host/memory_trim.ts";
import { startTimeOf } from "../host/proc.ts";
import { type CreateIo, OciRuntime } from "../host/runtime.ts";
import { logFiles } from "../container/paths.ts";
import type { TerminalHolder } from "../terminal/mod.ts";
import { type ExitActions, Exits } from "./exits.ts";
import { killAndReap, serveWait } from "./waits.ts";
import { key, Reaper, type Watch } from "./reaper.ts";

/** Options of {@linkcode runMonitor}. */
export interface MonitorOptions {
  /** Exit after this long with nothing to watch. Default 2000 ms (env BERTH_MONITOR_IDLE_MS). */
  idleMs: number;
  /** Period of the /proc sweep for processes it cannot wait for. Default 250 ms. */
  pollMs: number;
  /** What an exit leads to (`--rm`, restart policies): given by the command that starts it. */
  actions: ExitActions;
}

/** Connections served at once; more are closed unserved (their clients retry or fail). */
const MAX_CONNECTIONS = 256;

/** A connection's request line must arrive within this long. */
const REQUEST_DEADLINE_MS = 5_000;

/** Back-off of the accept loop after a refused accept: 10 ms doubling to 1 s. */
const ACCEPT_RETRY_MS = 10;
const ACCEPT_RETRY_MAX_MS = 1_000;

/** True when every ID and namespace in `req` is valid (paths are built from them). */
function validRequest(req: MonitorRequest): boolean {
  if (typeof req !== "object" || req === null || typeof req.op !== "string") return false;
  if (req.op === "ping") return true;
  const r = req as { ns?: unknown; id?: unknown };
  return typeof r.ns === "string" && typeof r.id === "string" && isValidId(r.ns) &&
    isValidId(r.id);
}

/** First and longest pause between attempts to record an exit. */
const RECORD_RETRY_MS = 50;
const RECORD_RETRY_MAX_MS = 2000;

/** How long a new monitor stays up even with nothing to do. */
const STARTUP_GRACE_MS = 1500;

/**
 * How long an exiting monitor keeps its (already unlinked) socket open to
 * answer late connections with `retry`: a client's connect that found the
 * socket just before it was removed can reach the queue a moment later (on
 * a loaded host, after the first drain), and closing the socket under it
 * would leave it unanswered ("the berth monitor died").
 */
const SHUTDOWN_GRACE_MS = 50;

/** Quiet time before the monitor trims its start-up pages. */
const TRIM_DELAY_MS = 1000;

/**
 * Period of the monitor's own full garbage collection while health checks
 * run. Each check (a runtime process, the state read, its timers) leaves
 * garbage, some of which outlives a young-generation collection; left to
 * V8's heuristics the monitor's Pss swung between 19 and 35 MB with 50
 * containers checked every second; collected every 5 s, 20-23 MB on a quiet
 * host; every 2 s, with the start-up pages dropped each time, 19-20.4 MB
 * (BENCHMARKS.md).
 */
const COLLECT_MS = 2_000;

/** A full, compacting collection (`--expose-gc`, see MONITOR_V8_FLAGS); nothing without it. */
function collectGarbage(): void {
  const gc = (globalThis as { gc?: (options?: unknown) => unknown }).gc;
  gc?.({ type: "major", execution: "sync", flavor: "last-resort" });
}

/**
 * How long a runtime delete started by a `kill` with `thenDelete` waits for
 * the `delete` request that takes it (a client killed in between never sends one).
 */
const STARTED_DELETE_MS = 10_000;

/** Key of a runtime delete started after the reap of init `pid` (started at `startTime`). */
function deleteKey(ns: string, id: string, pid: number, startTime: number | null): string {
  return `${key(ns, id)}/${pid}/${startTime}`;
}

/** Runs the monitor until it goes idle; returns the exit code. */
export async function runMonitor(ctx: Context, options: MonitorOptions): Promise<number> {
  await Deno.mkdir(ctx.paths.root, { recursive: true, mode: 0o700 });
  await Deno.mkdir(ctx.paths.dataRoot, { recursive: true, mode: 0o700 });
  const lock = await takeMonitorLock(ctx);
  if (lock === null) return 0; // another monitor serves this root
  // It runs runtime calls itself rather than asking a monitor (itself).
  const m = new Monitor({ ...ctx, useMonitor: false }, options, lock);
  return await m.serve();
}

/** Waits briefly for a previous monitor that is shutting down. */
async function takeMonitorLock(ctx: Context): Promise<FileLock | null> {
  const got = await poll<FileLock | null>(async () => {
    const lock = await FileLock.tryAcquire(ctx.paths.monitorLock);
    if (lock !== null) return lock;
    // A live monitor that still listens serves the root: leave it be.
    try {
      const conn = await Deno.connect({ transport: "unix", path: ctx.paths.monitorSocket });
      conn.close();
      return null;
    } catch { /* it is exiting: wait for its lock */ }
    return undefined;
  }, { timeoutMs: 5_000, firstMs: 10, maxMs: 10, clock: ctx.clock });
  return got ?? null;
}

class Monitor {
  /** Runtime creates under way, by `ns/id`. */
  readonly #creating = new Map<string, Promise<MonitorReply>>();
  /** Runtime deletes started after a kill (`thenDelete`), by {@linkcode deleteKey}. */
  readonly #deleting = new Map<string, Promise<void>>();
  readonly #reaper: Reaper;
  readonly #exits: Exits;
  #active = 0;
  #stopping = false;
  readonly #startedAt = performance.now();
  /** Cancels the pending timer, if any (see `after` in clock.ts). */
  #idleTimer: (() => void) | undefined;
  #trimTimer: (() => void) | undefined;
  #collectTimer: (() => void) | undefined;
  #listener: UnixServer | null = null;
  /** Owner of the root: the one user besides root the socket serves. */
  #rootOwner = 0;
  /** Connections being served. */
  #connections = 0;
  /** Masters of `-t` containers and stdin pipes (loaded with the first). */
  #terminals: TerminalHolder | null = null;
  #done!: (code: number) => void;
  readonly #runner: ProcessRunner;

  constructor(readonly ctx: Context, readonly options: MonitorOptions, readonly lock: FileLock) {
    this.#reaper = new Reaper(ctx, options.pollMs, {
      log: (m) => this.log(m),
      creating: () => this.#creating.size > 0,
      watched: (w) => {
        this.#cancelIdle();
        this.#exits.watched(w);
        this.#scheduleCollect();
      },
      exited: (w, code, observed) => this.#exited(w, code, observed),
    });
    const inner = ctx.runner;
    const own = this.#reaper.ownChildren;
    this.#runner = {
      exec: (req) => {
        let pid = -1;
        return inner.exec({
          ...req,
          onSpawn: (p) => {
            pid = p;
            own.add(p);
            req.onSpawn?.(p);
          },
        }).finally(() => own.delete(pid));
      },
    };
    this.#exits = new Exits(ctx, this.#runner, {
      log: (m) => this.log(m),
      enter: () => this.#active++,
      leave: () => {
        this.#active--;
        this.#checkIdle();
      },
      create: (req) => this.#create(req),
    }, options.actions);
  }

  log(msg: string): void {
    const line = `${new Date().toISOString()} monitor[${Deno.pid}] ${msg}\n`;
    try {
      Deno.writeTextFileSync(this.ctx.paths.monitorLog, line, { append: true, mode: 0o600 });
    } catch { /* diagnostics only */ }
  }

  async serve(): Promise<number> {
    const done = new Promise<number>((resolve) => (this.#done = resolve));
    this.ctx.libc.setChildSubreaper();
    await Deno.remove(this.ctx.paths.monitorSocket).catch(() => {});
    // Bound under berth's umask 077 (0600 from the start) in the 0700 root.
    this.#listener = UnixServer.listen(this.ctx.paths.monitorSocket);
    this.#rootOwner = Deno.statSync(this.ctx.paths.root).uid ?? 0;
    Deno.addSignalListener("SIGCHLD", this.#onSigchld);
    this.log("started");
    await this.#reaper.adopt();
    this.#acceptLoop(this.#listener);
    this.#checkIdle();
    this.#scheduleTrim();
    return await done;
  }

  #onSigchld = () => this.#reaper.sweep();

  /**
   * Accepts until shutdown. A refused accept (EMFILE, ENFILE, …) never ends
   * the loop: it backs off (10 ms doubling to 1 s) and accepts again. Past
   * {@linkcode MAX_CONNECTIONS} at once, a connection is closed unserved.
   */
  async #acceptLoop(listener: UnixServer): Promise<void> {
    let delay = ACCEPT_RETRY_MS;
    while (!this.#stopping) {
      let conn: UnixConnection | null;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (this.#stopping) return;
        this.log(`accept failed (again in ${delay} ms): ${messageOf(err)}`);
        await this.ctx.clock.sleep(delay);
        delay = Math.min(delay * 2, ACCEPT_RETRY_MAX_MS);
        continue;
      }
      if (conn === null) return;
      delay = ACCEPT_RETRY_MS;
      if (this.#connections >= MAX_CONNECTIONS) {
        conn.close();
        continue;
      }
      this.#handle(conn);
    }
  }

  /**
   * Serves one connection: only root or the root's owner (SO_PEERCRED), and
   * its request line must arrive within {@linkcode REQUEST_DEADLINE_MS}.
   */
  async #handle(conn: UnixConnection): Promise<void> {
    this.#connections++;
    this.#active++;
    this.#cancelIdle();
    this.#scheduleTrim();
    try {
      const peer = conn.peer();
      if (peer.uid !== 0 && peer.uid !== this.#rootOwner) {
        this.log(`refused a connection from uid ${peer.uid} (pid ${peer.pid})`);
        return;
      }
      const deadline = performance.now() + REQUEST_DEADLINE_MS;
      const req = await readMessage<MonitorRequest>({
        read: (p: Uint8Array) => conn.read(p, Math.max(0, Math.ceil(deadline - performance.now()))),
        write: (p: Uint8Array) => conn.write(p),
      });
      if (req === null) return;
      if (!validRequest(req)) {
        await writeMessage(conn, { ok: false, kind: "InvalidArgument", message: "bad request" })
          .catch(() => {});
        return;
      }
      if (req.op === "attach") return await this.#attach(req, conn);
      const reply = await this.#dispatch(req);
      await writeMessage(conn, reply).catch(() => {});
      if (req.op === "kill" && req.thenDelete === true && req.deleteReply === true && reply.ok) {
        // The runtime delete the kill started, answered as a `delete`
        // request naming this init would be (see `deleteReply`).
        const init = { pid: req.pid, startTime: req.startTime };
        const deleted = await this.#dispatch({ op: "delete", ns: req.ns, id: req.id, init });
        await writeMessage(conn, deleted).catch(() => {});
      }
    } catch (err) {
      this.log(`request failed: ${messageOf(err)}`);
    } finally {
      try {
        conn.close();
      } catch { /* closed */ }
      this.#connections--;
      this.#active--;
      this.#checkIdle();
    }
  }

  async #dispatch(req: Exclude<MonitorRequest, AttachRequest>): Promise<MonitorReply> {
    if (this.#stopping) return { ok: false, kind: "retry", message: "monitor is shutting down" };
    try {
      switch (req.op) {
        case "ping":
          return { ok: true, pid: Deno.pid };
        case "create":
        case "restore":
          return await this.#create(req);
        case "quiesce":
          await this.#creating.get(key(req.ns, req.id))?.catch(() => {});
          return { ok: true };
        case "adopt":
          if (this.#reaper.watch(req.ns, req.id, req.pid, req.startTime) === null) {
            return { ok: false, kind: "NotFound", message: `pid ${req.pid} is not in ${req.id}` };
          }
          return { ok: true };
        case "kill": {
          const reply = await killAndReap(this.ctx, req, this.#reaper, this.#exits);
          if (reply.ok && req.thenDelete === true) this.#startDelete(req);
          return reply;
        }
        case "delete": {
          if (req.init !== undefined) {
            const k = deleteKey(req.ns, req.id, req.init.pid, req.init.startTime);
            const started = this.#deleting.get(k);
            if (started !== undefined) {
              this.#deleting.delete(k);
              // Failed: run again below, and that error is the one reported.
              if (await started.then(() => true, () => false)) return { ok: true };
            }
          }
          await this.#runtimeDelete(req.ns, req.id);
          return { ok: true };
        }
        case "wait":
          return await serveWait(req, this.#reaper, this.#exits);
      }
    } catch (err) {
      const kind = err instanceof BerthError ? err.name : "RuntimeError";
      return { ok: false, kind, message: messageOf(err) };
    }
  }

  /** `runtime delete --force` of `ns/id`: the state's runtime, or (unreadable state) the monitor's own. */
  async #runtimeDelete(ns: string, id: string): Promise<void> {
    const s = await this.ctx.store.tryLoad(ns, id).catch(() => null);
    const binary = s?.runtime ?? this.ctx.globals.runtime;
    await new OciRuntime(binary, this.#runner).delete(
      runtimeTarget(this.ctx, { namespace: ns, id }),
      true,
    );
  }

  /**
   * Starts the runtime's delete of a container whose init `req` just
   * reaped, for the `delete` request that follows (see `thenDelete`); the
   * monitor stays up while it runs, and forgets it after
   * {@linkcode STARTED_DELETE_MS} if no request takes it.
   */
  #startDelete(req: KillRequest): void {
    const k = deleteKey(req.ns, req.id, req.pid, req.startTime);
    this.#active++;
    const p = this.#runtimeDelete(req.ns, req.id).finally(() => {
      this.#active--;
      this.#checkIdle();
    });
    p.catch((err) => this.log(`delete of ${key(req.ns, req.id)}: ${messageOf(err)}`));
    this.#deleting.set(k, p);
    after(STARTED_DELETE_MS, () => {
      if (this.#deleting.get(k) === p) this.#deleting.delete(k);
    });
  }

  /** The terminal holder, loaded on first use (most monitors never need it). */
  async #holder(): Promise<TerminalHolder> {
    if (this.#terminals === null) {
      const { TerminalHolder, terminalLibc } = await import("../terminal/mod.ts");
      this.#terminals ??= new TerminalHolder(terminalLibc, (m) => this.log(m));
    }
    return this.#terminals;
  }

  /**
   * Serves an attach client on `conn` until it leaves or the terminal (or
   * stdin pipe) of `req.ns/req.id` is gone.
   */
  async #attach(req: AttachRequest, conn: UnixConnection): Promise<void> {
    const k = key(req.ns, req.id);
    if (this.#stopping || this.#terminals === null || this.#terminals.kind(k) === null) {
      const message = this.#stopping
        ? "monitor is shutting down"
        : `cannot attach to "${req.id}": its terminal is gone (the monitor that held it exited)`;
      await writeMessage(conn, {
        ok: false,
        kind: this.#stopping ? "retry" : "WrongState",
        message,
      })
        .catch(() => {});
      return;
    }
    await writeMessage(conn, { ok: true });
    await this.#terminals.attach(k, conn, new Uint8Array()).catch((err) =>
      this.log(`attach ${k}: ${messageOf(err)}`)
    );
  }

  #create(req: CreateRequest | RestoreRequest): Promise<MonitorReply> {
    const k = key(req.ns, req.id);
    const p = this.#createNow(req);
    this.#creating.set(k, p);
    const forget = () => {
      if (this.#creating.get(k) === p) this.#creating.delete(k);
      this.#reaper.sweep();
    };
    p.then(forget, forget);
    return p;
  }

  async #createNow(req: CreateRequest | RestoreRequest): Promise<MonitorReply> {
    // Everything comes from the monitor's own roots and the container's
    // state (recorded by root under the private root), nothing from the request.
    const s = await this.ctx.store.load(req.ns, req.id);
    const launch = launchPaths(this.ctx, s);
    const imagePath = s.op?.imagePath;
    if (req.op === "restore" && (s.op?.name !== "restore" || imagePath === undefined)) {
      throw new RuntimeError(`restore "${req.id}": no restore recorded in its state`);
    }
    const runtime = new OciRuntime(launch.runtime, this.#runner);
    const target = { root: launch.runtimeRoot, id: req.id, logFile: launch.logFile };
    const io: CreateIo = { stdout: launch.stdout, stderr: launch.stderr };
    const k = key(req.ns, req.id);
    // A terminal's master arrives on a console socket of the monitor's own
    // (in its 0700 directory); a stdin pipe's writing end stays here.
    const holder = req.terminal === true || req.stdin === true ? await this.#holder() : null;
    const consoleSocket = req.terminal === true
      ? (await import("../terminal/mod.ts")).ConsoleSocket.create(
        holder!.lib,
        this.ctx.paths.consoleDir,
      )
      : null;
    let stdin: WritableStream<Uint8Array> | null = null;
    if (consoleSocket !== null) io.consoleSocket = consoleSocket.path;
    if (req.stdin === true && req.terminal !== true) io.onStdin = (w) => (stdin = w);
    let master: number | null = null;
    try {
      await Deno.remove(launch.pidFile).catch(() => {});
      if (req.op === "restore") {
        await runtime.restore(target, launch.bundle, imagePath!, launch.pidFile, io);
      } else if (req.start === true) {
        await runtime.run(target, launch.bundle, launch.pidFile, io);
      } else {
        await runtime.create(target, launch.bundle, launch.pidFile, io);
      }
      if (consoleSocket !== null) master = consoleSocket.receive();
    } catch (err) {
      (stdin as WritableStream<Uint8Array> | null)?.close().catch(() => {});
      throw err;
    } finally {
      consoleSocket?.close();
    }
    // The log path comes from the monitor's own layout, never the request.
    const logs = logFiles(this.ctx.paths.workDir(req.ns, req.id));
    if (master !== null) holder!.holdTerminal(k, master, logs.stdout);
    if (stdin !== null) holder!.holdPipe(k, stdin);
    const pid = Number((await Deno.readTextFile(launch.pidFile)).trim());
    const startTime = startTimeOf(pid);
    if (this.#reaper.watch(req.ns, req.id, pid, startTime) === null) {
      throw new RuntimeError(`${key(req.ns, req.id)}: pid ${pid} is not the container's init`);
    }
    this.#reaper.sweep();
    return { ok: true, pid, startTime };
  }

  /**
   * The reaper noticed `w` exit: remembered, told to a pending `kill`, its
   * stdin pipe released, then recorded (the monitor stays up meanwhile)
   * and told to its waiters.
   */
  #exited(w: Watch, exitCode: number, observed: boolean): void {
    const k = key(w.ns, w.id);
    this.#exits.remember(w, exitCode);
    this.#exits.ended(w);
    for (const resolve of w.reaped) resolve(exitCode);
    // A stdin pipe no client took ends with its container (a terminal ends by itself).
    this.#terminals?.releasePipe(k);
    this.#active++;
    // A real exit code is never dropped: a failed save (a full disk, a
    // busy lock) is retried, with back-off, until it is recorded; the
    // monitor stays up meanwhile and its waiters wait.
    const attempt = (delay: number) => {
      this.#exits.record(w, exitCode, observed).then(() => {
        for (const resolve of w.waiters) resolve(exitCode);
        this.#active--;
        this.#checkIdle();
      }, (err) => {
        this.log(
          `recording exit ${exitCode} of ${w.ns}/${w.id} failed (retry in ${delay} ms): ${
            messageOf(err)
          }`,
        );
        after(delay, () => attempt(Math.min(delay * 2, RECORD_RETRY_MAX_MS)));
      });
    };
    attempt(RECORD_RETRY_MS);
  }

  /** Drops start-up pages once things are quiet (see memory_trim.ts). */
  #scheduleTrim(): void {
    if (this.#trimTimer !== undefined || this.#stopping) return;
    this.#trimTimer = after(TRIM_DELAY_MS, () => {
      this.#trimTimer = undefined;
      if (this.#active > 0) return this.#scheduleTrim();
      (globalThis as { gc?: () => void }).gc?.();
      trimFilePages(this.ctx.libc);
    });
  }

  /** Collects every {@linkcode COLLECT_MS} while any health check runs. */
  #scheduleCollect(): void {
    if (this.#collectTimer !== undefined || this.#stopping) return;
    this.#collectTimer = after(COLLECT_MS, () => {
      this.#collectTimer = undefined;
      // None left: the next watched container arms it again.
      if (this.#exits.healthChecks === 0 || this.#stopping) return;
      collectGarbage();
      // Checks every second keep it from ever being quiet enough for
      // #scheduleTrim: its start-up pages are dropped here too.
      trimFilePages(this.ctx.libc);
      this.#scheduleCollect();
    });
  }

  #cancelIdle(): void {
    this.#idleTimer?.();
    this.#idleTimer = undefined;
  }

  #checkIdle(): void {
    if (this.#stopping || this.#reaper.size > 0 || this.#active > 0) return;
    this.#cancelIdle();
    // A new monitor waits at least STARTUP_GRACE_MS: whoever started it
    // may be slow to connect, and must find it still there.
    const sinceStart = performance.now() - this.#startedAt;
    const wait = Math.max(this.options.idleMs, STARTUP_GRACE_MS - sinceStart);
    this.#idleTimer = after(wait, () => {
      if (this.#reaper.size === 0 && this.#active === 0) this.#shutdown();
    });
  }

  #shutdown(): void {
    this.#stopping = true;
    this.log("idle: exiting");
    this.#reaper.stop();
    this.#exits.stop();
    this.#trimTimer?.();
    this.#collectTimer?.();
    Deno.removeSignalListener("SIGCHLD", this.#onSigchld);
    try {
      Deno.removeSync(this.ctx.paths.monitorSocket);
    } catch { /* gone */ }
    // A client that connected before the socket went gets "retry" (it then
    // starts the next monitor), not a connection dropped unanswered, which
    // it would have to report as "the berth monitor died". The reply is
    // sent before this returns (sends are synchronous).
    this.#answerQueued();
    // Late ones too (see SHUTDOWN_GRACE_MS), and any the accept loop took
    // meanwhile (answered "retry" by #dispatch) before the process ends.
    const deadline = performance.now() + 1000;
    const finish = () => {
      this.#answerQueued();
      if (this.#active > 0 && performance.now() < deadline) {
        after(10, finish);
        return;
      }
      this.#listener?.close();
      this.lock.release();
      this.#done(0);
    };
    after(SHUTDOWN_GRACE_MS, finish);
  }

  /** Answers `retry` to the connections queued on the socket (see #shutdown). */
  #answerQueued(): void {
    for (const conn of this.#listener?.drain() ?? []) {
      writeMessage(conn, { ok: false, kind: "retry", message: "monitor is shutting down" })
        .catch(() => {}).finally(() => conn.close());
    }
  }
}
