/**
 * The monitor keeps the logs of the containers it watches under their
 * `--log-max-size` (see host/log_trim.ts). A container writes its log
 * files directly, so the monitor checks their sizes (one stat per file)
 * and trims one that is over its cap. How soon it checks a container again
 * depends on how fast its logs grow: at most {@linkcode TRIM_POLL_MS}
 * later, sooner while a log grows fast (the re-check comes when half the
 * room left under the cap would be used at the rate it grew, not sooner
 * than {@linkcode TRIM_MIN_POLL_MS}), so a fast writer is caught near its
 * cap and an idle one costs five stats a second. Each log is trimmed a
 * last time when its container exits. While no monitor runs (it was
 * killed), nothing trims: the logs grow until the next berth command
 * starts a monitor, which re-adopts the live containers and trims their
 * logs at its first round.
 *
 * A fast writer keeps the checks frequent: a check that finds a log grown
 * by a quarter of its cap since the last one restarts the waits at
 * {@linkcode TRIM_FIRST_POLL_MS} (one check that falls in a pause of a
 * bursty writer no longer stretches the next wait to 200 ms).
 *
 * A writer faster than any check (`yes`, `cat /dev/zero`: hundreds of MB
 * to GBs a second) is held back: a log found over
 * {@linkcode RUNAWAY_FACTOR} times its cap is a runaway, and the monitor
 * freezes the container's cgroup (v1 `freezer.state`, v2 `cgroup.freeze`,
 * as pause does; the recorded status stays `running`), trims, and keeps
 * it frozen for {@linkcode FREEZE_HOLD_MS}. Then it thaws it and watches
 * its logs for {@linkcode WATCH_SLICE_MS} (a look every
 * {@linkcode WATCH_POLL_MS}, synchronously), freezing it again the moment
 * one crosses the runaway mark, and at the end of the slice while it is
 * still writing fast or its last runaway is under {@linkcode THROTTLE_MS}
 * old: a runaway runs only while it is watched. What a log can reach is
 * then the mark plus what the writer gets through before the freeze takes
 * (the monitor's scheduling delay on a loaded host; a single `sendfile`
 * runs to its end: busybox `cat` sends 16 MiB per call).
 *
 * The runtime reports the container paused while it is frozen: a `pause`
 * then is recorded (lib/ops/pause.ts) and the freezer is the user's (the
 * monitor, seeing the pause recorded, leaves it); a checkpoint under way
 * keeps it frozen until it ends; another operation recorded in its state
 * gets it thawed at the end of the hold. `exec` passes runc
 * `--ignore-paused` (the new process waits out the hold). A monitor
 * that exits thaws what it froze; one killed while holding a container
 * frozen leaves it to the next monitor, which thaws a container whose
 * state says `running` with no operation under way.
 *
 * @module
 */

import { after } from "../host/clock.ts";
import type { Context } from "../container/context.ts";
import { logFiles } from "../container/paths.ts";
import { DEFAULT_LOG_MAX_SIZE, trimLog } from "../host/log_trim.ts";
import { messageOf } from "../host/errors.ts";
import { cgroupFrozen, setCgroupFrozen } from "../limits/mod.ts";

/** The longest wait between two checks of a container's logs. */
export const TRIM_POLL_MS = 200;

/** The shortest wait between two checks (a log growing fast, or a trim that has to wait). */
export const TRIM_MIN_POLL_MS = 5;

/**
 * The longest wait after a container's first check: it doubles with each
 * check, up to {@linkcode TRIM_POLL_MS} (a log that grows is checked sooner
 * by its rate, as before), so a container that writes fast from its first
 * instant is caught within tens of ms, not a whole slow round later (at
 * 30 MB/s, 200 ms are 6 MB).
 */
export const TRIM_FIRST_POLL_MS = 5;

/** A log over this many times its cap at a check marks a runaway writer (its container is frozen). */
export const RUNAWAY_FACTOR = 2;

/** How long a runaway writer's container stays frozen after each trim. */
export const FREEZE_HOLD_MS = 10;

/** How long the logs are watched after a thaw (the container runs only while watched). */
export const WATCH_SLICE_MS = 5;

/** How long after its last runaway a container runs only in watched slices. */
export const THROTTLE_MS = 1000;

/** The pause between two looks at the logs while watching (a synchronous nap, no timer). */
export const WATCH_POLL_MS = 0.1;

/** What {@linkcode WATCH_POLL_MS} naps wait on. */
const NAP = new Int32Array(new SharedArrayBuffer(4));

