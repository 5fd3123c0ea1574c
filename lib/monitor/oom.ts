/**
 * OOM kills of running containers. The kernel counts them per memory
 * cgroup (`oom_kill` in v1 `memory.oom_control`, v2 `memory.events`; see
 * limits/_cgroup.ts). The monitor reads the count of each watched container
 * every {@linkcode OOM_POLL_MS} (one small read), so a process the kernel
 * kills inside a container that goes on running is an `oom` event too, and
 * once more when the container exits (its init may have been the victim).
 * Each increase is one event; a kill is never reported twice.
 *
 * (runc 1.1.5 here: reading the count works on v1 and v2; the v1
 * `cgroup.event_control` eventfd would need an eventfd and a blocking read
 * per container on a thread of its own, for the same information.)
 *
 * @module
 */

import type { Context } from "../container/context.ts";
import { emit } from "../container/events.ts";
import { after } from "../host/clock.ts";
import { messageOf } from "../host/errors.ts";
import { liveness } from "../host/proc.ts";
import { oomKills } from "../limits/mod.ts";

interface Seen {
  pid: number;
  /** The count last reported. */
  reported: number;
  /** A higher count seen at the last poll, not reported yet (null: none). */
  pending: number | null;
}

/** How often the counts are read while containers run. */
export const OOM_POLL_MS = 1000;

/** Watches the OOM-kill counts of running containers. */
export class OomEvents {
  /** Per watched container, by `ns/id`. */
  readonly #seen = new Map<string, Seen>();
  #timer: (() => void) | undefined;

  constructor(readonly ctx: Context, readonly log: (msg: string) => void) {}

  /** Starts watching `ns/id`, init `pid` (kills counted before now are not reported). */
  add(ns: string, id: string, pid: number): void {
    this.#seen.set(`${ns}/${id}`, { pid, reported: this.#count(ns, id), pending: null });
    this.#schedule();
  }

  /**
   * Stops watching `ns/id`; resolves to true when its cgroup counted a kill
   * not reported yet (the caller emits it with the exit, in order).
   */
  remove(ns: string, id: string): boolean {
    const k = `${ns}/${id}`;
    const reported = this.#seen.get(k)?.reported ?? 0;
    this.#seen.delete(k);
    if (this.#seen.size === 0) this.stop();
    return this.#count(ns, id) > reported;
  }

  /** Cancels the timer. */
  stop(): void {
    this.#timer?.();
    this.#timer = undefined;
  }

  #count(ns: string, id: string): number {
    return oomKills(this.ctx.paths.cgroupPath(ns, id));
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#seen.size === 0) return;
    this.#timer = after(OOM_POLL_MS, () => {
      this.#timer = undefined;
      for (const [k, seen] of this.#seen) {
        const [ns, id] = k.split("/") as [string, string];
        // A kill is reported at the poll after the one that saw it, if the
        // init still runs then: a killed init is the exit's to report (after
        // its exit event), never both.
        if (seen.pending !== null && liveness(seen.pid, null) === "alive") {
          seen.reported = seen.pending;
          emit(this.ctx, "oom", ns, id, { running: true })
            .catch((err) => this.log(`oom event of ${k}: ${messageOf(err)}`));
        }
        const now = this.#count(ns, id);
        seen.pending = now > seen.reported ? now : null;
      }
      this.#schedule();
    });
  }
}
