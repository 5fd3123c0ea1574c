/**
 * berth's one way into libc: the only module that opens it (tests/
 * layers_test.ts fails if another calls `Deno.dlopen`), and the few libc
 * calls the core makes, behind a small interface so tests can substitute
 * faults.
 *
 * libc is opened once per process, on first use, with two symbols
 * (`dlsym`, `__errno_location`): Deno builds a call trampoline for every
 * symbol a `dlopen` declares (measured: 1.5 ms for two symbols, 2.9 ms for
 * six), so every other function is looked up by name on the first use of
 * the group that declares it ({@linkcode libcGroup}) and called through a
 * `Deno.UnsafeFnPointer` (about 1 µs a call, no start-up cost). A command
 * pays only for the groups it uses: `run -d` the mount group, the monitor
 * its socket, process and terminal groups.
 *
 * All calls but the `nonblocking` ones (poll) are synchronous: errno is
 * per thread, and a synchronous FFI call runs on the calling JS thread, so
 * {@linkcode errno} read right after it belongs to it.
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
   * umount2(2) on a thread of Deno's, not this one: the caller's other work
   * (a network tear-down, replies of the monitor) goes on while the kernel
   * unmounts (an overlay's unmount takes 10-40 ms here).
   */
  umountAsync(target: string, flags: number): Promise<void>;
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

/** The two symbols the one `dlopen` declares. */
const CORE = {
  dlsym: { parameters: ["pointer", "buffer"], result: "pointer" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

let core: Deno.DynamicLibrary<typeof CORE>["symbols"] | null = null;

/** libc, opened on first use: the process's only `Deno.dlopen`. */
function opened(): Deno.DynamicLibrary<typeof CORE>["symbols"] {
  return (core ??= Deno.dlopen("libc.so.6", CORE).symbols);
}

/** How many times this process has opened libc: 0 before the first use, then 1. */
export function libcOpens(): number {
  return core === null ? 0 : 1;
}

/** The calling thread's errno: read it right after the call that failed. */
export function errno(): number {
  const p = opened().__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
}

/** The address of the libc function `name` (dlsym); throws if libc has none. */
export function libcFunction(name: string): Deno.PointerObject {
  const p = opened().dlsym(null, cstr(name));
  if (p === null) throw new Error(`libc has no function ${name}`);
  return p;
}

/** Functions of a group, typed as `Deno.dlopen` would type them. */
export type LibcSymbols<S extends Record<string, Deno.ForeignFunction>> = Deno.DynamicLibrary<
  S
>["symbols"];

/**
 * A group of libc functions, bound on the first call of the returned
 * function (each looked up by name, then cached): declare a group per
 * concern next to the code that uses it, so a command binds only what it
 * calls. Names must be libc's own.
 */
export function libcGroup<const S extends Record<string, Deno.ForeignFunction>>(
  defs: S,
): () => LibcSymbols<S> {
  let bound: LibcSymbols<S> | null = null;
  return () => {
    if (bound !== null) return bound;
    const out: Record<string, unknown> = {};
    for (const [name, def] of Object.entries(defs)) {
      const fn = new Deno.UnsafeFnPointer(
        libcFunction(name) as Deno.PointerObject<typeof def>,
        def,
      );
      out[name] = fn.call.bind(fn);
    }
    return (bound = out as LibcSymbols<S>);
  };
}

/** The core's groups: a CLI process needs only `mount`, the monitor `process`. */
const mountCalls = libcGroup({
  mount: { parameters: ["buffer", "buffer", "buffer", "u64", "buffer"], result: "i32" },
  umount2: { parameters: ["buffer", "i32"], result: "i32" },
});
/** umount2 as a nonblocking call (run on a thread of Deno's; errno is that thread's). */
const unmountCalls = libcGroup({
  umount2: { parameters: ["buffer", "i32"], result: "i32", nonblocking: true },
});
/**
 * Opens libc and binds the mount group now, so that a later
 * {@linkcode Libc.mount} or {@linkcode Libc.umount} does not pay for it:
 * `delete -f` does it while the monitor kills the container (about 1.5 ms
 * it would otherwise add to its unmount).
 */
export function prepareMountCalls(): void {
  mountCalls();
  unmountCalls();
}

const processCalls = libcGroup({
  prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
});
const memoryCalls = libcGroup({
  madvise: { parameters: ["pointer", "usize", "i32"], result: "i32" },
});
const fileCalls = libcGroup({
  open: { parameters: ["buffer", "i32"], result: "i32" },
  fallocate: { parameters: ["i32", "i32", "i64", "i64"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
});
const signalCalls = libcGroup({
  signal: { parameters: ["i32", "pointer"], result: "pointer" },
});

/** Decodes a wait(2) status into berth's exit code convention. */
export function decodeWaitStatus(status: number): number {
  const sig = status & 0x7f;
  if (sig === 0) return (status >> 8) & 0xff;
  return 128 + sig;
}

class RealLibc implements Libc {
  setChildSubreaper(): void {
    if (processCalls().prctl(PR_SET_CHILD_SUBREAPER, 1n, 0n, 0n, 0n) !== 0) {
      throw new ErrnoError("prctl(PR_SET_CHILD_SUBREAPER)", errno());
    }
  }

  waitpid(pid: number): WaitResult | null {
    const status = new Int32Array(1);
    for (;;) {
      const r = processCalls().waitpid(pid, status, WNOHANG);
      if (r === 0) return null;
      if (r === pid) return { exitCode: decodeWaitStatus(status[0]!) };
      const e = errno();
      if (e === 4) continue; // EINTR
      throw new ErrnoError(`waitpid(${pid})`, e);
    }
  }

  mount(source: string, target: string, fstype: string, flags: number, data: string): void {
    const r = mountCalls().mount(
      cstr(source),
      cstr(target),
      cstr(fstype),
      BigInt(flags),
      cstr(data),
    );
    if (r !== 0) throw new ErrnoError(`mount ${target}`, errno());
  }

  umount(target: string, flags: number): void {
    if (mountCalls().umount2(cstr(target), flags) !== 0) {
      throw new ErrnoError(`umount ${target}`, errno());
    }
  }

  async umountAsync(target: string, flags: number): Promise<void> {
    const path = cstr(target); // alive until the call returns
    if (await unmountCalls().umount2(path, flags) === 0) return;
    // The failure's errno is the other thread's: asked again here, where
    // it can be read (still mounted: the same error; gone meanwhile: EINVAL).
    this.umount(target, flags);
  }

  disarmInspectorSignal(): void {
    disarmInspectorSignal();
  }

  madvise(start: bigint, length: bigint, advice: number): void {
    const r = memoryCalls().madvise(Deno.UnsafePointer.create(start), length, advice);
    if (r !== 0) throw new ErrnoError("madvise", errno());
  }

  collapseRange(path: string, offset: number, length: number): void {
    const f = fileCalls();
    const fd = f.open(cstr(path), O_WRONLY | O_CLOEXEC);
    if (fd < 0) throw new ErrnoError(`open ${path}`, errno());
    try {
      const r = f.fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, BigInt(offset), BigInt(length));
      if (r !== 0) throw new ErrnoError(`fallocate ${path}`, errno());
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
  const listener = () => {};
  Deno.addSignalListener("SIGUSR1", listener);
  try {
    signalCalls().signal(SIGUSR1, libcFunction("getpid"));
  } finally {
    Deno.removeSignalListener("SIGUSR1", listener);
  }
}

/** The real libc, loaded on first use. */
export const libc: Libc = new RealLibc();