interface LogFile {
  path: string;
  /** Its size at the last check (after that check's trim). */
  size: number;
  /** When it was last checked (performance.now()). */
  at: number;
}

interface Entry {
  ns: string;
  id: string;
  files: LogFile[];
  maxSize: number;
  /** When it is checked next (performance.now()). */
  due: number;
  /** The longest wait after its next check (from TRIM_FIRST_POLL_MS, doubling to TRIM_POLL_MS). */
  quiet: number;
  /** The monitor froze its cgroup (a runaway writer) and has not thawed it yet. */
  frozen: boolean;
  /** A thaw is under way (its state is being read). */
  releasing: boolean;
  /** Until when (performance.now()) it runs only while watched: a second after its last runaway. */
  throttledUntil: number;
}

/** Trims the logs of watched containers. */
export class LogTrimmer {
  readonly #entries = new Map<string, Entry>();
  #timer: (() => void) | undefined;
  /** When the pending timer fires. */
  #timerDue = Infinity;

  constructor(readonly ctx: Context, readonly log: (msg: string) => void) {}

  /** Starts keeping the logs of `ns/id` bounded (its cap read from its state). */
  add(ns: string, id: string): void {
    const k = `${ns}/${id}`;
    const logs = logFiles(this.ctx.paths.workDir(ns, id));
    const now = performance.now();
    const entry: Entry = {
      ns,
      id,
      files: [logs.stdout, logs.stderr].map((path) => ({ path, size: 0, at: now })),
      maxSize: DEFAULT_LOG_MAX_SIZE,
      due: now,
      quiet: TRIM_FIRST_POLL_MS,
      frozen: false,
      releasing: false,
      throttledUntil: 0,
    };
    this.#entries.set(k, entry);
    this.ctx.store.tryLoad(ns, id).then((s) => {
      if (s?.logMaxSize !== undefined) entry.maxSize = s.logMaxSize;
      // Frozen while its state says running with no operation: a monitor that
      // was killed while it held it frozen left it so.
      const cgroup = this.ctx.paths.cgroupPath(ns, id);
      if (
        s?.status === "running" && s.op === null && !entry.frozen && cgroupFrozen(cgroup) === true
      ) {
        setCgroupFrozen(cgroup, false);
        this.log(`thawed ${k}: left frozen by a monitor that ended while it held its log back`);
      }
    }).catch(() => {});
    this.#check(k, entry, now);
    this.#schedule();
  }

  /** Trims the logs of `ns/id` a last time and stops watching them. */
  remove(ns: string, id: string): void {
    const k = `${ns}/${id}`;
    const entry = this.#entries.get(k);
    if (entry === undefined) return;
    this.#entries.delete(k);
    this.#thaw(entry);
    this.#check(k, entry, performance.now());
    if (this.#entries.size === 0) this.#cancel();
  }

  /** Cancels the timer and thaws every container the trimmer holds frozen (the monitor is exiting). */
  stop(): void {
    for (const e of this.#entries.values()) this.#thaw(e);
    this.#cancel();
  }

  /** Cancels the timer. */
  #cancel(): void {
    this.#timer?.();
    this.#timer = undefined;
    this.#timerDue = Infinity;
  }

  /** (Re)arms the timer for the earliest due entry. */
  #schedule(): void {
    let due = Infinity;
    for (const e of this.#entries.values()) due = Math.min(due, e.due);
    if (due === Infinity) return this.#cancel();
    if (this.#timer !== undefined && this.#timerDue <= due) return;
    this.#cancel();
    this.#timerDue = due;
    this.#timer = after(Math.max(0, due - performance.now()), () => {
      this.#timer = undefined;
      this.#timerDue = Infinity;
      const now = performance.now();
      // Entries due within half a slow round are checked now too, so containers added at
      // different times share one wake-up instead of one each.
      for (const [k, e] of this.#entries) {
        if (e.frozen) {
          if (e.due <= now) this.#release(k, e);
        } else if (e.due <= now + TRIM_POLL_MS / 2) this.#check(k, e, now);
      }
      this.#schedule();
    });
  }

