/**
 * The monitor keeps the logs of the containers it watches under their
 * `--log-max-size` (see host/log_trim.ts): it checks their sizes every
 * {@linkcode TRIM_POLL_MS} while it watches any, and trims each one a
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

/** How often the sizes are checked (one stat per log file). */
export const TRIM_POLL_MS = 200;

interface Entry {
  files: string[];
  maxSize: number;
}

/** Trims the logs of watched containers. */
export class LogTrimmer {
  readonly #entries = new Map<string, Entry>();
  #timer: (() => void) | undefined;

  constructor(readonly ctx: Context, readonly log: (msg: string) => void) {}

  /** Starts keeping the logs of `ns/id` bounded (its cap read from its state). */
  add(ns: string, id: string): void {
    const k = `${ns}/${id}`;
    const logs = logFiles(this.ctx.paths.workDir(ns, id));
    const entry: Entry = { files: [logs.stdout, logs.stderr], maxSize: DEFAULT_LOG_MAX_SIZE };
    this.#entries.set(k, entry);
    this.ctx.store.tryLoad(ns, id).then((s) => {
      if (s?.logMaxSize !== undefined) entry.maxSize = s.logMaxSize;
    }).catch(() => {});
    this.#trim(k, entry);
    this.#schedule();
  }

  /** Trims the logs of `ns/id` a last time and stops watching them. */
  remove(ns: string, id: string): void {
    const k = `${ns}/${id}`;
    const entry = this.#entries.get(k);
    if (entry === undefined) return;
    this.#entries.delete(k);
    this.#trim(k, entry);
    if (this.#entries.size === 0) this.stop();
  }

  /** Cancels the timer. */
  stop(): void {
    this.#timer?.();
    this.#timer = undefined;
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#entries.size === 0) return;
    this.#timer = after(TRIM_POLL_MS, () => {
      this.#timer = undefined;
      for (const [k, e] of this.#entries) this.#trim(k, e);
      this.#schedule();
    });
  }

  #trim(k: string, e: Entry): void {
    for (const f of e.files) {
      try {
        trimLog(f, e.maxSize, this.ctx.libc);
      } catch (err) {
        this.log(`trimming the log of ${k}: ${messageOf(err)}`);
      }
    }
  }
}
