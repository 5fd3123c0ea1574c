/**
 * Health checks, run by the monitor for the containers it watches that
 * have one (`--health-cmd`): every interval, `runtime exec ID sh -c CMD`;
 * exit 0 passes. A check still running at its timeout is killed (its
 * process in the container by the pid file, then the runtime) and fails.
 * The verdict: `starting` until the first pass (failures within the start
 * period do not count), `healthy` after a pass, `unhealthy` after
 * `retries` failures in a row. A change is saved in the state (`health`)
 * under the container's lock, held only for that save, and is a
 * `health_status` event.
 *
 * Exits never wait for a check: checks run on their own timers, the exit
 * path only cancels them, and a check that ends after its container has
 * exited is ignored (its verdict is not saved).
 *
 * @module
 */

import { join } from "../_std/path.ts";
import { after } from "../host/clock.ts";
import type { Context } from "../container/context.ts";
import { runtimeTarget, withExistingContainerLock } from "../container/container.ts";
import { emit } from "../container/events.ts";
import { messageOf } from "../host/errors.ts";
import { inCgroup } from "../host/proc.ts";
import type { ProcessRunner } from "../host/process.ts";
import { OciRuntime } from "../host/runtime.ts";
import type { HealthConfig, HealthStatus } from "../container/state_file.ts";

/** Extra time the runtime gets after a check's timeout before it is killed too. */
const RUNTIME_GRACE_MS = 2000;

interface Check {
  ns: string;
  id: string;
  pid: number;
  config: HealthConfig;
  runtime: string;
  status: HealthStatus;
  failures: number;
  startedAt: number;
  cancel: (() => void) | undefined;
  removed: boolean;
}

/** The health checks of the watched containers. */
export class HealthChecks {
  readonly #checks = new Map<string, Check>();

  constructor(
    readonly ctx: Context,
    readonly runner: ProcessRunner,
    readonly log: (msg: string) => void,
  ) {}

  /** Number of containers with a health check. */
  get size(): number {
    return this.#checks.size;
  }

  /**
   * Starts the checks of `ns/id` (init `pid`) if its state has a health
   * check; the verdict starts as the state's (a re-adopted container keeps it).
   */
  async add(ns: string, id: string, pid: number): Promise<void> {
    const s = await this.ctx.store.tryLoad(ns, id).catch(() => null);
    // A container being created is recorded with its pid only after the runtime's create.
    if (s === null || s.healthcheck === undefined || (s.pid !== null && s.pid !== pid)) return;
    const k = `${ns}/${id}`;
    if (this.#checks.get(k)?.pid === pid) return;
    this.remove(ns, id);
    const started = s.startedAt === null || s.pid !== pid ? Date.now() : Date.parse(s.startedAt);
    const c: Check = {
      ns,
      id,
      pid,
      config: s.healthcheck,
      runtime: s.runtime,
      status: s.health ?? "starting",
      failures: 0,
      startedAt: Number.isFinite(started) ? started : Date.now(),
      cancel: undefined,
      removed: false,
    };
    this.#checks.set(k, c);
    this.#schedule(c);
  }

  /** Stops the checks of `ns/id` (its container exited or is gone). */
  remove(ns: string, id: string): void {
    const k = `${ns}/${id}`;
    const c = this.#checks.get(k);
    if (c === undefined) return;
    c.removed = true;
    c.cancel?.();
    this.#checks.delete(k);
  }

  /** Stops every check. */
  stop(): void {
    for (const c of [...this.#checks.values()]) this.remove(c.ns, c.id);
  }

  #schedule(c: Check): void {
    if (c.removed) return;
    c.cancel = after(c.config.intervalMs, () => {
      c.cancel = undefined;
      this.#run(c)
        .catch((err) => this.log(`health check of ${c.ns}/${c.id}: ${messageOf(err)}`))
        .finally(() => this.#schedule(c));
    });
  }

  async #run(c: Check): Promise<void> {
    const s = await this.ctx.store.tryLoad(c.ns, c.id).catch(() => null);
    if (c.removed || s === null || s.pid !== c.pid) return;
    if (s.status !== "running") return; // paused: no check, no verdict
    const passed = await this.#exec(c, s.bundle);
    if (c.removed) return;
    let next = c.status;
    if (passed) {
      c.failures = 0;
      next = "healthy";
    } else if (c.status === "starting" && Date.now() - c.startedAt < c.config.startPeriodMs) {
      // within the start period: does not count
    } else if (++c.failures >= c.config.retries) {
      next = "unhealthy";
    }
    if (next !== c.status) {
      c.status = next;
      await this.#record(c, next);
    }
  }

  /** Runs the command once; true when it exited 0 within its timeout. */
  async #exec(c: Check, bundle: string): Promise<boolean> {
    const pidFile = join(bundle, ".health.pid");
    await Deno.remove(pidFile).catch(() => {});
    let timedOut = false;
    const cgroup = this.ctx.paths.cgroupPath(c.ns, c.id);
    const cancel = after(c.config.timeoutMs, () => {
      timedOut = true;
      try {
        const pid = Number(Deno.readTextFileSync(pidFile).trim());
        // Trust the pid file only for a process in the container's cgroup.
        if (Number.isInteger(pid) && pid > 0 && inCgroup(pid, cgroup)) Deno.kill(pid, "SIGKILL");
      } catch { /* not started yet, or gone */ }
    });
    try {
      const runtime = new OciRuntime(c.runtime, this.runner);
      const code = await runtime.execCheck(
        runtimeTarget(this.ctx, { namespace: c.ns, id: c.id }),
        ["/bin/sh", "-c", c.config.cmd],
        pidFile,
        c.config.timeoutMs + RUNTIME_GRACE_MS,
      );
      return code === 0 && !timedOut;
    } finally {
      cancel();
      await Deno.remove(pidFile).catch(() => {});
    }
  }

  /** Saves the verdict (if the container is still this one and running) and emits the event. */
  async #record(c: Check, status: HealthStatus): Promise<void> {
    await withExistingContainerLock(this.ctx, c.ns, c.id, async () => {
      const s = await this.ctx.store.tryLoad(c.ns, c.id);
      if (c.removed || s === null || s.pid !== c.pid || s.status === "stopped") return;
      if (s.health === status) return;
      s.health = status;
      await this.ctx.store.save(s);
      await emit(this.ctx, "health_status", c.ns, c.id, { health: status });
    }, { timeoutMs: 5_000 });
  }
}
