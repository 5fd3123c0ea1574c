/**
 * The monitor: one long-lived berth process per root (hidden command
 * `__monitor`). It runs the runtime's `create` itself and is a child
 * subreaper, so every container init it creates is re-parented to it; it
 * reaps them by pid on SIGCHLD (never `waitpid(-1)`, which would steal the
 * status of Deno's own children) and records exit codes in the state files
 * under the containers' locks. Containers it did not create (re-adopted
 * after a previous monitor died) are polled in /proc; their exits cannot
 * be observed and are recorded as 255.
 *
 * It holds `monitor.lock` for its whole life, serves `monitor.sock` (0600),
 * and exits once no container is live and no request is under way for
 * `idleMs`. Containers never depend on it: if it is killed they keep running
 * and the next berth command starts a new one.
 *
 * @module
 */

import {
  applyExit,
  isLive,
  launchRequest,
  opRecord,
  runtimeTarget,
  withContainerLock,
} from "../container/container.ts";
import { after } from "../host/clock.ts";
import type { Context } from "../container/context.ts";
import { BerthError, messageOf, RuntimeError } from "../host/errors.ts";
import { ErrnoError } from "../host/libc.ts";
import { FileLock } from "../host/lock.ts";
import {
  type AttachRequest,
  type CreateRequest,
  type KillRequest,
  type MonitorReply,
  type MonitorRequest,
  readMessage,
  type RestoreRequest,
  writeMessage,
} from "./monitor_protocol.ts";
import { deleteLocked, REAP_TIMEOUT_MS } from "../ops/delete.ts";
import type { ProcessRunner } from "../host/process.ts";
import { trimFilePages } from "../host/memory_trim.ts";
import { emit } from "../container/events.ts";
import { inCgroup, liveness, procInfo, startTimeOf } from "../host/proc.ts";
import { type CreateIo, OciRuntime } from "../host/runtime.ts";
import type { ContainerState } from "../container/state_file.ts";
import { logFiles } from "../container/paths.ts";
import type { TerminalHolder } from "../terminal/holder.ts";

/** Options of {@linkcode runMonitor}. */
export interface MonitorOptions {
  /** Exit after this long with nothing to watch. Default 2000 ms (env BERTH_MONITOR_IDLE_MS). */
  idleMs: number;
  /** Period of the /proc sweep for processes it cannot wait for. Default 250 ms. */
  pollMs: number;
}

interface Watch {
  ns: string;
  id: string;
  pid: number;
  startTime: number | null;
  /** Our child: waitpid works. Otherwise poll /proc. */
  child: boolean;
  /** Told the exit code once it is recorded. */
  waiters: ((code: number) => void)[];
  /** Told the exit code as soon as the process is reaped (see `kill`). */
  reaped: ((code: number) => void)[];
}

const key = (ns: string, id: string) => `${ns}/${id}`;

/** How long a new monitor stays up even with nothing to do. */
const STARTUP_GRACE_MS = 1500;

/** Quiet time before the monitor trims its start-up pages. */
const TRIM_DELAY_MS = 1000;

/** A run this long resets the restart back-off. */
const RESTART_RESET_MS = 10_000;

/** Back-off before restart number `count + 1`: 100 ms doubling, at most 10 s. */
export function restartDelay(count: number): number {
  return Math.min(100 * 2 ** count, 10_000);
}

/** True when the restart policy of the stopped `s` asks for a restart. */
export function shouldRestart(s: ContainerState): boolean {
  if (s.restartSuppressed || s.autoRemove || s.status !== "stopped") return false;
  return s.restart === "always" || (s.restart === "on-failure" && s.exitCode !== 0);
}

/** How long the monitor remembers an exit after recording it. */
const RECENT_MS = 60_000;

/**
 * OOM kills the kernel counted in the container's memory cgroup (v1 or
 * v2; see `Paths.cgroupPath`); 0 when unknown.
 */
function oomKills(cgroup: string): number {
  for (
    const f of [
      `/sys/fs/cgroup/memory${cgroup}/memory.oom_control`,
      `/sys/fs/cgroup${cgroup}/memory.events`,
    ]
  ) {
    try {
      const m = /^oom_kill (\d+)$/m.exec(Deno.readTextFileSync(f));
      if (m !== null) return Number(m[1]);
    } catch { /* not this layout */ }
  }
  return 0;
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
  const deadline = ctx.clock.monotonic() + 5_000;
  for (;;) {
    const lock = await FileLock.tryAcquire(ctx.paths.monitorLock);
    if (lock !== null) return lock;
    // A live monitor that still listens serves the root: leave it be.
    try {
      const conn = await Deno.connect({ transport: "unix", path: ctx.paths.monitorSocket });
      conn.close();
      return null;
    } catch { /* it is exiting: wait for its lock */ }
    if (ctx.clock.monotonic() >= deadline) return null;
    await ctx.clock.sleep(10);
  }
}

