/**
 * File operations relative to directory descriptors (the `*at` calls of
 * libc, through FFI): what `cp` needs to walk and write a tree it does not
 * trust without ever following a symlink it did not read itself. Every
 * name passed here is one path component (no `/`, never `.` or `..`):
 * callers resolve paths component by component (`scoped_path.ts`).
 *
 * All calls are synchronous, so errno read right after a call (per thread)
 * belongs to it. Descriptors are plain numbers; the caller closes them.
 * Data moves through `/proc/self/fd/N`, which reopens exactly the file a
 * descriptor refers to (no path is looked up again).
 *
 * @module
 */

import { errno, ErrnoError, libcGroup } from "./libc.ts";

/** open(2) flags used here. */
export const O_RDONLY = 0;
/** Write only. */
export const O_WRONLY = 0o1;
/** Create the file. */
export const O_CREAT = 0o100;
/** With O_CREAT: fail if the name exists (a symlink included, never followed). */
export const O_EXCL = 0o200;
/** Fail if the name is not a directory. */
export const O_DIRECTORY = 0o200000;
/** Do not follow a symlink in the last component (O_PATH: open the link itself). */
export const O_NOFOLLOW = 0o400000;
/** Close on exec. */
export const O_CLOEXEC = 0o2000000;
/** A handle that only names the file (no read, no write; a FIFO never blocks). */
export const O_PATH = 0o10000000;

/** errno: no such file or directory. */
export const ENOENT = 2;
/** errno: the name exists. */
export const EEXIST = 17;
/** errno: not a directory. */
export const ENOTDIR = 20;
/** errno: is a directory. */
export const EISDIR = 21;
/** errno: too many levels of symbolic links (O_NOFOLLOW met a link). */
export const ELOOP = 40;
/** errno: read-only file system. */
export const EROFS = 30;
/** errno: directory not empty. */
export const ENOTEMPTY = 39;

const AT_SYMLINK_NOFOLLOW = 0x100;
const AT_REMOVEDIR = 0x200;
const AT_EMPTY_PATH = 0x1000;
const AT_SYMLINK_FOLLOW = 0x400;
const AT_FDCWD = -100;
const STATX_BASIC_STATS = 0x7ff;

/** File type bits of a mode. */
export const S_IFMT = 0o170000;
/** Directory. */
export const S_IFDIR = 0o040000;
/** Regular file. */
export const S_IFREG = 0o100000;
/** Symbolic link. */
export const S_IFLNK = 0o120000;
/** FIFO. */
export const S_IFIFO = 0o010000;
/** Character device. */
export const S_IFCHR = 0o020000;
/** Block device. */
export const S_IFBLK = 0o060000;

/** What statx says about a descriptor's file. */
export interface FdStat {
  /** Type and permission bits. */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Device number of a character or block device (major << 8 | minor, as mknod wants). */
  rdev: bigint;
  /** Access and modification times: seconds and nanoseconds. */
  atime: [bigint, number];
  mtime: [bigint, number];
  /** Inode number and link count (statFd fills them; a tar entry has none). */
  ino?: bigint;
  nlink?: number;
  /** The device the file is on, "major:minor" (statFd fills it). */
  dev?: string;
}

/** The kind of file a mode names. */
export function kindOf(
  mode: number,
): "dir" | "file" | "symlink" | "fifo" | "chardev" | "blockdev" | "other" {
  switch (mode & S_IFMT) {
    case S_IFDIR:
      return "dir";
    case S_IFREG:
      return "file";
    case S_IFLNK:
      return "symlink";
    case S_IFIFO:
      return "fifo";
    case S_IFCHR:
      return "chardev";
    case S_IFBLK:
      return "blockdev";
    default:
      return "other";
  }
}

