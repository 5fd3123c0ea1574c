/**
 * Waits for many descriptors with one `poll(2)` at a time on Deno's
 * blocking thread pool, so a process holding any number of terminal
 * masters uses one pool thread for all of them. An eventfd wakes the
 * pending poll whenever the set of descriptors changes. Nothing is pending
 * (and the event loop may end) while no one waits.
 *
 * @module
 */

import { POLLERR, POLLHUP, POLLNVAL, type TerminalLibc } from "./_ffi.ts";

interface Waiter {
  fd: number;
  events: number;
  resolve: (revents: number) => void;
}

/** One-shot readiness waits on descriptors. */
export class Poller {
  readonly #waiters = new Set<Waiter>();
  #wake = -1;
  #running = false;
  #loopDone: Promise<void> = Promise.resolve();

  constructor(readonly lib: TerminalLibc) {}

  /**
   * Resolves with the poll(2) `revents` of `fd` once one of `events` (or
   * an error or hang-up) is reported, or with 0 once {@linkcode cancel}led.
   */
  wait(fd: number, events: number): Promise<number> {
    return new Promise((resolve) => {
      this.#waiters.add({ fd, events, resolve });
      this.#kick();
    });
  }

  /** Ends every wait on `fd` (they resolve with 0); call before closing it. */
  cancel(fd: number): void {
    for (const w of [...this.#waiters]) {
      if (w.fd === fd) {
        this.#waiters.delete(w);
        w.resolve(0);
      }
    }
    this.#kick();
  }

  #kick(): void {
    if (this.#running) {
      // Interrupt the pending poll: it restarts with the new set.
      this.lib.write(this.#wake, new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]));
      return;
    }
    if (this.#waiters.size === 0) return;
    if (this.#wake < 0) this.#wake = this.lib.eventFd();
    this.#running = true;
    this.#loopDone = this.#loop();
  }

  /** Resolves once no poll is pending (nothing is waited for any more). */
  idle(): Promise<void> {
    return this.#loopDone;
  }

  async #loop(): Promise<void> {
    const drain = new Uint8Array(8);
    try {
      while (this.#waiters.size > 0) {
        const list = [...this.#waiters];
        const fds = new Uint8Array(8 * (list.length + 1));
        const v = new DataView(fds.buffer);
        v.setInt32(0, this.#wake, true);
        v.setInt16(4, 1, true); // POLLIN
        list.forEach((w, i) => {
          v.setInt32(8 * (i + 1), w.fd, true);
          v.setInt16(8 * (i + 1) + 4, w.events, true);
        });
        const n = await this.lib.poll(fds, list.length + 1, -1);
        if (n <= 0) continue; // EINTR
        if (v.getInt16(6, true) !== 0) this.lib.read(this.#wake, drain);
        list.forEach((w, i) => {
          const revents = v.getInt16(8 * (i + 1) + 6, true);
          if (revents === 0 || !this.#waiters.has(w)) return;
          if ((revents & (w.events | POLLERR | POLLHUP | POLLNVAL)) === 0) return;
          this.#waiters.delete(w);
          w.resolve(revents);
        });
      }
    } finally {
      this.#running = false;
    }
  }
}
