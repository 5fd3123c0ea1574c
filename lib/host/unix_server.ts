/**
 * A unix stream socket server through libc FFI, for the monitor: unlike
 * `Deno.listen` it knows each connection's descriptor, so it can ask the
 * kernel who the peer is (`SO_PEERCRED`), and it never leaves the socket
 * open to anyone between `bind` and a `chmod` (berth's umask is 077 when
 * it binds, see cli.ts).
 *
 * Every call but `poll` is synchronous on the calling thread, so errno read
 * right after it belongs to it; sockets are non-blocking and `poll` waits
 * for them on Deno's blocking thread pool (`nonblocking: true`), with a
 * timeout: that is the per-connection read deadline.
 *
 * @module
 */

import { errno, ErrnoError, libcGroup } from "./libc.ts";

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
const SHUT_RDWR = 2;
const MSG_NOSIGNAL = 0x4000;
const POLLIN = 0x1;
const POLLOUT = 0x4;
const EINTR = 4;
const EAGAIN = 11;

/** errno of "too many open files" (per process, system-wide). */
export const EMFILE = 24;
/** errno of "too many open files in system". */
export const ENFILE = 23;

/** The socket calls (bound on first use). */
const sym = libcGroup({
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  accept4: { parameters: ["i32", "pointer", "pointer", "i32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
});

interface Waiter {
  fd: number;
  events: number;
  /** performance.now() deadline, or Infinity. */
  deadline: number;
  resolve: (ready: boolean) => void;
}

/**
 * All waits of the process share one `poll(2)` at a time on one pool
 * thread (however many connections wait), woken through an eventfd when
 * the set changes: a slow client never holds a thread, and never delays
 * the accept loop.
 */
class SharedPoller {
  readonly #waiters = new Set<Waiter>();
  #wake = -1;
  #running = false;

  wait(fd: number, events: number, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const deadline = timeoutMs < 0 ? Infinity : performance.now() + timeoutMs;
      this.#waiters.add({ fd, events, deadline, resolve });
      this.#kick();
    });
  }

  #kick(): void {
    if (this.#running) {
      const one = new Uint8Array(8);
      one[0] = 1;
      sym().write(this.#wake, one, 8n);
      return;
    }
    if (this.#waiters.size === 0) return;
    if (this.#wake < 0) {
      this.#wake = sym().eventfd(0, SOCK_NONBLOCK | SOCK_CLOEXEC); // EFD_* = SOCK_* values
      if (this.#wake < 0) throw new ErrnoError("eventfd", errno());
    }
    this.#running = true;
    void this.#loop();
  }

  async #loop(): Promise<void> {
    const drain = new Uint8Array(8);
    try {
      while (this.#waiters.size > 0) {
        const list = [...this.#waiters];
        const fds = new Uint8Array(8 * (list.length + 1));
        const v = new DataView(fds.buffer);
        v.setInt32(0, this.#wake, true);
        v.setInt16(4, POLLIN, true);
        let deadline = Infinity;
        list.forEach((w, i) => {
          v.setInt32(8 * (i + 1), w.fd, true);
          v.setInt16(8 * (i + 1) + 4, w.events, true);
          deadline = Math.min(deadline, w.deadline);
        });
        const left = deadline === Infinity
          ? -1
          : Math.max(0, Math.ceil(deadline - performance.now()));
        const n = await sym().poll(fds, BigInt(list.length + 1), left);
        if (n > 0 && v.getInt16(6, true) !== 0) sym().read(this.#wake, drain, 8n);
        const now = performance.now();
        list.forEach((w, i) => {
          if (!this.#waiters.has(w)) return;
          const revents = n > 0 ? v.getInt16(8 * (i + 1) + 6, true) : 0;
          if (revents !== 0) {
            this.#waiters.delete(w);
            w.resolve(true); // ready, or an error/hang-up the next call reports
          } else if (now >= w.deadline) {
            this.#waiters.delete(w);
            w.resolve(false);
          }
        });
      }
    } finally {
      this.#running = false;
    }
  }
}

const poller = new SharedPoller();

/** Waits until `fd` is ready for `events`; false after `timeoutMs` (-1: no limit). */
function ready(fd: number, events: number, timeoutMs: number): Promise<boolean> {
  return poller.wait(fd, events, timeoutMs);
}

/** Who is at the other end of a connection (`SO_PEERCRED`). */
export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

/** A byte stream connection: a Deno.Conn, or a {@linkcode UnixConnection}. */
export interface StreamConn {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  close(): void;
}

/** The peer's read deadline passed. */
export class ReadTimeout extends Error {}

/** One accepted connection. */
export class UnixConnection implements StreamConn {
  #closed = false;
  constructor(readonly fd: number) {}

  /** The peer's credentials, as the kernel recorded them at `connect`. */
  peer(): PeerCred {
    const cred = new Uint8Array(12);
    const len = new Uint32Array([12]);
    if (
      sym().getsockopt(this.fd, SOL_SOCKET, SO_PEERCRED, cred, new Uint8Array(len.buffer)) !== 0
    ) {
      throw new ErrnoError("getsockopt(SO_PEERCRED)", errno());
    }
    const v = new DataView(cred.buffer);
    return { pid: v.getInt32(0, true), uid: v.getUint32(4, true), gid: v.getUint32(8, true) };
  }

  /**
   * Reads into `buf`: the count, or null at end of stream. Throws
   * {@linkcode ReadTimeout} once `timeoutMs` passes with nothing to read.
   */
  async read(buf: Uint8Array, timeoutMs = -1): Promise<number | null> {
    for (;;) {
      const n = Number(sym().recv(this.fd, buf as Uint8Array<ArrayBuffer>, BigInt(buf.length), 0));
      if (n > 0) return n;
      if (n === 0) return null;
      const e = errno();
      if (e === EINTR) continue;
      if (e !== EAGAIN) throw new ErrnoError("recv", e);
      if (!(await ready(this.fd, POLLIN, timeoutMs))) throw new ReadTimeout("read timed out");
    }
  }

  /** Writes some of `data`; the count. Gives up after `timeoutMs` of a full buffer. */
  async write(data: Uint8Array, timeoutMs = 10_000): Promise<number> {
    for (;;) {
      const n = Number(
        sym().send(this.fd, data as Uint8Array<ArrayBuffer>, BigInt(data.length), MSG_NOSIGNAL),
      );
      if (n >= 0) return n;
      const e = errno();
      if (e === EINTR) continue;
      if (e !== EAGAIN) throw new ErrnoError("send", e);
      if (!(await ready(this.fd, POLLOUT, timeoutMs))) throw new ReadTimeout("write timed out");
    }
  }

  /** Closes it (once). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    sym().close(this.fd);
  }
}

/** struct sockaddr_un for `path` (at most 107 bytes): what `bind` takes. */
export function sockaddrUn(path: string): Uint8Array<ArrayBuffer> {
  const bytes = new TextEncoder().encode(path);
  if (bytes.length > 107) throw new ErrnoError(`bind ${path}: path too long`, 36);
  const addr = new Uint8Array(110);
  new DataView(addr.buffer).setUint16(0, AF_UNIX, true);
  addr.set(bytes, 2);
  return addr;
}

/** A listening unix stream socket. */
export class UnixServer {
  #closed = false;
  private constructor(readonly fd: number, readonly path: string) {}

  /**
   * Binds and listens at `path` (which must not exist). The socket file
   * gets the mode the umask leaves (berth's: 0600).
   */
  static listen(path: string, backlog = 4096): UnixServer {
    const s = sym();
    const addr = sockaddrUn(path);
    const fd = s.socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new ErrnoError("socket(AF_UNIX)", errno());
    if (s.bind(fd, addr, addr.length) !== 0 || s.listen(fd, backlog) !== 0) {
      const e = errno();
      s.close(fd);
      throw new ErrnoError(`listen ${path}`, e);
    }
    return new UnixServer(fd, path);
  }

  /**
   * The next connection, or null once closed. Throws ErrnoError (EMFILE,
   * ENFILE, …) when the kernel refuses one: the caller backs off and calls
   * again. `pollMs` bounds each wait so a close is noticed.
   */
  async accept(pollMs = 1000): Promise<UnixConnection | null> {
    for (;;) {
      if (this.#closed) return null;
      const fd = sym().accept4(this.fd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) return new UnixConnection(fd);
      const e = errno();
      if (e === EINTR || e === 103 /* ECONNABORTED */) continue;
      if (e !== EAGAIN) {
        if (this.#closed) return null;
        throw new ErrnoError("accept", e);
      }
      await ready(this.fd, POLLIN, pollMs);
    }
  }

  /**
   * The connections already queued for accepting, taken without waiting:
   * a server that stops answers them before it closes, instead of the
   * kernel dropping them unanswered.
   */
  drain(): UnixConnection[] {
    const out: UnixConnection[] = [];
    while (!this.#closed) {
      const fd = sym().accept4(this.fd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) {
        out.push(new UnixConnection(fd));
        continue;
      }
      const e = errno();
      if (e !== EINTR && e !== 103 /* ECONNABORTED */) break; // EAGAIN: none left
    }
    return out;
  }

  /** Stops accepting: wakes a pending accept, closes the socket (the file stays). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    sym().shutdown(this.fd, SHUT_RDWR);
    // The pending poll (if any) returns at once on the shut-down socket;
    // close after it so the descriptor number is not reused under it.
    queueMicrotask(() => sym().close(this.fd));
  }
}