class Monitor {
  readonly #watches = new Map<string, Watch>();
  /** Pids of processes Deno spawned for us (never reaped by hand). */
  readonly #ownChildren = new Set<number>();
  /** Runtime creates under way, by `ns/id`. */
  readonly #creating = new Map<string, Promise<MonitorReply>>();
  /** Exits recorded in the last {@linkcode RECENT_MS}, by `ns/id`. */
  readonly #recent = new Map<string, { pid: number; exitCode: number; at: number }>();
  #active = 0;
  #stopping = false;
  readonly #startedAt = performance.now();
  /** Cancels the pending timer, if any (see `after` in clock.ts). */
  #idleTimer: (() => void) | undefined;
  #pollTimer: (() => void) | undefined;
  #trimTimer: (() => void) | undefined;
  #listener: Deno.UnixListener | null = null;
  /** Masters of `-t` containers and stdin pipes (loaded with the first). */
  #terminals: TerminalHolder | null = null;
  #done!: (code: number) => void;
  readonly #runner: ProcessRunner;

  constructor(readonly ctx: Context, readonly options: MonitorOptions, readonly lock: FileLock) {
    const inner = ctx.runner;
    const own = this.#ownChildren;
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
    this.#listener = Deno.listen({ transport: "unix", path: this.ctx.paths.monitorSocket });
    await Deno.chmod(this.ctx.paths.monitorSocket, 0o600);
    Deno.addSignalListener("SIGCHLD", this.#onSigchld);
    this.log("started");
    await this.#adopt();
    this.#acceptLoop(this.#listener);
    this.#checkIdle();
    this.#scheduleTrim();
    return await done;
  }

  #onSigchld = () => this.#sweep();

  async #acceptLoop(listener: Deno.UnixListener): Promise<void> {
    try {
      for await (const conn of listener) this.#handle(conn);
    } catch (err) {
      if (!this.#stopping) this.log(`accept failed: ${messageOf(err)}`);
    }
  }

  async #handle(conn: Deno.Conn): Promise<void> {
    this.#active++;
    this.#cancelIdle();
    this.#scheduleTrim();
    try {
      const req = await readMessage<MonitorRequest>(conn);
      if (req === null) return;
      if (req.op === "attach") return await this.#attach(req, conn);
      const reply = await this.#dispatch(req);
      await writeMessage(conn, reply).catch(() => {});
    } catch (err) {
      this.log(`request failed: ${messageOf(err)}`);
    } finally {
      try {
        conn.close();
      } catch { /* closed */ }
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
          if (this.#watch(req.ns, req.id, req.pid, req.startTime) === null) {
            return { ok: false, kind: "NotFound", message: `pid ${req.pid} is not in ${req.id}` };
          }
          return { ok: true };
        case "kill":
          return await this.#killInit(req);
        case "delete":
          await new OciRuntime(req.runtime, this.#runner).delete(
            { root: req.runtimeRoot, id: req.id, logFile: req.logFile },
            true,
          );
          return { ok: true };
        case "wait": {
          const k = key(req.ns, req.id);
          let w = this.#watches.get(k);
          const past = this.#recent.get(k);
          if (w === undefined && past !== undefined && (req.pid === null || past.pid === req.pid)) {
            return { ok: true, watched: true, exitCode: past.exitCode };
          }
          if (w === undefined && req.pid !== null) {
            w = this.#watch(req.ns, req.id, req.pid, req.startTime) ?? undefined;
            this.#sweep();
          }
          if (w === undefined) return { ok: true, watched: false };
          const watch = w;
          const exitCode = await new Promise<number>((resolve) => watch.waiters.push(resolve));
          return { ok: true, watched: true, exitCode };
        }
      }
    } catch (err) {
      const kind = err instanceof BerthError ? err.name : "RuntimeError";
      return { ok: false, kind, message: messageOf(err) };
    }
  }

  /** The terminal holder, loaded on first use (most monitors never need it). */
  async #holder(): Promise<TerminalHolder> {
    if (this.#terminals === null) {
      const { TerminalHolder } = await import("../terminal/holder.ts");
      const { terminalLibc } = await import("../terminal/ffi.ts");
      this.#terminals ??= new TerminalHolder(terminalLibc, (m) => this.log(m));
    }
    return this.#terminals;
  }

  /**
   * Serves an attach client on `conn` until it leaves or the terminal (or
   * stdin pipe) of `req.ns/req.id` is gone.
   */
  async #attach(req: AttachRequest, conn: Deno.Conn): Promise<void> {
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

  /**
   * SIGKILLs the init of `req.ns/req.id` and replies once it is reaped.
   * Our own child cannot be confused with another process: its pid stays
   * ours until we reap it. An adoptee is checked against its start time
   * and then polled.
   */
  async #killInit(req: KillRequest): Promise<MonitorReply> {
    const k = key(req.ns, req.id);
    const w = this.#watches.get(k);
    if (w === undefined || w.pid !== req.pid) {
      const past = this.#recent.get(k);
      if (past !== undefined && past.pid === req.pid) return { ok: true, exitCode: past.exitCode };
      return { ok: false, kind: "NotFound", message: `${k}: pid ${req.pid} is not watched` };
    }
    let settle!: (code: number | null) => void;
    const reaped = new Promise<number | null>((resolve) => (settle = resolve));
    w.reaped.push(settle);
    let expired = false;
    const cancel = after(REAP_TIMEOUT_MS, () => {
      expired = true;
      settle(null);
    });
    try {
      if (w.child || liveness(w.pid, w.startTime) !== "gone") {
        try {
          Deno.kill(w.pid, "SIGKILL");
        } catch { /* it exited meanwhile: the sweep reaps it */ }
      }
      this.#sweep();
      // An adoptee's exit is noticed by polling /proc; poll briskly here.
      for (
        let delay = 1;
        !w.child && !expired && this.#watches.get(k) === w;
        delay = Math.min(delay * 2, 10)
      ) {
        await this.ctx.clock.sleep(delay);
        this.#sweep();
      }
      const exitCode = await reaped;
      if (exitCode === null) {
        throw new RuntimeError(`${k}: its init (pid ${w.pid}) did not die`);
      }
      return { ok: true, exitCode };
    } finally {
      cancel();
    }
  }

  #create(req: CreateRequest | RestoreRequest): Promise<MonitorReply> {
    const k = key(req.ns, req.id);
    const p = this.#createNow(req);
    this.#creating.set(k, p);
    const forget = () => {
      if (this.#creating.get(k) === p) this.#creating.delete(k);
      this.#sweep();
    };
    p.then(forget, forget);
    return p;
  }

  async #createNow(req: CreateRequest | RestoreRequest): Promise<MonitorReply> {
    const runtime = new OciRuntime(req.runtime, this.#runner);
    const target = { root: req.runtimeRoot, id: req.id, logFile: req.logFile };
    const io: CreateIo = { stdout: req.stdout, stderr: req.stderr };
    const k = key(req.ns, req.id);
    // A terminal's master arrives on a console socket of the monitor's own
    // (in its 0700 directory); a stdin pipe's writing end stays here.
    const holder = req.terminal === true || req.stdin === true ? await this.#holder() : null;
    const consoleSocket = req.terminal === true
      ? (await import("../terminal/console_socket.ts")).ConsoleSocket.create(
        holder!.lib,
        this.ctx.paths.consoleDir,
      )
      : null;
    let stdin: WritableStream<Uint8Array> | null = null;
    if (consoleSocket !== null) io.consoleSocket = consoleSocket.path;
    if (req.stdin === true && req.terminal !== true) io.onStdin = (w) => (stdin = w);
    let master: number | null = null;
    try {
      await Deno.remove(req.pidFile).catch(() => {});
      if (req.op === "restore") {
        await runtime.restore(target, req.bundle, req.imagePath, req.pidFile, io);
      } else if (req.start === true) {
        await runtime.run(target, req.bundle, req.pidFile, io);
      } else {
        await runtime.create(target, req.bundle, req.pidFile, io);
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
    const pid = Number((await Deno.readTextFile(req.pidFile)).trim());
    const startTime = startTimeOf(pid);
    if (this.#watch(req.ns, req.id, pid, startTime) === null) {
      throw new RuntimeError(`${key(req.ns, req.id)}: pid ${pid} is not the container's init`);
    }
    this.#sweep();
    return { ok: true, pid, startTime };
  }

  /**
   * Watches `pid` as the init of `ns/id`, which it must be: the monitor's
   * child or a process in the container's cgroup (a pid from a file or a
   * request is never trusted otherwise: the monitor SIGKILLs what it
   * watches), or `fromState`: recorded in a state file. Null otherwise.
   */
  #watch(
    ns: string,
    id: string,
    pid: number,
    startTime: number | null,
    fromState = false,
  ): Watch | null {
    if (!Number.isInteger(pid) || pid <= 0) return null;
    const info = procInfo(pid);
    const child = info !== null && info.ppid === Deno.pid;
    if (!child && !fromState && !inCgroup(pid, this.ctx.paths.cgroupPath(ns, id))) {
      this.log(`refused to watch pid ${pid} as ${key(ns, id)}: not its init`);
      return null;
    }
    const w: Watch = { ns, id, pid, startTime, child, waiters: [], reaped: [] };
    this.#watches.set(key(ns, id), w);
    this.#cancelIdle();
    this.#updatePolling();
    return w;
  }

  /**
   * Children are reaped on SIGCHLD; only processes that are not our
   * children (re-adopted after a monitor died) need /proc polling. Waking
   * up only then keeps an idle monitor idle.
   */
  #updatePolling(): void {
    const needed = !this.#stopping && [...this.#watches.values()].some((w) => !w.child);
    if (needed && this.#pollTimer === undefined) {
      const tick = () => {
        this.#pollTimer = after(this.options.pollMs, tick);
        this.#sweep();
      };
      this.#pollTimer = after(this.options.pollMs, tick);
    } else if (!needed && this.#pollTimer !== undefined) {
      this.#pollTimer();
      this.#pollTimer = undefined;
    }
  }

  /** Re-adopts live containers recorded in the root (after a monitor died). */
  async #adopt(): Promise<void> {
    for (const ns of await this.ctx.store.namespaces()) {
      for (const s of await this.ctx.store.list(ns, (m) => this.log(m))) {
        if (!isLive(s) || s.pid === null || this.#watches.has(key(ns, s.id))) continue;
        if (liveness(s.pid, s.pidStartTime) === "gone") {
          this.#finish(
            {
              ns,
              id: s.id,
              pid: s.pid,
              startTime: s.pidStartTime,
              child: false,
              waiters: [],
              reaped: [],
            },
            255,
            false,
          );
        } else {
          // From a state file under the private root, checked against its start time.
          this.#watch(ns, s.id, s.pid, s.pidStartTime, true);
          this.log(`re-adopted ${ns}/${s.id} (pid ${s.pid})`);
        }
      }
    }
  }

  /** Reaps exited children by pid and notices gone adoptees. */
  #sweep(): void {
    for (const w of [...this.#watches.values()]) {
      if (w.child) {
        let result;
        try {
          result = this.ctx.libc.waitpid(w.pid);
        } catch (err) {
          if (err instanceof ErrnoError && err.errno === 10) {
            w.child = false; // ECHILD: not ours after all
            this.#updatePolling();
          } else {
            this.log(`waitpid ${w.pid}: ${messageOf(err)}`);
          }
          continue;
        }
        if (result !== null) this.#finish(w, result.exitCode, true);
      } else if (liveness(w.pid, w.startTime) === "gone") {
        this.#finish(w, 255, false);
      }
    }
    this.#reapStrays();
  }

  /**
   * Orphans other than container inits can be re-parented to a subreaper;
   * reap those zombies too, but never a process Deno spawned for us.
   */
  #reapStrays(): void {
    // A create or restore under way may have a container init that already
    // exited but is not watched yet (its pid file is being read): it is no
    // stray. Strays wait for the sweep after the create finishes.
    if (this.#creating.size > 0) return;
    let children: number[];
    try {
      children = Deno.readTextFileSync(`/proc/${Deno.pid}/task/${Deno.pid}/children`)
        .trim().split(/\s+/).filter((s) => s !== "").map(Number);
    } catch {
      return;
    }
    for (const pid of children) {
      if (this.#ownChildren.has(pid)) continue;
      if ([...this.#watches.values()].some((w) => w.pid === pid)) continue;
      if (procInfo(pid)?.state !== "Z") continue;
      try {
        this.ctx.libc.waitpid(pid);
      } catch { /* raced with Deno's own reaper */ }
    }
  }

  #finish(w: Watch, exitCode: number, observed: boolean): void {
    const k = key(w.ns, w.id);
    if (this.#watches.get(k) === w) this.#watches.delete(k);
    this.#updatePolling();
    // Remembered for a while, for a `wait` that comes after an `--rm` delete.
    this.#recent.set(k, { pid: w.pid, exitCode, at: this.ctx.clock.monotonic() });
    this.#pruneRecent();
    for (const resolve of w.reaped) resolve(exitCode);
    // A stdin pipe no client took ends with its container (a terminal ends by itself).
    this.#terminals?.releasePipe(k);
    this.#active++;
    this.#record(w, exitCode, observed)
      .catch((err) => this.log(`recording exit of ${w.ns}/${w.id}: ${messageOf(err)}`))
      .finally(() => {
        for (const resolve of w.waiters) resolve(exitCode);
        this.#active--;
        this.#checkIdle();
      });
  }

  async #record(w: Watch, exitCode: number, observed: boolean): Promise<void> {
    const ctx = this.ctx;
    await withContainerLock(ctx, w.ns, w.id, async () => {
      const s = await ctx.store.tryLoad(w.ns, w.id);
      if (s === null || s.pid !== w.pid) return; // deleted, or a new container with that ID
      if (applyExit(s, exitCode, observed, ctx.clock.now())) {
        await ctx.store.save(s);
        await emit(ctx, "exit", s.namespace, s.id, { exitCode: s.exitCode, observed });
        if (oomKills(ctx.paths.cgroupPath(s.namespace, s.id)) > 0) {
          await emit(ctx, "oom", s.namespace, s.id);
        }
      }
      if (s.autoRemove && s.status === "stopped") await deleteLocked(ctx, s, true);
      else if (shouldRestart(s)) this.#scheduleRestart(s);
    }, { timeoutMs: 60_000 });
  }

  /** Restarts `s` after its back-off; the monitor stays up meanwhile. */
  #scheduleRestart(s: ContainerState): void {
    const ranMs = s.startedAt !== null && s.exitedAt !== null
      ? Date.parse(s.exitedAt) - Date.parse(s.startedAt)
      : 0;
    const count = ranMs >= RESTART_RESET_MS ? 0 : s.restartCount ?? 0;
    const delay = restartDelay(count);
    this.#active++;
    this.log(`restarting ${s.namespace}/${s.id} in ${delay} ms (restart ${count + 1})`);
    after(delay, () => {
      this.#restart(s.namespace, s.id, count)
        .catch((err) => this.log(`restart of ${s.namespace}/${s.id} failed: ${messageOf(err)}`))
        .finally(() => {
          this.#active--;
          this.#checkIdle();
        });
    });
  }

  async #restart(ns: string, id: string, count: number): Promise<void> {
    const ctx = this.ctx;
    await withContainerLock(ctx, ns, id, async () => {
      const s = await ctx.store.tryLoad(ns, id);
      if (s === null || s.status !== "stopped" || s.op !== null || !shouldRestart(s)) return;
      const target = runtimeTarget(ctx, s);
      const runtime = new OciRuntime(s.runtime, this.#runner);
      s.op = opRecord(ctx, "start"); // an interrupted restart is settled like a start
      await ctx.store.save(s);
      await runtime.delete(target, true);
      // Create and start in one runtime call (`runtime run --detach`).
      const reply = await this.#create({ op: "create", start: true, ...launchRequest(ctx, s) });
      if (!reply.ok) throw new Error(reply.message);
      Object.assign(s, {
        status: "running",
        pid: reply.pid ?? null,
        pidStartTime: reply.startTime ?? null,
        startedAt: ctx.clock.now().toISOString(),
        exitCode: null,
        exitedAt: null,
        exitObserved: false,
        restartCount: count + 1,
        op: null,
      });
      await ctx.store.save(s);
      await emit(ctx, "start", ns, id, { restart: count + 1 });
    });
  }

  #pruneRecent(): void {
    const cutoff = this.ctx.clock.monotonic() - RECENT_MS;
    for (const [k, v] of this.#recent) if (v.at < cutoff) this.#recent.delete(k);
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

  #cancelIdle(): void {
    this.#idleTimer?.();
    this.#idleTimer = undefined;
  }

  #checkIdle(): void {
    if (this.#stopping || this.#watches.size > 0 || this.#active > 0) return;
    this.#cancelIdle();
    // A new monitor waits at least STARTUP_GRACE_MS: whoever started it
    // may be slow to connect, and must find it still there.
    const sinceStart = performance.now() - this.#startedAt;
    const wait = Math.max(this.options.idleMs, STARTUP_GRACE_MS - sinceStart);
    this.#idleTimer = after(wait, () => {
      if (this.#watches.size === 0 && this.#active === 0) this.#shutdown();
    });
  }

  #shutdown(): void {
    this.#stopping = true;
    this.log("idle: exiting");
    this.#pollTimer?.();
    this.#trimTimer?.();
    Deno.removeSignalListener("SIGCHLD", this.#onSigchld);
    try {
      Deno.removeSync(this.ctx.paths.monitorSocket);
    } catch { /* gone */ }
    this.#listener?.close();
    this.lock.release();
    this.#done(0);
  }
}
