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
 * @module
 */

import { after } from "../host/clock.ts";
import type { Context } from "../container/context.ts";
import { logFiles } from "../container/paths.ts";
import { DEFAULT_LOG_MAX_SIZE, trimLog } from "../host/log_trim.ts";
import { messageOf } from "../host/errors.ts";

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
export const TRIM_FIRST_POLL_MS = 20;

interface LogFile {
  path: string;
  /** Its size at the last check (after that check's trim). */
  size: number;
  /** When it was last checked (performance.now()). */
  at: number;
}

interface Entry {
  files: LogFile[];
  maxSize: number;
  /** When it is checked next (performance.now()). */
  due: number;
  /** The longest wait after its next check (from TRIM_FIRST_POLL_MS, doubling to TRIM_POLL_MS). */
  quiet: number;
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
      files: [logs.stdout, logs.stderr].map((path) => ({ path, size: 0, at: now })),
      maxSize: DEFAULT_LOG_MAX_SIZE,
      due: now,
      quiet: TRIM_FIRST_POLL_MS,
    };
    this.#entries.set(k, entry);
    this.ctx.store.tryLoad(ns, id).then((s) => {
      if (s?.logMaxSize !== undefined) entry.maxSize = s.logMaxSize;
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
    this.#check(k, entry, performance.now());
    if (this.#entries.size === 0) this.stop();
  }

  /** Cancels the timer. */
  stop(): void {
    this.#timer?.();
    this.#timer = undefined;
    this.#timerDue = Infinity;
  }

  /** (Re)arms the timer for the earliest due entry. */
  #schedule(): void {
    let due = Infinity;
    for (const e of this.#entries.values()) due = Math.min(due, e.due);
    if (due === Infinity) return this.stop();
    if (this.#timer !== undefined && this.#timerDue <= due) return;
    this.stop();
    this.#timerDue = due;
    this.#timer = after(Math.max(0, due - performance.now()), () => {
      this.#timer = undefined;
      this.#timerDue = Infinity;
      const now = performance.now();
      // Entries due within half a slow round are checked now too, so containers added at
      // different times share one wake-up instead of one each.
      for (const [k, e] of this.#entries) {
        if (e.due <= now + TRIM_POLL_MS / 2) this.#check(k, e, now);
      }
      this.#schedule();
    });
  }

  /** Checks (and trims) the logs of `k`, and sets when to check them next. */
  #check(k: string, e: Entry, now: number): void {
    let wait = e.quiet;
    e.quiet = Math.min(TRIM_POLL_MS, e.quiet * 2);
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
    }
    e.due = now + Math.max(TRIM_MIN_POLL_MS, wait);
  }
}
