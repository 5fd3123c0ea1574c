/**
 * The monitor's side of interactive containers. It holds:
 *
 * - the master of every `-t` container's pseudo-terminal, for the
 *   container's whole life: what the container writes is appended to its
 *   stdout log and copied to every attached client; what clients type is
 *   written to the master; their window size is set on it;
 * - the writing end of the stdin pipe of a foreground `run -i` container
 *   (without `-t`): its one client's input goes there, and its end (or the
 *   client going away) closes it, which the container reads as EOF.
 *
 * Per master: its descriptor, the log file's descriptor, one small object,
 * and a slot in the one shared `poll(2)` (see `poller.ts`); one read
 * buffer serves all masters. A client that falls more than
 * {@linkcode CLIENT_BACKLOG} bytes behind is disconnected rather than
 * buffered without bound, and never slows the container down.
 *
 * @module
 */

import { POLLIN, POLLOUT, type TerminalLibc } from "./_ffi.ts";
import { decodeResize, FRAME, FrameReader } from "./_frames.ts";
import { Poller } from "./_poller.ts";
import type { StreamConn } from "../host/unix_server.ts";

/** Output a slow client may have pending before it is disconnected. */
export const CLIENT_BACKLOG = 1 << 20;

interface Client {
  conn: StreamConn;
  pending: number;
  chain: Promise<void>;
  closed: boolean;
}

interface Held {
  kind: "terminal";
  key: string;
  fd: number;
  log: Deno.FsFile | null;
  clients: Set<Client>;
  /** Serializes writes of client input to the master. */
  input: Promise<void>;
  done: Promise<void>;
}

interface Pipe {
  kind: "pipe";
  writer: WritableStreamDefaultWriter<Uint8Array>;
  attached: boolean;
}

/** Why an attach was refused. */
export class AttachRefused extends Error {}

/** The terminals and stdin pipes of one monitor. */
export class TerminalHolder {
  readonly #held = new Map<string, Held | Pipe>();
  readonly #buf = new Uint8Array(16384);
  readonly #poller: Poller;

  constructor(readonly lib: TerminalLibc, readonly log: (msg: string) => void) {
    this.#poller = new Poller(lib);
  }

  /** Number of masters held. */
  get terminals(): number {
    let n = 0;
    for (const h of this.#held.values()) if (h.kind === "terminal") n++;
    return n;
  }

  /** What is held for `key`: "terminal", "pipe", or null. */
  kind(key: string): "terminal" | "pipe" | null {
    return this.#held.get(key)?.kind ?? null;
  }

  /**
   * Holds master `fd` of container `key` (replacing an older one of the
   * same key), appending its output to `logPath`.
   */
  holdTerminal(key: string, fd: number, logPath: string): void {
    this.release(key);
    let log: Deno.FsFile | null = null;
    try {
      log = Deno.openSync(logPath, { append: true, create: true, mode: 0o600 });
    } catch (err) {
      this.log(`terminal of ${key}: cannot open its log: ${(err as Error).message}`);
    }
    const h: Held = {
      kind: "terminal",
      key,
      fd,
      log,
      clients: new Set(),
      input: Promise.resolve(),
      done: Promise.resolve(),
    };
    this.#held.set(key, h);
    h.done = this.#pump(key, h);
  }

  /** Holds the writing end of container `key`'s stdin pipe. */
  holdPipe(key: string, stdin: WritableStream<Uint8Array>): void {
    this.release(key);
    this.#held.set(key, { kind: "pipe", writer: stdin.getWriter(), attached: false });
  }

  /** Closes the stdin pipe of `key`, if that is what is held (its container exited). */
  releasePipe(key: string): void {
    if (this.#held.get(key)?.kind === "pipe") this.release(key);
  }

  /** Closes what is held for `key`: its clients see the end. */
  release(key: string): void {
    const h = this.#held.get(key);
    if (h === undefined) return;
    this.#held.delete(key);
    if (h.kind === "pipe") {
      h.writer.close().catch(() => {});
      return;
    }
    this.#poller.cancel(h.fd);
  }

  /**
   * Serves attached client `conn` of container `key` until it leaves or
   * the terminal (or pipe) ends. `rest` are bytes the client already sent.
   * Throws {@linkcode AttachRefused} when nothing is held for `key`.
   */
  async attach(key: string, conn: StreamConn, rest: Uint8Array): Promise<void> {
    const h = this.#held.get(key);
    if (h === undefined) throw new AttachRefused("no terminal is held for it");
    if (h.kind === "pipe") {
      if (h.attached) throw new AttachRefused("its stdin is already attached");
      h.attached = true;
      try {
        await this.#readFrames(conn, rest, async (type, payload) => {
          if (type === FRAME.eof) return false;
          if (type !== FRAME.input) return true;
          // The container may have closed its stdin (or exited): the end, not an error.
          return await h.writer.write(payload).then(() => true, () => false);
        });
      } finally {
        // The client's end, or its going away, is the container's EOF.
        if (this.#held.get(key) === h) this.release(key);
      }
      return;
    }
    const client: Client = { conn, pending: 0, chain: Promise.resolve(), closed: false };
    h.clients.add(client);
    const ended = h.done.then(() => "ended" as const);
    const reading = this.#readFrames(conn, rest, (type, payload) => {
      if (type === FRAME.input) {
        h.input = h.input.then(() => this.#writeMaster(h, payload));
      } else if (type === FRAME.resize) {
        const size = decodeResize(payload);
        // Never on a descriptor closed (and perhaps reused) since.
        if (size !== null && size.rows > 0 && size.cols > 0 && this.#held.get(key) === h) {
          try {
            this.lib.setWindowSize(h.fd, size);
          } catch { /* the terminal is gone */ }
        }
      }
      return Promise.resolve(true);
    });
    await Promise.race([reading.catch(() => {}), ended]);
    h.clients.delete(client);
    await client.chain;
    this.#closeClient(client);
  }