/** The `*at` calls (bound on first use: only `cp`, `commit` and `export` need them). */
const sym = libcGroup({
  openat: { parameters: ["i32", "buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  readlinkat: { parameters: ["i32", "buffer", "buffer", "usize"], result: "isize" },
  mkdirat: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  symlinkat: { parameters: ["buffer", "i32", "buffer"], result: "i32" },
  mknodat: { parameters: ["i32", "buffer", "u32", "u64"], result: "i32" },
  renameat: { parameters: ["i32", "buffer", "i32", "buffer"], result: "i32" },
  unlinkat: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  linkat: { parameters: ["i32", "buffer", "i32", "buffer", "i32"], result: "i32" },
  fchownat: { parameters: ["i32", "buffer", "u32", "u32", "i32"], result: "i32" },
  fchmod: { parameters: ["i32", "u32"], result: "i32" },
  utimensat: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  statx: { parameters: ["i32", "buffer", "i32", "u32", "buffer"], result: "i32" },
  fstatfs: { parameters: ["i32", "buffer"], result: "i32" },
});

const encoder = new TextEncoder();
const decoder = new TextDecoder();
function cstr(s: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(s + "\0");
}

function check(r: number | bigint, call: string): void {
  if (Number(r) < 0) throw new ErrnoError(call, errno());
}

/** The errno of an ErrnoError, or null for anything else. */
export function errnoOf(err: unknown): number | null {
  return err instanceof ErrnoError ? err.errno : null;
}

/**
 * openat(2): `name` in the directory `dirFd` (`"/abs/path"` with any
 * `dirFd` opens a host path as given, following its symlinks: only for
 * paths the user named on the host). Returns the new descriptor.
 */
export function openAt(dirFd: number, name: string, flags: number, mode = 0): number {
  const fd = sym().openat(dirFd, cstr(name), flags | O_CLOEXEC, mode);
  check(fd, `open ${name}`);
  return fd;
}

/** close(2); errors ignored (the descriptor is gone either way). */
export function closeFd(fd: number): void {
  sym().close(fd);
}

/** readlinkat(2) of the symlink `fd` was opened on (O_PATH | O_NOFOLLOW). */
export function readLinkFd(fd: number): string {
  const buf = new Uint8Array(4096);
  const n = sym().readlinkat(fd, cstr(""), buf, BigInt(buf.length));
  check(n, "readlink");
  return decoder.decode(buf.subarray(0, Number(n)));
}

/** mkdirat(2). */
export function mkdirAt(dirFd: number, name: string, mode: number): void {
  check(sym().mkdirat(dirFd, cstr(name), mode), `mkdir ${name}`);
}

/** symlinkat(2): `name` in `dirFd` pointing at `target` (the text, never resolved here). */
export function symlinkAt(target: string, dirFd: number, name: string): void {
  check(sym().symlinkat(cstr(target), dirFd, cstr(name)), `symlink ${name}`);
}

/** mknodat(2): a FIFO or device node. */
export function mknodAt(dirFd: number, name: string, mode: number, dev: bigint): void {
  check(sym().mknodat(dirFd, cstr(name), mode, dev), `mknod ${name}`);
}

/** renameat(2) within or across directories; replaces a file (or link) at `to`, never follows it. */
export function renameAt(fromDir: number, from: string, toDir: number, to: string): void {
  check(sym().renameat(fromDir, cstr(from), toDir, cstr(to)), `rename ${from} to ${to}`);
}

/**
 * linkat(2): a new name `name` in `dirFd` for the file the descriptor `fd`
 * refers to (through its /proc/self/fd link, so any descriptor will do).
 */
export function linkFdAt(fd: number, dirFd: number, name: string): void {
  check(
    sym().linkat(AT_FDCWD, cstr(fdPath(fd)), dirFd, cstr(name), AT_SYMLINK_FOLLOW),
    `link ${name}`,
  );
}

/** unlinkat(2); `dir` for an (empty) directory. */
export function unlinkAt(dirFd: number, name: string, dir = false): void {
  check(sym().unlinkat(dirFd, cstr(name), dir ? AT_REMOVEDIR : 0), `remove ${name}`);
}

/** Owner of the file `fd` names (any kind of descriptor, O_PATH and symlinks included). */
export function chownFd(fd: number, uid: number, gid: number): void {
  check(
    sym().fchownat(fd, cstr(""), uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW),
    "chown",
  );
}

/** fchmod(2): permission bits (and setuid/setgid/sticky) of an open, non-O_PATH descriptor. */
export function chmodFd(fd: number, mode: number): void {
  check(sym().fchmod(fd, mode & 0o7777), "chmod");
}

/** Access and modification times of `name` in `dirFd` (a symlink itself, never followed). */
export function setTimesAt(
  dirFd: number,
  name: string,
  atime: [bigint, number],
  mtime: [bigint, number],
): void {
  const times = new BigInt64Array([atime[0], BigInt(atime[1]), mtime[0], BigInt(mtime[1])]);
  check(
    sym().utimensat(dirFd, cstr(name), new Uint8Array(times.buffer), AT_SYMLINK_NOFOLLOW),
    `set times of ${name}`,
  );
}

/** statx(2) of the file `fd` names (a symlink itself when opened O_PATH | O_NOFOLLOW). */
export function statFd(fd: number): FdStat {
  const buf = new Uint8Array(256);
  check(
    sym().statx(fd, cstr(""), AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, buf),
    "stat",
  );
  const v = new DataView(buf.buffer);
  const ts = (off: number): [bigint, number] => [
    v.getBigInt64(off, true),
    v.getUint32(off + 8, true),
  ];
  const rdevMajor = v.getUint32(128, true);
  const rdevMinor = v.getUint32(132, true);
  return {
    mode: v.getUint16(28, true),
    uid: v.getUint32(20, true),
    gid: v.getUint32(24, true),
    size: Number(v.getBigUint64(40, true)),
    // glibc's makedev
    rdev: (BigInt(rdevMajor & 0xfff) << 8n) | BigInt(rdevMinor & 0xff) |
      (BigInt(rdevMinor & ~0xff) << 12n) | (BigInt(rdevMajor & ~0xfff) << 32n),
    atime: ts(64),
    mtime: ts(112),
    ino: v.getBigUint64(32, true),
    nlink: v.getUint32(16, true),
    dev: `${v.getUint32(136, true)}:${v.getUint32(140, true)}`,
  };
}

/**
 * Kernel file systems whose trees are views of the kernel, not files
 * (statfs f_type): procfs, sysfs, cgroup (v1 and v2), devpts, mqueue,
 * securityfs, debugfs, tracefs, bpf, pstore, configfs, fusectl.
 */
const PSEUDO_FS = new Set([
  0x9fa0,
  0x62656572,
  0x27e0eb,
  0x63677270,
  0x1cd1,
  0x19800202,
  0x73636673,
  0x64626720,
  0x74726163,
  0xcafe4a11,
  0x6165676c,
  0x62656570,
  0x65735543,
]);

/** True when the directory `fd` names is on a kernel pseudo file system (/proc, /sys, ...). */
export function onPseudoFs(fd: number): boolean {
  const buf = new BigInt64Array(15); // struct statfs: 120 bytes on 64-bit
  check(sym().fstatfs(fd, new Uint8Array(buf.buffer)), "statfs");
  return PSEUDO_FS.has(Number(buf[0]!));
}

/** The path that reopens exactly the file `fd` refers to. */
export function fdPath(fd: number): string {
  return `/proc/self/fd/${fd}`;
}
