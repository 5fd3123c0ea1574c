/**
 * The libc calls terminals need, through FFI, behind a small interface
 * (like `libc.ts`): the console socket runc's `--console-socket` connects
 * to (socket, bind, listen, accept4, recvmsg with `SCM_RIGHTS`), pseudo-
 * terminal pairs (posix_openpt, grantpt, unlockpt, ptsname_r), termios
 * (tcgetattr, tcsetattr, cfmakeraw), window sizes (ioctl TIOCGWINSZ /
 * TIOCSWINSZ), and plain fd I/O (read, write, close, fcntl, eventfd, poll).
 *
 * Every call but `poll` is synchronous, so errno read right after it (per
 * thread) belongs to it. `poll` runs on Deno's blocking thread pool
 * (`nonblocking: true`) so waiting for a descriptor never blocks the event
 * loop; its result is only a count, and what it reports is then read or
 * written synchronously. Each group of calls is bound on its first use
 * (see `libc.ts`, the one module that opens libc).
 *
 * @module
 */

import { errno, ErrnoError, libcGroup } from "../host/libc.ts";
import { sockaddrUn } from "../host/unix_server.ts";

/** A window size in character cells. */
export interface WindowSize {
  rows: number;
  cols: number;
}

/** poll(2) event bits. */
export const POLLIN = 0x1;
/** poll(2): writable. */
export const POLLOUT = 0x4;
/** poll(2): error. */
export const POLLERR = 0x8;
/** poll(2): hang-up (a pty master whose slave side is all closed). */
export const POLLHUP = 0x10;
/** poll(2): not an open descriptor. */
export const POLLNVAL = 0x20;

/** errno values terminal code reacts to. */
export const EINTR = 4;
/** I/O error: what a pty master reads once its slave side is closed. */
export const EIO = 5;
/** Would block. */
export const EAGAIN = 11;

/** The terminal calls berth makes. */
export interface TerminalLibc {
  /** A listening unix stream socket bound at `path` (non-blocking, close-on-exec). */
  listenUnix(path: string): number;
  /**
   * Accepts one connection on `listenFd` and receives one descriptor sent
   * with `SCM_RIGHTS` (runc sends the pty master with the slave's name as
   * data). Null when no connection is waiting yet.
   */
  receiveFd(listenFd: number): { fd: number; name: string } | null;
  /** A new pseudo-terminal pair: the master (non-blocking) and the slave's path. */
  openPty(): { master: number; slavePath: string };
  /** open(path, O_RDWR | O_NOCTTY | O_CLOEXEC): a terminal by path (a pty's slave). */
  openTerminal(path: string): number;
  /** isatty(3). */
  isatty(fd: number): boolean;
  /** The termios of `fd`, as an opaque buffer. */
  getAttr(fd: number): Uint8Array;
  /** tcsetattr(fd, TCSANOW, attr). */
  setAttr(fd: number, attr: Uint8Array): void;
  /** A copy of `attr` made raw (cfmakeraw). */
  makeRaw(attr: Uint8Array): Uint8Array;
  /** TIOCGWINSZ; null when `fd` is no terminal. */
  getWindowSize(fd: number): WindowSize | null;
  /** TIOCSWINSZ (the slave's foreground process group gets SIGWINCH). */
  setWindowSize(fd: number, size: WindowSize): void;
  /** Sets O_NONBLOCK on `fd`. */
  setNonblocking(fd: number): void;
  /** read(2): bytes read, 0 at end (EIO on a pty master counts as end), null if it would block. */
  read(fd: number, buf: Uint8Array): number | null;
  /** write(2): bytes written, 0 if it would block. */
  write(fd: number, data: Uint8Array): number;
  /** close(2), errors ignored. */
  close(fd: number): void;
  /** A non-blocking eventfd (to wake a pending poll). */
  eventFd(): number;
  /** poll(2) on the blocking thread pool: resolves with the count of ready entries. */
  poll(fds: Uint8Array, count: number, timeoutMs: number): Promise<number>;
}

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const MSG_CMSG_CLOEXEC = 0x40000000;
const O_RDWR = 2;
const O_NOCTTY = 0o400;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const F_GETFL = 3;
const F_SETFL = 4;
const TCSANOW = 0;
const TIOCGWINSZ = 0x5413;
const TIOCSWINSZ = 0x5414;
const EFD_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;
/** sizeof(struct termios) is 60 on glibc (x86_64, aarch64); with room to spare. */
const TERMIOS_SIZE = 64;

