/**
 * The few libc calls berth makes through FFI, behind a small interface so
 * tests can substitute faults. All calls are synchronous: errno is per
 * thread, and a synchronous FFI call runs on the calling JS thread, so errno
 * read right after it belongs to it.
 *
 * @module
 */

/** How a reaped process ended. */
export interface WaitResult {
  /** Exit status, or 128+N for signal N. */
  exitCode: number;
}

/** An OS error from a libc call. */
export class ErrnoError extends Error {
  constructor(readonly call: string, readonly errno: number) {
    super(`${call}: ${ERRNO_NAMES[errno] ?? `errno ${errno}`}`);
  }
}

/** EPERM: operation not permitted. */
export const EPERM = 1;
/** ENOENT: no such file or directory. */
export const ENOENT = 2;
/** ECHILD: no child process (waitpid of a process that is not ours). */
export const ECHILD = 10;
/** EBUSY: device or resource busy. */
export const EBUSY = 16;
/** ENOTDIR: not a directory. */
export const ENOTDIR = 20;
/** EINVAL: invalid argument. */
export const EINVAL = 22;
/** EOPNOTSUPP: operation not supported (e.g. fallocate modes a file system lacks). */
export const EOPNOTSUPP = 95;

/** Names of the errno values berth reacts to. */
export const ERRNO_NAMES: Readonly<Record<number, string>> = {
  [EPERM]: "operation not permitted (EPERM)",
  [ENOENT]: "no such file or directory (ENOENT)",
  [ECHILD]: "no child process (ECHILD)",
  [EBUSY]: "device or resource busy (EBUSY)",
  [ENOTDIR]: "not a directory (ENOTDIR)",
  [EINVAL]: "invalid argument (EINVAL)",
  [EOPNOTSUPP]: "operation not supported (EOPNOTSUPP)",
};

/** The libc surface berth uses. */
export interface Libc {
  /** prctl(PR_SET_CHILD_SUBREAPER, 1). */
  setChildSubreaper(): void;
  /** waitpid(pid, WNOHANG): null while it runs; throws ErrnoError (ECHILD) if not our child. */
  waitpid(pid: number): WaitResult | null;
  /** mount(2). */
  mount(source: string, target: string, fstype: string, flags: number, data: string): void;
  /** umount2(2). */
  umount(target: string, flags: number): void;
  /**
   * Makes SIGUSR1 harmless for this process: Deno (2.9.2+) opens a V8
   * inspector on 127.0.0.1:9229 when it receives SIGUSR1. See
   * {@linkcode disarmInspectorSignal}.
   */
  disarmInspectorSignal(): void;
  /** madvise(2) on [start, start+length). */
  madvise(start: bigint, length: bigint, advice: number): void;
  /**
   * fallocate(2) FALLOC_FL_COLLAPSE_RANGE on [offset, offset+length) of the
   * file at `path`: the bytes go and the rest moves down, in place (same
   * inode; O_APPEND writers go on at the new end). Both must be multiples of
   * the file system's block size, and the range must end before EOF.
   * ErrnoError EOPNOTSUPP (95) where the file system cannot do it.
   */
  collapseRange(path: string, offset: number, length: number): void;
}

/** fallocate(2) mode: remove a range and close the gap. */
export const FALLOC_FL_COLLAPSE_RANGE = 0x08;

/** MADV_DONTNEED for {@linkcode Libc.madvise}. */
export const MADV_DONTNEED = 4;

const PR_SET_CHILD_SUBREAPER = 36;
const WNOHANG = 1;
const SIGUSR1 = 10;

const encoder = new TextEncoder();
function cstr(s: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(s + "\0");
}

const ERRNO = { __errno_location: { parameters: [], result: "pointer" } } as const;

/**
 * The symbols, in groups opened separately on first use: Deno builds a
 * call trampoline for every declared symbol when it opens a library
 * (measured: 1.5 ms for two symbols, 2.9 ms for six), and a CLI process
 * needs only one group (mount and umount), the monitor another.
 */
const GROUPS = {
  mount: {
    ...ERRNO,
    mount: { parameters: ["buffer", "buffer", "buffer", "u64", "buffer"], result: "i32" },
    umount2: { parameters: ["buffer", "i32"], result: "i32" },
  },
  process: {
    ...ERRNO,
    prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
    waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  },
  memory: {
    ...ERRNO,
    madvise: { parameters: ["pointer", "usize", "i32"], result: "i32" },
  },
  file: {
    ...ERRNO,
    open: { parameters: ["buffer", "i32"], result: "i32" },
    fallocate: { parameters: ["i32", "i32", "i64", "i64"], result: "i32" },
    close: { parameters: ["i32"], result: "i32" },
  },
} as const;

