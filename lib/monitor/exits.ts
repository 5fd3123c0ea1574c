/**
 * The monitor's exits (conmon's `ctr_exit.c`, the recording half): an
 * exit noticed by the reaper is remembered for late `wait`s, recorded in
 * the container's state under its lock (with the `exit` and `oom` events),
 * and then acted on: an `--rm` container is deleted, a restart policy
 * restarts it after its back-off (a failed restart is recorded and tried
 * again, backing off further). What deleting and restarting mean is not
 * the monitor's to know: the command that starts it passes them in
 * ({@linkcode ExitActions}, conmon's `--exit-command`). While a container runs, its logs are kept
 * under their cap (log_trimmer.ts) and its health check runs (health.ts);
 * both stop when it exits, without delaying the exit's recording.
 *
 * @module
 */

import { applyExit, withExistingContainerLock } from "../container/container.ts";
import type { Context } from "../container/context.ts";
import { emit } from "../container/events.ts";
import type { ContainerState } from "../container/state_file.ts";
import { after } from "../host/clock.ts";
import { messageOf } from "../host/errors.ts";
import type { ProcessRunner } from "../host/process.ts";
import { OciRuntime, type Runtime } from "../host/runtime.ts";
import type { CreateRequest, MonitorReply } from "./protocol.ts";
import { key, type Watch } from "./reaper.ts";
import { OomEvents } from "./oom.ts";
import { HealthChecks } from "./health.ts";
import { LogTrimmer } from "./log_trimmer.ts";

/** A run this long resets the restart back-off. */
const RESTART_RESET_MS = 10_000;

/** How long the monitor remembers an exit after recording it. */
const RECENT_MS = 60_000;

/** Back-off before restart number `count + 1`: 100 ms doubling, at most 10 s. */
export function restartDelay(count: number): number {
  return Math.min(100 * 2 ** count, 10_000);
}

/** True when the restart policy of the stopped `s` asks for a restart. */
export function shouldRestart(s: ContainerState): boolean {
  if (s.restartSuppressed || s.autoRemove || s.status !== "stopped") return false;
  // unless-stopped is always: berth's stop ends every policy's loop (restartSuppressed).
  return s.restart === "always" || s.restart === "unless-stopped" ||
    (s.restart === "on-failure" && s.exitCode !== 0);
}

/**
 * What the monitor does with an exit (conmon's `--exit-command`): given by
 * the command that starts it, so the monitor imports no operation. Both
 * are called under the container's lock with its state loaded.
 */
export interface ExitActions {
  /** Deletes the stopped `--rm` container `s`. */
  remove(ctx: Context, s: ContainerState): Promise<void>;
  /**
   * Restarts the stopped `s` by its policy, as restart number `count`;
   * `runtime` runs as the monitor's child and `launch` is the monitor's
   * own create. Throws when it failed; `s` is then stopped, without an op.
   */
  restart(
    ctx: Context,
    s: ContainerState,
    count: number,
    runtime: Runtime,
    launch: (req: CreateRequest) => Promise<MonitorReply>,
  ): Promise<void>;
}

/** What the exits need from the server. */
export interface ExitsHost {
  /** Writes a line to monitor.log. */
  log(msg: string): void;
  /** Work started: the monitor stays up until the matching `leave`. */
  enter(): void;
  /** Work ended (the monitor may go idle). */
  leave(): void;
  /** Runs the runtime's create (or `run` with `start`) through the server. */
  create(req: CreateRequest): Promise<MonitorReply>;
}

/** Records exits and applies `--rm` and restart policies. */
export class Exits {
  /** Exits recorded in the last {@linkcode RECENT_MS}, by `ns/id`. */
  readonly #recent = new Map<string, { pid: number; exitCode: number; at: number }>();

  /** Keeps the watched containers' logs under their caps. */
  readonly #logs: LogTrimmer;
  /** Runs the watched containers' health checks. */
  readonly #health: HealthChecks;
  /** Reports OOM kills in running containers. */
  readonly #oom: OomEvents;
  /** Exits (`ns/id/pid`) whose cgroup counted an OOM kill not reported yet. */
  readonly #oomAtExit = new Set<string>();

  constructor(
    readonly ctx: Context,
    readonly runner: ProcessRunner,
    readonly host: ExitsHost,
    readonly actions: ExitActions,
  ) {
    this.#logs = new LogTrimmer(ctx, (m) => host.log(m));
    this.#health = new HealthChecks(ctx, runner, (m) => host.log(m));
    this.#oom = new OomEvents(ctx, (m) => host.log(m));
  }

  /** A container init is watched: keep its logs bounded, run its health check. */
  watched(w: Watch): void {
    this.#logs.add(w.ns, w.id);
    this.#oom.add(w.ns, w.id, w.pid);
    this.#health.add(w.ns, w.id, w.pid)
      .catch((err) => this.host.log(`health check of ${key(w.ns, w.id)}: ${messageOf(err)}`));
  }

