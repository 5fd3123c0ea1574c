/**
 * The monitor's exits (conmon's `ctr_exit.c`, the recording half): an
 * exit noticed by the reaper is remembered for late `wait`s, recorded in
 * the container's state under its lock (with the `exit` and `oom` events),
 * and then acted on: an `--rm` container is deleted, a restart policy
 * restarts it after its back-off. While a container runs, its logs are kept
 * under their cap (log_trimmer.ts) and its health check runs (health.ts);
 * both stop when it exits, without delaying the exit's recording.
 *
 * @module
 */

import {
  applyExit,
  opRecord,
  runtimeTarget,
  withExistingContainerLock,
} from "../container/container.ts";
import type { Context } from "../container/context.ts";
import { emit } from "../container/events.ts";
import type { ContainerState } from "../container/state_file.ts";
import { after } from "../host/clock.ts";
import { messageOf } from "../host/errors.ts";
import type { ProcessRunner } from "../host/process.ts";
import { OciRuntime } from "../host/runtime.ts";
import { deleteLocked } from "../ops/delete.ts";
import { setStatus } from "../container/status.ts";
import { launchRequest } from "./client.ts";
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
  return s.restart === "always" || (s.restart === "on-failure" && s.exitCode !== 0);
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
    this.host.enter();
    this.host.log(`restarting ${s.namespace}/${s.id} in ${delay} ms (restart ${count + 1})`);
    after(delay, () => {
      this.#restart(s.namespace, s.id, count)
        .catch((err) =>
          this.host.log(`restart of ${s.namespace}/${s.id} failed: ${messageOf(err)}`)
        )
        .finally(() => this.host.leave());
    });
  }

  async #restart(ns: string, id: string, count: number): Promise<void> {
    const ctx = this.ctx;
    await withExistingContainerLock(ctx, ns, id, async () => {
      const s = await ctx.store.tryLoad(ns, id);
      if (s === null || s.status !== "stopped" || s.op !== null || !shouldRestart(s)) return;
      const target = runtimeTarget(ctx, s);
      const runtime = new OciRuntime(s.runtime, this.runner);
      s.op = opRecord(ctx, "start"); // an interrupted restart is settled like a start
      await ctx.store.save(s);
      await runtime.delete(target, true);
      // Create and start in one runtime call (`runtime run --detach`).
      const reply = await this.host.create({ op: "create", start: true, ...launchRequest(s) });
      if (!reply.ok) throw new Error(reply.message);
      setStatus(s, "running", ctx.clock.now()); // clears the last exit, stamps startedAt
      Object.assign(s, {
        pid: reply.pid ?? null,
        pidStartTime: reply.startTime ?? null,
        ...(s.healthcheck !== undefined ? { health: "starting" } : {}),
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
}