  /** Reads frames from `conn` until it ends, `handle` returns false, or an error. */
  async #readFrames(
    conn: StreamConn,
    rest: Uint8Array,
    handle: (type: number, payload: Uint8Array) => Promise<boolean>,
  ): Promise<void> {
    const reader = new FrameReader();
    const buf = new Uint8Array(8192);
    let bytes: Uint8Array = rest;
    for (;;) {
      for (const f of reader.push(bytes)) {
        if (!(await handle(f.type, f.payload))) return;
      }
      const n = await conn.read(buf).catch(() => null);
      if (n === null) return;
      bytes = buf.subarray(0, n);
    }
  }

  async #writeMaster(h: Held, data: Uint8Array): Promise<void> {
    while (data.length > 0 && this.#held.get(h.key) === h) {
      let n: number;
      try {
        n = this.lib.write(h.fd, data);
      } catch {
        return; // the terminal is gone
      }
      if (n > 0) data = data.subarray(n);
      else if ((await this.#poller.wait(h.fd, POLLOUT)) === 0) return;
    }
  }

  /** Copies the master's output to the log and the clients until it ends. */
  async #pump(key: string, h: Held): Promise<void> {
    try {
      for (;;) {
        const revents = await this.#poller.wait(h.fd, POLLIN);
        if (revents === 0) break; // released
        let n: number | null;
        try {
          n = this.lib.read(h.fd, this.#buf);
        } catch (err) {
          this.log(`terminal of ${key}: ${(err as Error).message}`);
          break;
        }
        if (n === null) continue;
        if (n === 0) break; // EIO: every slave descriptor is closed
        const chunk = this.#buf.slice(0, n);
        try {
          h.log?.writeSync(chunk);
        } catch { /* log full or gone: the clients still get it */ }
        for (const c of h.clients) this.#send(c, chunk);
      }
    } finally {
      if (this.#held.get(key) === h) this.#held.delete(key);
      this.#poller.cancel(h.fd);
      this.lib.close(h.fd);
      try {
        h.log?.close();
      } catch { /* closed */ }
    }
  }

  #send(c: Client, chunk: Uint8Array): void {
    if (c.closed) return;
    if (c.pending + chunk.length > CLIENT_BACKLOG) {
      this.#closeClient(c); // too slow: it is dropped, the container is not held up
      return;
    }
    c.pending += chunk.length;
    c.chain = c.chain.then(async () => {
      let rest = chunk;
      while (rest.length > 0 && !c.closed) {
        try {
          rest = rest.subarray(await c.conn.write(rest));
        } catch {
          this.#closeClient(c);
        }
      }
      c.pending -= chunk.length;
    });
  }

  #closeClient(c: Client): void {
    if (c.closed) return;
    c.closed = true;
    try {
      c.conn.close();
    } catch { /* closed */ }
  }
}