  /** Its init exited: no more checks (one under way is ignored), a last trim of its logs. */
  ended(w: Watch): void {
    this.#health.remove(w.ns, w.id);
    this.#logs.remove(w.ns, w.id);
    if (this.#oom.remove(w.ns, w.id)) this.#oomAtExit.add(`${key(w.ns, w.id)}/${w.pid}`);
  }

  /** Number of watched containers with a health check. */
  get healthChecks(): number {
    return this.#health.size;
  }

  /** The monitor is exiting: cancel the timers. */
  stop(): void {
    this.#health.stop();
    this.#logs.stop();
    this.#oom.stop();
  }

  /** The exit of `k` remembered from the last minute, if any. */
  recent(k: string): { pid: number; exitCode: number } | undefined {
    return this.#recent.get(k);
  }

  /** Remembers an exit for a while, for a `wait` that comes after an `--rm` delete. */
  remember(w: Watch, exitCode: number): void {
    this.#recent.set(key(w.ns, w.id), { pid: w.pid, exitCode, at: this.ctx.clock.monotonic() });
    this.#pruneRecent();
  }

  /** Records the exit of `w` in its state, then applies `--rm` or the restart policy. */
  async record(w: Watch, exitCode: number, observed: boolean): Promise<void> {
    const ctx = this.ctx;
    const oomKey = `${key(w.ns, w.id)}/${w.pid}`;
    const oom = this.#oomAtExit.delete(oomKey);
    await withExistingContainerLock(ctx, w.ns, w.id, async () => {
      const s = await ctx.store.tryLoad(w.ns, w.id);
      if (s === null || s.pid !== w.pid) return; // deleted, or a new container with that ID
      if (applyExit(s, exitCode, observed, ctx.clock.now())) {
        await ctx.store.save(s);
        await emit(ctx, "exit", s.namespace, s.id, { exitCode: s.exitCode, observed });
        if (oom) await emit(ctx, "oom", s.namespace, s.id);
      }
      if (s.autoRemove && s.status === "stopped") await this.actions.remove(ctx, s);
      else if (shouldRestart(s)) this.#scheduleRestart(s);
    }, { timeoutMs: 60_000 });
  }

  /**
   * Restarts `s` after its back-off; the monitor stays up meanwhile. The
   * back-off counts from `attempt` when given (a retry after a failed
   * restart), else from the restarts so far (reset by a run of 10 s).
   */
  #scheduleRestart(s: ContainerState, attempt?: number): void {
    const ranMs = s.startedAt !== null && s.exitedAt !== null
      ? Date.parse(s.exitedAt) - Date.parse(s.startedAt)
      : 0;
    const count = attempt ?? (ranMs >= RESTART_RESET_MS ? 0 : s.restartCount ?? 0);
    const delay = restartDelay(count);
    const k = key(s.namespace, s.id);
    this.host.enter();
    this.host.log(`restarting ${k} in ${delay} ms (restart ${count + 1})`);
    after(delay, () => {
      this.#restart(s.namespace, s.id, count)
        .catch((err) => this.#restartFailed(s.namespace, s.id, count, err))
        .catch((err) => this.host.log(`recording the failed restart of ${k}: ${messageOf(err)}`))
        .finally(() => this.host.leave());
    });
  }

  async #restart(ns: string, id: string, count: number): Promise<void> {
    const ctx = this.ctx;
    await withExistingContainerLock(ctx, ns, id, async () => {
      const s = await ctx.store.tryLoad(ns, id);
      if (s === null || s.status !== "stopped" || s.op !== null || !shouldRestart(s)) return;
      const runtime = new OciRuntime(s.runtime, this.runner);
      await this.actions.restart(ctx, s, count + 1, runtime, (req) => this.host.create(req));
    });
  }

  /**
   * Restart number `count + 1` failed: the reason is kept in the state
   * (`restartError`) and a `restart_failed` event, and it is tried again
   * after a longer back-off, for as long as the policy asks for it.
   */
  async #restartFailed(ns: string, id: string, count: number, err: unknown): Promise<void> {
    const ctx = this.ctx;
    const message = messageOf(err);
    this.host.log(`restart of ${key(ns, id)} failed: ${message}`);
    await withExistingContainerLock(ctx, ns, id, async () => {
      const s = await ctx.store.tryLoad(ns, id);
      if (s === null || s.status !== "stopped" || s.op !== null) return;
      s.restartError = message;
      await ctx.store.save(s);
      await emit(ctx, "restart_failed", ns, id, { restart: count + 1, error: message });
      if (shouldRestart(s)) this.#scheduleRestart(s, count + 1);
    });
  }

  #pruneRecent(): void {
    const cutoff = this.ctx.clock.monotonic() - RECENT_MS;
    for (const [k, v] of this.#recent) if (v.at < cutoff) this.#recent.delete(k);
  }
}