const socketCalls = libcGroup({
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  accept4: { parameters: ["i32", "pointer", "pointer", "i32"], result: "i32" },
  recvmsg: { parameters: ["i32", "buffer", "i32"], result: "isize" },
});
const ptyCalls = libcGroup({
  posix_openpt: { parameters: ["i32"], result: "i32" },
  grantpt: { parameters: ["i32"], result: "i32" },
  unlockpt: { parameters: ["i32"], result: "i32" },
  ptsname_r: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
});
const termiosCalls = libcGroup({
  isatty: { parameters: ["i32"], result: "i32" },
  tcgetattr: { parameters: ["i32", "buffer"], result: "i32" },
  tcsetattr: { parameters: ["i32", "i32", "buffer"], result: "i32" },
  cfmakeraw: { parameters: ["buffer"], result: "void" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
});
const ioCalls = libcGroup({
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
});

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function ptr(buf: Uint8Array<ArrayBuffer>): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
}

class RealTerminalLibc implements TerminalLibc {
  listenUnix(path: string): number {
    const s = socketCalls();
    const fd = s.socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new ErrnoError("socket(AF_UNIX)", errno());
    const addr = sockaddrUn(path);
    if (s.bind(fd, addr, addr.length) !== 0) {
      const e = errno();
      this.close(fd);
      throw new ErrnoError(`bind ${path}`, e);
    }
    if (s.listen(fd, 4) !== 0) {
      const e = errno();
      this.close(fd);
      throw new ErrnoError(`listen ${path}`, e);
    }
    return fd;
  }

  receiveFd(listenFd: number): { fd: number; name: string } | null {
    const s = socketCalls();
    const conn = s.accept4(listenFd, null, null, SOCK_CLOEXEC);
    if (conn < 0) {
      const e = errno();
      if (e === EAGAIN) return null;
      throw new ErrnoError("accept4", e);
    }
    try {
      const data = new Uint8Array(4096);
      const iov = new Uint8Array(16);
      const control = new Uint8Array(64);
      const msg = new Uint8Array(56);
      const iv = new DataView(iov.buffer);
      iv.setBigUint64(0, ptr(data), true);
      iv.setBigUint64(8, BigInt(data.length), true);
      const mv = new DataView(msg.buffer);
      mv.setBigUint64(16, ptr(iov), true); // msg_iov
      mv.setBigUint64(24, 1n, true); // msg_iovlen
      mv.setBigUint64(32, ptr(control), true); // msg_control
      mv.setBigUint64(40, BigInt(control.length), true); // msg_controllen
      let n: number;
      for (;;) {
        // The sender may not have written yet: the connection is blocking.
        n = Number(s.recvmsg(conn, msg, MSG_CMSG_CLOEXEC));
        if (n >= 0) break;
        const e = errno();
        if (e !== EINTR) throw new ErrnoError("recvmsg", e);
      }
      const cv = new DataView(control.buffer);
      const controlLen = Number(mv.getBigUint64(40, true));
      // struct cmsghdr: size_t cmsg_len; int cmsg_level; int cmsg_type; data.
      if (
        controlLen < 20 || cv.getInt32(8, true) !== SOL_SOCKET ||
        cv.getInt32(12, true) !== SCM_RIGHTS
      ) {
        throw new ErrnoError("recvmsg: no descriptor was sent", 22);
      }
      const fd = cv.getInt32(16, true);
      // A second descriptor (never sent by runc) is closed, not leaked.
      const cmsgLen = Number(cv.getBigUint64(0, true));
      for (let off = 20; off + 4 <= cmsgLen && off + 4 <= control.length; off += 4) {
        this.close(cv.getInt32(off, true));
      }
      return { fd, name: decoder.decode(data.subarray(0, n)).replace(/\0.*$/s, "") };
    } finally {
      this.close(conn);
    }
  }

