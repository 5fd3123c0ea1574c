/**
 * The monitor's reaper (conmon's `ctr_exit.c`, the watching half): which
 * container inits it watches, reaping its own children by pid on SIGCHLD
 * (never `waitpid(-1)`, which would steal the status of Deno's own
 * children), polling /proc for inits it did not create (re-adopted after a
 * previous monitor died), re-adopting live containers at start, and
 * reaping stray zombies re-parented to it as a child subreaper.
 *
 * It only notices exits; recording them is `exits.ts`.
 *
 * @module
 */

import { isLive } from "../container/container.ts";
import type { Context } from "../container/context.ts";
import { after } from "../host/clock.ts";
import { messageOf } from "../host/errors.ts";
import { ECHILD, ErrnoError } from "../host/libc.ts";
import { inCgroup, liveness, procInfo } from "../host/proc.ts";

/** One container init the monitor watches. */
export interface Watch {
  ns: string;
  id: string;
  pid: number;
  startTime: number | null;
  /** Our child: waitpid works. Otherwise poll /proc. */
  child: boolean;
  /** Told the exit code once it is recorded. */
  waiters: ((code: number) => void)[];
  /** Told the exit code as soon as the process is reaped (see the server's `kill`). */
  reaped: ((code: number) => void)[];
}

/** The `ns/id` key of the monitor's maps. */
export const key = (ns: string, id: string): string => `${ns}/${id}`;

/** What the reaper needs from the server. */
export interface ReaperHost {
  /** Writes a line to monitor.log. */
  log(msg: string): void;
  /** True while a create or restore is under way (see `reapStrays`). */
  creating(): boolean;
  /** A watch was added (the monitor is not idle). */
  watched(w: Watch): void;
  /** `w` exited with `exitCode` (`observed`: reaped, not a synthetic 255). */
  exited(w: Watch, exitCode: number, observed: boolean): void;
}

/** Watches container inits and notices their exits. */
export class Reaper {
  readonly #watches = new Map<string, Watch>();
  /** Pids of processes Deno spawned for us (never reaped by hand). */
  readonly ownChildren = new Set<number>();
  #pollTimer: (() => void) | undefined;
  #stopped = false;

  constructor(
    readonly ctx: Context,
    readonly pollMs: number,
    readonly host: ReaperHost,
  ) {}

  /** Number of watched inits. */
  get size(): number {
    return this.#watches.size;
  }

  /** The watch of `ns/id`, if any. */
  get(k: string): Watch | undefined {
    return this.#watches.get(k);
  }

  /**
   * Watches `pid` as the init of `ns/id`, which it must be: the monitor's
   * child or a process in the container's cgroup (a pid from a file or a
   * request is never trusted otherwise: the monitor SIGKILLs what it
   * watches), or `fromState`: recorded in a state file. Null otherwise.
   */
  watch(
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
      this.host.log(`refused to watch pid ${pid} as ${key(ns, id)}: not its init`);
      return null;
    }
    const w: Watch = { ns, id, pid, startTime, child, waiters: [], reaped: [] };
    this.#watches.set(key(ns, id), w);
    this.host.watched(w);
    this.#updatePolling();
    return w;
  }

  /**
   * Children are reaped on SIGCHLD; only processes that are not our
   * children (re-adopted after a monitor died) need /proc polling. Waking
   * up only then keeps an idle monitor idle.
   */
  #updatePolling(): void {
    const needed = !this.#stopped && [...this.#watches.values()].some((w) => !w.child);
    if (needed && this.#pollTimer === undefined) {
      const tick = () => {
        this.#pollTimer = after(this.pollMs, tick);
        this.sweep();
      };
      this.#pollTimer = after(this.pollMs, tick);
    } else if (!needed && this.#pollTimer !== undefined) {
      this.#pollTimer();
      this.#pollTimer = undefined;
    }
  }

  /** Re-adopts live containers recorded in the root (after a monitor died). */
  async adopt(): Promise<void> {
    for (const ns of await this.ctx.store.namespaces()) {
      for (const s of await this.ctx.store.list(ns, (m) => this.host.log(m))) {
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
          this.watch(ns, s.id, s.pid, s.pidStartTime, true);
          this.host.log(`re-adopted ${ns}/${s.id} (pid ${s.pid})`);
        }
      }
    }
  }

  /** Reaps exited children by pid and notices gone adoptees. */
  sweep(): void {
    for (const w of [...this.#watches.values()]) {
      if (w.child) {
        let result;
        try {
          result = this.ctx.libc.waitpid(w.pid);
        } catch (err) {
          if (err instanceof ErrnoError && err.errno === ECHILD) {
            w.child = false; // not ours after all
            this.#updatePolling();
          } else {
            this.host.log(`waitpid ${w.pid}: ${messageOf(err)}`);
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
    if (this.host.creating()) return;
    let children: number[];
    try {
      children = Deno.readTextFileSync(`/proc/${Deno.pid}/task/${Deno.pid}/children`)
        .trim().split(/\s+/).filter((s) => s !== "").map(Number);
    } catch {
      return;
    }
    for (const pid of children) {
      if (this.ownChildren.has(pid)) continue;
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
    this.host.exited(w, exitCode, observed);
  }

  /** Stops the /proc polling for good (the monitor is exiting). */
  stop(): void {
    this.#stopped = true;
    this.#pollTimer?.();
  }
}