type Group = keyof typeof GROUPS;
type Symbols<G extends Group> = Deno.DynamicLibrary<typeof GROUPS[G]>["symbols"];

/** Decodes a wait(2) status into berth's exit code convention. */
export function decodeWaitStatus(status: number): number {
  const sig = status & 0x7f;
  if (sig === 0) return (status >> 8) & 0xff;
  return 128 + sig;
}

class RealLibc implements Libc {
  readonly #open: { [G in Group]?: Symbols<G> } = {};

  #sym<G extends Group>(group: G): Symbols<G> {
    const open = this.#open as { [K in G]?: Symbols<K> };
    return (open[group] ??= Deno.dlopen("libc.so.6", GROUPS[group]).symbols as Symbols<G>);
  }

  /** errno of the last call, read through the group that made it. */
  #errno(group: Group): number {
    const p = this.#sym(group).__errno_location();
    return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
  }

  setChildSubreaper(): void {
    if (this.#sym("process").prctl(PR_SET_CHILD_SUBREAPER, 1n, 0n, 0n, 0n) !== 0) {
      throw new ErrnoError("prctl(PR_SET_CHILD_SUBREAPER)", this.#errno("process"));
    }
  }

  waitpid(pid: number): WaitResult | null {
    const status = new Int32Array(1);
    for (;;) {
      const r = this.#sym("process").waitpid(pid, status, WNOHANG);
      if (r === 0) return null;
      if (r === pid) return { exitCode: decodeWaitStatus(status[0]!) };
      const errno = this.#errno("process");
      if (errno === 4) continue; // EINTR
      throw new ErrnoError(`waitpid(${pid})`, errno);
    }
  }

  mount(source: string, target: string, fstype: string, flags: number, data: string): void {
    const r = this.#sym("mount").mount(
      cstr(source),
      cstr(target),
      cstr(fstype),
      BigInt(flags),
      cstr(data),
    );
    if (r !== 0) throw new ErrnoError(`mount ${target}`, this.#errno("mount"));
  }

  umount(target: string, flags: number): void {
    if (this.#sym("mount").umount2(cstr(target), flags) !== 0) {
      throw new ErrnoError(`umount ${target}`, this.#errno("mount"));
    }
  }

  disarmInspectorSignal(): void {
    disarmInspectorSignal();
  }

  madvise(start: bigint, length: bigint, advice: number): void {
    const r = this.#sym("memory").madvise(Deno.UnsafePointer.create(start), length, advice);
    if (r !== 0) throw new ErrnoError("madvise", this.#errno("memory"));
  }

  collapseRange(path: string, offset: number, length: number): void {
    const f = this.#sym("file");
    const fd = f.open(cstr(path), O_WRONLY | O_CLOEXEC);
    if (fd < 0) throw new ErrnoError(`open ${path}`, this.#errno("file"));
    try {
      const r = f.fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, BigInt(offset), BigInt(length));
      if (r !== 0) throw new ErrnoError(`fallocate ${path}`, this.#errno("file"));
    } finally {
      f.close(fd);
    }
  }
}

const O_WRONLY = 0o1;
const O_CLOEXEC = 0o2000000;

/**
 * Deno installs its SIGUSR1→inspector handler 500 ms after start, through
 * the same process-wide registry that backs `Deno.addSignalListener`. The
 * registry installs its OS-level handler once, on the first registration.
 * So: register a listener (the registry's handler is installed now), then
 * replace the OS-level handler with a native no-op (libc's `getpid`, which
 * is async-signal-safe and ignores its argument). Deno's later registration
 * only adds an action to the registry and never reinstalls its handler.
 *
 * A caught signal, unlike an ignored one, is reset to the default on exec,
 * so the runtime and the containers berth starts get a normal SIGUSR1.
 */
function disarmInspectorSignal(): void {
  // Its own two-symbol library: every berth process pays for this at start,
  // and each declared symbol costs start-up time.
  const lib = Deno.dlopen(
    "libc.so.6",
    {
      dlsym: { parameters: ["pointer", "buffer"], result: "pointer" },
      signal: { parameters: ["i32", "pointer"], result: "pointer" },
    } as const,
  );
  const listener = () => {};
  Deno.addSignalListener("SIGUSR1", listener);
  try {
    const noop = lib.symbols.dlsym(null, cstr("getpid"));
    if (noop === null) throw new Error("dlsym(getpid) failed");
    lib.symbols.signal(SIGUSR1, noop);
  } finally {
    Deno.removeSignalListener("SIGUSR1", listener);
  }
}

/** The real libc, loaded on first use. */
export const libc: Libc = new RealLibc();
