/**
 * The user's side of an interactive session: berth's stdin goes to the
 * container (`-i`), the container's terminal output to berth's stdout
 * (`-t`), berth's own terminal is raw while both are asked for and is
 * restored on every way out (see `raw_mode.ts`), and the window size is
 * sent at the start and again on every SIGWINCH. `Ctrl-P Ctrl-Q` detaches
 * where the other end outlives the session (a terminal the monitor holds).
 *
 * The other end is a {@linkcode TerminalEnd}: a connection to the monitor
 * ({@linkcode MonitorEnd}) or a master this process holds ({@linkcode MasterEnd},
 * `exec -t`).
 *
 * @module
 */

import { POLLIN, POLLOUT, type TerminalLibc, type WindowSize } from "./_ffi.ts";
import { encodeFrame, FRAME, resizeFrame } from "./_frames.ts";
import type { Poller } from "./_poller.ts";
import { enterRawMode } from "./_raw_mode.ts";

/** Ctrl-P, then Ctrl-Q: detach (as docker and podman). */
const CTRL_P = 0x10;
const CTRL_Q = 0x11;

/** The other end of a session. */
export interface TerminalEnd {
  /** Passes on bytes the user typed. */
  input(data: Uint8Array): Promise<void>;
  /** Passes on the user's window size. */
  resize(size: WindowSize): Promise<void>;
  /** The user's input ended. */
  endInput(): Promise<void>;
  /** Calls `out` with each piece of terminal output; resolves once the terminal is gone. */
  output(out: (bytes: Uint8Array) => void): Promise<void>;
  /** Lets go of the other end. */
  close(): void;
}

/** A connection to the monitor, after it accepted an `attach` request. */
export class MonitorEnd implements TerminalEnd {
  #chain: Promise<void> = Promise.resolve();

  /** `rest`: output bytes that arrived with the reply. */
  constructor(readonly conn: Deno.Conn, readonly rest: Uint8Array) {}

  #send(bytes: Uint8Array): Promise<void> {
    this.#chain = this.#chain.then(async () => {
      let b = bytes;
      while (b.length > 0) b = b.subarray(await this.conn.write(b));
    }).catch(() => {});
    return this.#chain;
  }

  input(data: Uint8Array): Promise<void> {
    return this.#send(encodeFrame(FRAME.input, data));
  }
  resize(size: WindowSize): Promise<void> {
    return this.#send(resizeFrame(size.rows, size.cols));
  }
  endInput(): Promise<void> {
    return this.#send(encodeFrame(FRAME.eof));
  }
  async output(out: (bytes: Uint8Array) => void): Promise<void> {
    if (this.rest.length > 0) out(this.rest);
    const buf = new Uint8Array(16384);
    for (;;) {
      const n = await this.conn.read(buf).catch(() => null);
      if (n === null) return;
      out(buf.subarray(0, n));
    }
  }
  close(): void {
    try {
      this.conn.close();
    } catch { /* closed */ }
  }
}

/** A master this process holds (non-blocking). */
export class MasterEnd implements TerminalEnd {
  #closed = false;

  constructor(readonly lib: TerminalLibc, readonly poller: Poller, readonly fd: number) {}

  async input(data: Uint8Array): Promise<void> {
    while (data.length > 0 && !this.#closed) {
      let n: number;
      try {
        n = this.lib.write(this.fd, data);
      } catch {
        return;
      }
      if (n > 0) data = data.subarray(n);
      else if ((await this.poller.wait(this.fd, POLLOUT)) === 0) return;
    }
  }
  resize(size: WindowSize): Promise<void> {
    try {
      if (!this.#closed) this.lib.setWindowSize(this.fd, size);
    } catch { /* gone */ }
    return Promise.resolve();
  }
  endInput(): Promise<void> {
    return Promise.resolve();
  }
  async output(out: (bytes: Uint8Array) => void): Promise<void> {
    const buf = new Uint8Array(16384);
    while (!this.#closed) {
      if ((await this.poller.wait(this.fd, POLLIN)) === 0) return;
      const n = this.lib.read(this.fd, buf);
      if (n === null) continue;
      if (n === 0) return;
      out(buf.subarray(0, n));
    }
  }
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.poller.cancel(this.fd);
    this.lib.close(this.fd);
  }
}

