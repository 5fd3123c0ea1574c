/**
 * The libc calls berth's own network set-up makes (its group of libc
 * functions, bound through lib/host/libc.ts): netlink sockets (`socket`, `send`,
 * `recv`), and entering network namespaces (`setns`, `unshare`, `open`,
 * `close`). Opened on first use, so only commands that set up or tear
 * down a bridge attachment pay for it.
 *
 * A network namespace is a per-thread attribute: a synchronous FFI call
 * runs on the calling JS thread, so entering a namespace, making a socket
 * there and coming back, all in one synchronous stretch, leaves every
 * other thread (and every later await) where it was. The socket stays
 * bound to the namespace it was made in.
 *
 * @module
 */

import { errno, ErrnoError, libcGroup } from "../host/libc.ts";

const sym = libcGroup({
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  setns: { parameters: ["i32", "i32"], result: "i32" },
  unshare: { parameters: ["i32"], result: "i32" },
  mount: { parameters: ["buffer", "buffer", "buffer", "u64", "buffer"], result: "i32" },
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
});

const enc = new TextEncoder();
const cstr = (s: string) => enc.encode(s + "\0");

/**
 * Opens the library now (a test's resource sanitizer counts a library
 * opened during the test as leaked: tests call this at module load).
 */
export function loadNetworkFfi(): void {
  sym();
}

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;
const CLONE_NEWNET = 0x40000000;
const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;
const MS_BIND = 4096;
const EINTR = 4;

/** Opens `path` read-only (a namespace file); returns the descriptor. */
export function openFd(path: string): number {
  const fd = sym().open(cstr(path), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw new ErrnoError(`open ${path}`, errno());
  return fd;
}

/** Closes a descriptor (errors ignored). */
export function closeFd(fd: number): void {
  sym().close(fd);
}

/**
 * Runs `fn` with the calling thread in the network namespace bound at
 * `nsPath` (null: the current one), then puts the thread back. `fn` must
 * be synchronous.
 */
function inNetns<T>(nsPath: string | null, fn: () => T): T {
  if (nsPath === null) return fn();
  const own = openFd("/proc/thread-self/ns/net");
  try {
    const target = openFd(nsPath);
    try {
      if (sym().setns(target, CLONE_NEWNET) !== 0) {
        throw new ErrnoError(`setns ${nsPath}`, errno());
      }
    } finally {
      closeFd(target);
    }
    let out: T;
    try {
      out = fn();
    } catch (err) {
      back(own);
      throw err;
    }
    back(own);
    return out;
  } finally {
    closeFd(own);
  }
}

/**
 * Puts the calling thread back in namespace `own`. Failing to would leave
 * the JS thread in the container's namespace: nothing after that may run.
 */
function back(own: number): void {
  if (sym().setns(own, CLONE_NEWNET) !== 0) {
    throw new Error(`setns back to the host's network namespace failed (errno ${errno()})`);
  }
}

/** The netfilter family of netlink (nf_tables' messages). */
export const NETLINK_NETFILTER = 12;

/**
 * A netlink socket (rtnetlink unless `protocol` says otherwise) in the
 * network namespace bound at `nsPath` (null: the current one).
 */
export function netlinkSocket(nsPath: string | null, protocol: number = NETLINK_ROUTE): number {
  return inNetns(nsPath, () => {
    const fd = sym().socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
    if (fd < 0) throw new ErrnoError("socket(AF_NETLINK)", errno());
    return fd;
  });
}

/** Sends one datagram on `fd`. */
export function sendAll(fd: number, msg: Uint8Array<ArrayBuffer>): void {
  for (;;) {
    const n = sym().send(fd, msg, BigInt(msg.length), 0);
    if (n >= 0) return;
    const e = errno();
    if (e !== EINTR) throw new ErrnoError("send(netlink)", e);
  }
}

/** Receives one datagram on `fd` into `buf`; returns its length. */
export function recvInto(fd: number, buf: Uint8Array<ArrayBuffer>): number {
  for (;;) {
    const n = sym().recv(fd, buf, BigInt(buf.length), 0);
    if (n >= 0) return Number(n);
    const e = errno();
    if (e !== EINTR) throw new ErrnoError("recv(netlink)", e);
  }
}

/**
 * Makes a new network namespace and binds it on `file` (which exists,
 * empty): the calling thread unshares its namespace, the namespace is
 * bind-mounted from `/proc/thread-self/ns/net`, and the thread goes back
 * to the namespace it had. What `unshare --net=FILE true` does, without
 * the process.
 */
export function newNetnsAt(file: string): void {
  const own = openFd("/proc/thread-self/ns/net");
  try {
    if (sym().unshare(CLONE_NEWNET) !== 0) throw new ErrnoError("unshare(CLONE_NEWNET)", errno());
    let err: unknown = null;
    const r = sym().mount(
      cstr("/proc/thread-self/ns/net"),
      cstr(file),
      cstr(""),
      BigInt(MS_BIND),
      cstr(""),
    );
    if (r !== 0) err = new ErrnoError(`mount --bind of a network namespace on ${file}`, errno());
    if (sym().setns(own, CLONE_NEWNET) !== 0) {
      throw new Error(`setns back to the host's network namespace failed (errno ${errno()})`);
    }
    if (err !== null) throw err;
  } finally {
    closeFd(own);
  }
}
