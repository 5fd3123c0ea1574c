/**
 * Starting a program whose stdout and stderr are appended to files, which
 * `Deno.Command` cannot do (its stdio is piped, inherited or null): through
 * posix_spawn(3) with file actions, so no `sh -c 'exec …'` runs in between
 * (a fork and exec less for every container the runtime starts).
 *
 * The child gets stdin from /dev/null, the process's environment (plus
 * `env`), the default action for SIGPIPE (Deno ignores it) and an empty
 * signal mask, as a `Deno.Command` child would. Its exit is collected by
 * {@linkcode waitChild}: `waitpid` on its pid only, on each SIGCHLD.
 *
 * @module
 */

import { after } from "./clock.ts";
import { ErrnoError, libc, libcGroup } from "./libc.ts";
import { RuntimeError } from "./errors.ts";

const spawnCalls = libcGroup({
  posix_spawnp: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  posix_spawn_file_actions_init: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_addopen: {
    parameters: ["buffer", "i32", "buffer", "i32", "u32"],
    result: "i32",
  },
  posix_spawn_file_actions_destroy: { parameters: ["buffer"], result: "i32" },
  posix_spawnattr_init: { parameters: ["buffer"], result: "i32" },
  posix_spawnattr_setflags: { parameters: ["buffer", "i16"], result: "i32" },
  posix_spawnattr_setsigmask: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_spawnattr_setsigdefault: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_spawnattr_destroy: { parameters: ["buffer"], result: "i32" },
  sigemptyset: { parameters: ["buffer"], result: "i32" },
  sigaddset: { parameters: ["buffer", "i32"], result: "i32" },
});

const O_RDONLY = 0;
const O_WRONLY = 0o1;
const O_CREAT = 0o100;
const O_APPEND = 0o2000;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const SIGPIPE = 13;
/** glibc's posix_spawn_file_actions_t is 80 bytes, posix_spawnattr_t 336, sigset_t 128. */
const OPAQUE_SIZE = 512;

const encoder = new TextEncoder();

/** A NUL-terminated copy of `s`. */
function cstr(s: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(s + "\0");
}

/** A NULL-terminated `char *[]` of `items`; `keep` holds the strings alive. */
function cArray(items: string[], keep: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const ptrs = new BigUint64Array(items.length + 1);
  items.forEach((item, i) => {
    const s = cstr(item);
    keep.push(s);
    ptrs[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(s)));
  });
  return new Uint8Array(ptrs.buffer);
}

/** What {@linkcode spawnToFiles} starts. */
export interface FileSpawn {
  /** Program (searched on PATH when it has no `/`) and arguments. */
  argv: string[];
  /** Appended to (created when missing, mode 0666 less the umask). */
  stdoutFile: string;
  /** Appended to, likewise. */
  stderrFile: string;
  /** Added to this process's environment. */
  env?: Record<string, string>;
}

/**
 * Starts `req.argv` with its output appended to the files; returns its pid.
 * Throws a RuntimeError (`"PROGRAM" not found` when there is no such
 * program, like the runner's) when it could not start.
 */
export function spawnToFiles(req: FileSpawn): number {
  const [program] = req.argv;
  if (program === undefined) throw new RuntimeError("empty command line");
  const c = spawnCalls();
  const keep: Uint8Array[] = [];
  const actions = new Uint8Array(OPAQUE_SIZE);
  const attr = new Uint8Array(OPAQUE_SIZE);
  const pipeDefault = new Uint8Array(OPAQUE_SIZE);
  const emptyMask = new Uint8Array(OPAQUE_SIZE);
  if (c.posix_spawn_file_actions_init(actions) !== 0) {
    throw new RuntimeError("posix_spawn_file_actions_init failed");
  }
  if (c.posix_spawnattr_init(attr) !== 0) {
    c.posix_spawn_file_actions_destroy(actions);
    throw new RuntimeError("posix_spawnattr_init failed");
  }
  try {
    const files: [number, string, number][] = [
      [0, "/dev/null", O_RDONLY],
      [1, req.stdoutFile, O_WRONLY | O_CREAT | O_APPEND],
      [2, req.stderrFile, O_WRONLY | O_CREAT | O_APPEND],
    ];
    // Opened here first (and closed): a file that cannot be opened is
    // reported as such, and ENOENT from posix_spawn means the program.
    for (const [fd, path] of files) {
      if (fd === 0) continue;
      try {
        Deno.openSync(path, { append: true, create: true, mode: 0o666 }).close();
      } catch (err) {
        throw new RuntimeError(`cannot open ${path}: ${(err as Error).message}`);
      }
    }
    for (const [fd, path, flags] of files) {
      const p = cstr(path);
      keep.push(p);
      const r = c.posix_spawn_file_actions_addopen(actions, fd, p, flags, 0o666);
      if (r !== 0) {
        throw new RuntimeError(`cannot open ${path}: ${new ErrnoError("open", r).message}`);
      }
    }
    c.sigemptyset(pipeDefault);
    c.sigaddset(pipeDefault, SIGPIPE);
    c.sigemptyset(emptyMask);
    c.posix_spawnattr_setsigdefault(attr, pipeDefault);
    c.posix_spawnattr_setsigmask(attr, emptyMask);
    c.posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    const env = { ...Deno.env.toObject(), ...req.env };
    const argv = cArray(req.argv, keep);
    const envp = cArray(Object.entries(env).map(([k, v]) => `${k}=${v}`), keep);
    const pid = new Int32Array(1);
    const r = c.posix_spawnp(new Uint8Array(pid.buffer), cstr(program), actions, attr, argv, envp);
    if (r === 2) throw new RuntimeError(`"${program}" not found`);
    if (r !== 0) {
      throw new RuntimeError(
        `cannot run "${program}": ${new ErrnoError("posix_spawn", r).message}`,
      );
    }
    return pid[0]!;
  } finally {
    c.posix_spawnattr_destroy(attr);
    c.posix_spawn_file_actions_destroy(actions);
    keep.length = 0;
  }
}

/**
 * Resolves with the exit code (128+N for signal N) of our child `pid`,
 * checked on every SIGCHLD and at least every `pollMs` (a backstop: a
 * signal is never lost, but cheap insurance). Only this pid is waited for.
 */
export function waitChild(pid: number, pollMs = 50): Promise<number> {
  return new Promise((resolve, reject) => {
    let cancel = () => {};
    let finished = false;
    const check = () => {
      if (finished) return;
      let r;
      try {
        r = libc.waitpid(pid);
      } catch (err) {
        finish();
        reject(err);
        return;
      }
      if (r === null) return;
      finish();
      resolve(r.exitCode);
    };
    const tick = () => {
      check();
      if (!finished) cancel = after(pollMs, tick);
    };
    const finish = () => {
      finished = true;
      Deno.removeSignalListener("SIGCHLD", check);
      cancel();
    };
    Deno.addSignalListener("SIGCHLD", check);
    tick();
  });
}
