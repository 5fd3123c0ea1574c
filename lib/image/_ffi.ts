/**
 * The libc calls unpacking needs that Deno lacks: `mknod` (overlay
 * whiteouts are 0/0 character devices), `lsetxattr`/`lgetxattr` (opaque
 * directories), `syncfs` (a layer is durable before it is published) and
 * the `FS_IOC_*FLAGS` ioctls ({@linkcode markTopDir}).
 * Opened on first use, so only image commands pay for it.
 *
 * @module
 */

import { errno, ErrnoError, libcGroup } from "../host/libc.ts";

/** The calls (bound on first use: only image commands pay for them). */
const sym = libcGroup({
  mknod: { parameters: ["buffer", "u32", "u64"], result: "i32" },
  lsetxattr: { parameters: ["buffer", "buffer", "buffer", "usize", "i32"], result: "i32" },
  lgetxattr: { parameters: ["buffer", "buffer", "buffer", "usize"], result: "isize" },
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  syncfs: { parameters: ["i32"], result: "i32" },
  faccessat: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
});

/** A directory descriptor kept for syncfs(2). */
export interface Syncer {
  /** syncfs(2): throws ErrnoError on failure. */
  sync(): void;
  /** Closes the descriptor (again: nothing). */
  close(): void;
}

/** The calls, behind an interface so tests can inject failures. */
export interface UnpackCalls {
  /** Creates the 0/0 character device overlayfs reads as a whiteout. */
  whiteout(path: string): void;
  /** Sets an extended attribute on `path` itself (never through a symlink). */
  setXattr(path: string, name: string, value: string | Uint8Array): void;
  /** True when the directory `path` carries `trusted.overlay.opaque=y` (never through a symlink). */
  isOpaque(path: string): boolean;
  /**
   * Opens the directory `path` now, for a later syncfs(2) of its
   * filesystem: `sync()` puts every write to it on disk or throws, with any
   * writeback error since this open (Linux 5.8+ reports those; one that
   * happened before the descriptor was opened and that someone else saw
   * would be missed, so open it before writing). `close()` always.
   */
  syncer(path: string): Syncer;
}

const enc = new TextEncoder();
const cstr = (s: string) => enc.encode(s + "\0");

function check(rc: number, what: string): void {
  if (rc === 0) return;
  const e = errno();
  throw new ErrnoError(what, e);
}

const ENOENT = 2; // errno
const ENODATA = 61;
const EOPNOTSUPP = 95;
const O_RDONLY_DIRECTORY_CLOEXEC = 0o200000 | 0o2000000; // O_RDONLY | O_DIRECTORY | O_CLOEXEC

const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;

/**
 * True when nothing is at `path` (ENOENT; `lstat` would fail the same
 * way): `faccessat(F_OK, AT_SYMLINK_NOFOLLOW)`, which never follows a last
 * symlink and, unlike `Deno.lstatSync`, throws nothing (an exception per
 * new entry was a cost of unpacking). Any other answer, an error included,
 * is false: the caller then checks the slow way.
 */
export function entryAbsent(path: string): boolean {
  return sym().faccessat(AT_FDCWD, cstr(path), 0, AT_SYMLINK_NOFOLLOW) !== 0 &&
    errno() === ENOENT;
}

const FS_IOC_GETFLAGS = 0x80086601n;
const FS_IOC_SETFLAGS = 0x40086602n;
/** `chattr +T`: the top of directory hierarchies, for ext2/3/4's Orlov allocator. */
export const FS_TOPDIR_FL = 0x00020000;

/**
 * The inode flags (`lsattr`) of the directory `path`, or null where its
 * file system has none (FS_IOC_GETFLAGS fails).
 */
export function inodeFlags(path: string): number | null {
  const l = sym();
  const fd = l.open(cstr(path), O_RDONLY_DIRECTORY_CLOEXEC);
  if (fd < 0) return null;
  try {
    const flags = new Int32Array(1);
    return l.ioctl(fd, FS_IOC_GETFLAGS, flags) === 0 ? flags[0]! : null;
  } finally {
    l.close(fd);
  }
}

/**
 * Marks the directory `path` as a top of directory hierarchies (`chattr
 * +T`), so ext2/3/4 give each directory made in it a block group of its
 * own choosing, as for one made in the root, rather than its parent's. A
 * layer is unpacked into a new directory of the store's tmp/: without the
 * mark it went where the layers removed last had been, and on ext4 without
 * a journal making an inode skips, one inode table read each, every inode
 * deleted in the last 60 s (300 s while its block is dirty). A pull right
 * after `rmi` of the same image (11,000 files) took 2.5 times as long as
 * a fresh one, its system time 4-7 s (`recently_deleted` in the kernel);
 * with the mark, as long. True when the mark is there; false where the file
 * system has no such flag (tmpfs, overlay): nothing changes there.
 */
export function markTopDir(path: string): boolean {
  const l = sym();
  const fd = l.open(cstr(path), O_RDONLY_DIRECTORY_CLOEXEC);
  if (fd < 0) return false;
  try {
    const flags = new Int32Array(1);
    if (l.ioctl(fd, FS_IOC_GETFLAGS, flags) !== 0) return false;
    if ((flags[0]! & FS_TOPDIR_FL) !== 0) return true;
    flags[0] = flags[0]! | FS_TOPDIR_FL;
    return l.ioctl(fd, FS_IOC_SETFLAGS, flags) === 0;
  } finally {
    l.close(fd);
  }
}

/** The real calls through libc. */
export const unpackCalls: UnpackCalls = {
  whiteout(path) {
    const S_IFCHR = 0o020000;
    check(sym().mknod(cstr(path), S_IFCHR | 0o000, 0n), `mknod ${path}`);
  },
  setXattr(path, name, value) {
    const v = typeof value === "string" ? enc.encode(value) : value;
    check(sym().lsetxattr(cstr(path), cstr(name), v, BigInt(v.length), 0), `lsetxattr ${path}`);
  },
  isOpaque(path) {
    const buf = new Uint8Array(8);
    const n = Number(sym().lgetxattr(cstr(path), cstr("trusted.overlay.opaque"), buf, 8n));
    if (n < 0) {
      const e = errno();
      if (e === ENODATA || e === EOPNOTSUPP) return false;
      throw new ErrnoError(`lgetxattr ${path}`, e);
    }
    return n === 1 && buf[0] === 0x79; // "y"
  },
  syncer(path) {
    const l = sym();
    let fd = l.open(cstr(path), O_RDONLY_DIRECTORY_CLOEXEC);
    if (fd < 0) throw new ErrnoError(`open ${path}`, errno());
    return {
      sync() {
        if (fd < 0) throw new ErrnoError(`syncfs ${path}`, 9); // EBADF: closed
        if (l.syncfs(fd) !== 0) throw new ErrnoError(`syncfs ${path}`, errno());
      },
      close() {
        if (fd >= 0) l.close(fd);
        fd = -1;
      },
    };
  },
};