  openPty(): { master: number; slavePath: string } {
    const p = ptyCalls();
    const fd = p.posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) throw new ErrnoError("posix_openpt", errno());
    try {
      if (p.grantpt(fd) !== 0) throw new ErrnoError("grantpt", errno());
      if (p.unlockpt(fd) !== 0) throw new ErrnoError("unlockpt", errno());
      const name = new Uint8Array(128);
      const r = p.ptsname_r(fd, name, BigInt(name.length));
      if (r !== 0) throw new ErrnoError("ptsname_r", r);
      this.setNonblocking(fd);
      return { master: fd, slavePath: decoder.decode(name.subarray(0, name.indexOf(0))) };
    } catch (err) {
      this.close(fd);
      throw err;
    }
  }

  openTerminal(path: string): number {
    const fd = ptyCalls().open(encoder.encode(path + "\0"), O_RDWR | O_NOCTTY | O_CLOEXEC, 0);
    if (fd < 0) throw new ErrnoError(`open ${path}`, errno());
    return fd;
  }

  isatty(fd: number): boolean {
    return termiosCalls().isatty(fd) === 1;
  }

  getAttr(fd: number): Uint8Array {
    const attr = new Uint8Array(TERMIOS_SIZE);
    if (termiosCalls().tcgetattr(fd, attr) !== 0) {
      throw new ErrnoError(`tcgetattr(${fd})`, errno());
    }
    return attr;
  }

  setAttr(fd: number, attr: Uint8Array): void {
    const t = termiosCalls();
    for (;;) {
      if (t.tcsetattr(fd, TCSANOW, attr as Uint8Array<ArrayBuffer>) === 0) return;
      const e = errno();
      if (e !== EINTR) throw new ErrnoError(`tcsetattr(${fd})`, e);
    }
  }

  makeRaw(attr: Uint8Array): Uint8Array {
    const raw = new Uint8Array(attr);
    termiosCalls().cfmakeraw(raw);
    return raw;
  }

  getWindowSize(fd: number): WindowSize | null {
    const ws = new Uint8Array(8);
    if (termiosCalls().ioctl(fd, BigInt(TIOCGWINSZ), ws) !== 0) return null;
    const v = new DataView(ws.buffer);
    return { rows: v.getUint16(0, true), cols: v.getUint16(2, true) };
  }

  setWindowSize(fd: number, size: WindowSize): void {
    const ws = new Uint8Array(8);
    const v = new DataView(ws.buffer);
    v.setUint16(0, size.rows, true);
    v.setUint16(2, size.cols, true);
    if (termiosCalls().ioctl(fd, BigInt(TIOCSWINSZ), ws) !== 0) {
      throw new ErrnoError(`ioctl(TIOCSWINSZ)`, errno());
    }
  }

  setNonblocking(fd: number): void {
    const io = ioCalls();
    const flags = io.fcntl(fd, F_GETFL, 0);
    if (flags < 0 || io.fcntl(fd, F_SETFL, flags | O_NONBLOCK) !== 0) {
      throw new ErrnoError("fcntl(O_NONBLOCK)", errno());
    }
  }

  read(fd: number, buf: Uint8Array): number | null {
    const io = ioCalls();
    for (;;) {
      const n = Number(io.read(fd, buf as Uint8Array<ArrayBuffer>, BigInt(buf.length)));
      if (n >= 0) return n;
      const e = errno();
      if (e === EINTR) continue;
      if (e === EAGAIN) return null;
      if (e === EIO) return 0;
      throw new ErrnoError(`read(${fd})`, e);
    }
  }

  write(fd: number, data: Uint8Array): number {
    const io = ioCalls();
    for (;;) {
      const n = Number(io.write(fd, data as Uint8Array<ArrayBuffer>, BigInt(data.length)));
      if (n >= 0) return n;
      const e = errno();
      if (e === EINTR) continue;
      if (e === EAGAIN) return 0;
      throw new ErrnoError(`write(${fd})`, e);
    }
  }

  close(fd: number): void {
    ioCalls().close(fd);
  }

  eventFd(): number {
    const fd = ioCalls().eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) throw new ErrnoError("eventfd", errno());
    return fd;
  }

  poll(fds: Uint8Array, count: number, timeoutMs: number): Promise<number> {
    return ioCalls().poll(fds as Uint8Array<ArrayBuffer>, BigInt(count), timeoutMs);
  }
}

/** The real terminal calls, loaded on first use. */
export const terminalLibc: TerminalLibc = new RealTerminalLibc();