  /**
   * Checks (and trims) the logs of `k`, and sets when to check them next;
   * a runaway's container is frozen first, and checked again when its hold ends.
   */
  #check(k: string, e: Entry, now: number): void {
    let wait = e.quiet;
    e.quiet = Math.min(TRIM_POLL_MS, e.quiet * 2);
    if (!e.frozen && this.#entries.has(k) && this.#runaway(e)) {
      e.throttledUntil = now + THROTTLE_MS;
      this.#freeze(k, e);
    }
    for (const f of e.files) {
      let size = 0;
      let grown = 0;
      try {
        size = Deno.statSync(f.path).size;
        grown = Math.max(0, size - f.size);
        if (size > e.maxSize) {
          const r = trimLog(f.path, e.maxSize, this.ctx.libc);
          if (r !== null) size -= r.dropped;
        }
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) {
          this.log(`trimming the log of ${k}: ${messageOf(err)}`);
        }
      }
      const rate = grown / Math.max(1, now - f.at); // bytes per ms since the last check
      f.size = size;
      f.at = now;
      const room = e.maxSize - size;
      // Over the cap still (a reader held the trim lock): try again soon.
      if (room <= 0) wait = TRIM_MIN_POLL_MS;
      else if (rate > 0) wait = Math.min(wait, room / rate / 2);
      // A fast writer (a quarter of the cap since the last check) keeps the checks
      // frequent: one check that catches it idle must not stretch the next wait.
      if (grown * 4 > e.maxSize) e.quiet = TRIM_FIRST_POLL_MS;
    }
    e.due = e.frozen ? now + FREEZE_HOLD_MS : now + Math.max(TRIM_MIN_POLL_MS, wait);
  }

  /** The sizes of `e`'s logs (0: not there). */
  #sizes(e: Entry): number[] {
    return e.files.map((f) => {
      try {
        return Deno.statSync(f.path).size;
      } catch {
        return 0;
      }
    });
  }

  /** Whether a log of `e` is over {@linkcode RUNAWAY_FACTOR} times its cap. */
  #runaway(e: Entry): boolean {
    return this.#sizes(e).some((size) => size > RUNAWAY_FACTOR * e.maxSize);
  }

  /** Freezes `e`'s cgroup, unless it is frozen already (a pause: not the trimmer's to thaw). */
  #freeze(k: string, e: Entry): void {
    const cgroup = this.ctx.paths.cgroupPath(e.ns, e.id);
    if (cgroupFrozen(cgroup) !== false) return;
    if (setCgroupFrozen(cgroup, true)) e.frozen = true;
    else this.log(`cannot freeze ${k} to hold its log back`);
  }

  /** Thaws `e`'s cgroup if the trimmer froze it. */
  #thaw(e: Entry): void {
    if (!e.frozen) return;
    e.frozen = false;
    setCgroupFrozen(this.ctx.paths.cgroupPath(e.ns, e.id), false);
  }

  /**
   * The hold of `e` is over: unless a pause is recorded (the freezer is then
   * the user's, or will be), thaw it and watch its logs for
   * {@linkcode WATCH_SLICE_MS} without sleeping, freezing it again the moment
   * one crosses the runaway mark.
   */
  #release(k: string, e: Entry): void {
    if (e.releasing) return;
    e.releasing = true;
    e.due = Infinity;
    this.ctx.store.tryLoad(e.ns, e.id).catch(() => null).then((s) => {
      e.releasing = false;
      if (!this.#entries.has(k) || !e.frozen) return;
      if (s?.status === "paused" || s?.op?.name === "pause" || s?.op?.name === "checkpoint") {
        // Paused meanwhile: the freezer is the user's now (or will be once the
        // pause is recorded; its runtime call failed on a frozen container).
        // A checkpoint under way freezes the container itself: not thawed under it.
        if (s.status === "paused") e.frozen = false;
        else e.due = performance.now() + FREEZE_HOLD_MS;
        if (!e.frozen) this.#check(k, e, performance.now());
        return this.#schedule();
      }
      const before = this.#sizes(e);
      this.#thaw(e);
      const mark = RUNAWAY_FACTOR * e.maxSize;
      const end = performance.now() + WATCH_SLICE_MS;
      let crossed = false;
      let grown = 0;
      while (!crossed && performance.now() < end) {
        Atomics.wait(NAP, 0, 0, WATCH_POLL_MS);
        const now = this.#sizes(e);
        crossed = now.some((size) => size > mark);
        grown = now.reduce((sum, size, i) => sum + Math.max(0, size - before[i]!), 0);
      }
      // Held back again at the end of the slice while it is a runaway: it crossed
      // the mark again, wrote a quarter of its cap in the slice, or crossed it
      // less than THROTTLE_MS ago; else the normal checks resume, soon at first.
      const now = performance.now();
      if (crossed) e.throttledUntil = now + THROTTLE_MS;
      if (crossed || grown > e.maxSize / 4 || now < e.throttledUntil) this.#freeze(k, e);
      else e.quiet = TRIM_MIN_POLL_MS;
      this.#check(k, e, performance.now());
      this.#schedule();
    });
  }
}