/** What a session does. */
export interface SessionOptions {
  lib: TerminalLibc;
  poller: Poller;
  end: TerminalEnd;
  /** `-i`: berth's stdin goes to the other end. */
  input: boolean;
  /** `-t`: the other end is a terminal whose output is shown. */
  tty: boolean;
  /** Ctrl-P Ctrl-Q detaches (the other end outlives the session). */
  detachKeys: boolean;
  /** Where output goes (berth's stdout). */
  out: (bytes: Uint8Array) => void;
  /** Without `tty`: the session lasts until this settles. */
  until?: Promise<unknown>;
  /** Ends the session at once (as a detach) when it settles. */
  interrupt?: Promise<unknown>;
}

/** The user's window size (stdin's terminal, else stdout's), or null. */
export function userWindowSize(lib: TerminalLibc): WindowSize | null {
  for (const fd of [0, 1]) {
    const size = lib.isatty(fd) ? lib.getWindowSize(fd) : null;
    if (size !== null && size.rows > 0 && size.cols > 0) return size;
  }
  return null;
}

/**
 * Runs a session until the terminal is gone ("ended"), `until` settles
 * ("ended"), or the user detaches ("detached"). Lets go of the other end.
 */
export async function runSession(o: SessionOptions): Promise<"ended" | "detached"> {
  const { lib, poller, end } = o;
  const out = (bytes: Uint8Array) => {
    try {
      o.out(bytes);
    } catch { /* berth's stdout is gone (its terminal closed): the session goes on */ }
  };
  const restore = o.tty && o.input && lib.isatty(0) ? enterRawMode(lib, 0) : () => {};
  const onWinch = () => {
    const size = userWindowSize(lib);
    if (size !== null) void end.resize(size);
  };
  let detached!: () => void;
  const detach = new Promise<"detached">((resolve) => (detached = () => resolve("detached")));
  let stopInput = false;
  try {
    if (o.tty) {
      const size = userWindowSize(lib);
      if (size !== null) await end.resize(size);
      if (size !== null) Deno.addSignalListener("SIGWINCH", onWinch);
    }
    const pumping = o.input ? pumpInput(o, () => stopInput, detached) : null;
    const done = o.tty
      ? end.output(out).then(() => "ended" as const)
      : (o.until ?? new Promise<never>(() => {})).then(() => "ended" as const, () =>
        "ended" as const);
    const interrupted = o.interrupt?.then(() => "detached" as const, () => "detached" as const);
    // The input pump is not waited for: a write the other end never takes
    // must not hold up the end (it stops at its next step, or with berth).
    pumping?.catch(() => {});
    return await Promise.race([done, detach, ...(interrupted ? [interrupted] : [])]);
  } finally {
    stopInput = true;
    poller.cancel(0);
    if (o.tty) Deno.removeSignalListener("SIGWINCH", onWinch);
    restore();
    end.close();
  }
}

/** Copies berth's stdin to the other end, watching for Ctrl-P Ctrl-Q. */
async function pumpInput(
  o: SessionOptions,
  stopped: () => boolean,
  detached: () => void,
): Promise<void> {
  const { lib, poller, end } = o;
  const buf = new Uint8Array(8192);
  let heldCtrlP = false;
  while (!stopped()) {
    if ((await poller.wait(0, POLLIN)) === 0 || stopped()) return;
    let n: number | null;
    try {
      n = lib.read(0, buf);
    } catch {
      n = 0;
    }
    if (n === null) continue;
    if (n === 0) {
      await end.endInput();
      return;
    }
    let bytes = buf.slice(0, n);
    if (o.detachKeys) {
      const out: number[] = [];
      for (const b of bytes) {
        if (heldCtrlP) {
          heldCtrlP = false;
          if (b === CTRL_Q) {
            if (out.length > 0) await end.input(new Uint8Array(out));
            detached();
            return;
          }
          out.push(CTRL_P);
        }
        if (b === CTRL_P) heldCtrlP = true;
        else out.push(b);
      }
      bytes = new Uint8Array(out);
    }
    if (bytes.length > 0) await end.input(bytes);
  }
}
