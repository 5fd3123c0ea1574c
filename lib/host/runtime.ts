/**
 * The OCI runtime client (runc CLI and compatibles), over a
 * {@linkcode ProcessRunner}. Errors come from the runtime's JSON log
 * (`--log FILE --log-format json`) or, failing that, its stderr, and are
 * mapped to domain errors carrying the runtime's message.
 *
 * `create` never pipes the runtime's stdio (the container would inherit the
 * pipe and the call would hang): its stdout/stderr are appended to the
 * container's log files (the runner's `stdoutFile`/`stderrFile`), its stdin
 * is /dev/null.
 *
 * @module
 */

import { basename, resolve } from "../_std/path.ts";
import { readRest } from "../_std/bytes.ts";
import { BerthError, Exists, NotFound, RuntimeError, WrongState } from "./errors.ts";
import type { ExecRequest, ExecResult, ProcessRunner } from "./process.ts";

/** Where one runtime call keeps its state and log. */
export interface RuntimeTarget {
  /** The runtime's `--root`. */
  root: string;
  /** Container ID. */
  id: string;
  /** JSON log file for this call (appended to). */
  logFile: string;
}

/** Standard streams of a created container. */
export interface CreateIo {
  stdout: string;
  stderr: string;
  /**
   * A terminal instead (`process.terminal` in its config): the runtime
   * sends its master to this `--console-socket`; stdout/stderr then only
   * get what the runtime itself writes.
   */
  consoleSocket?: string;
  /**
   * Its stdin is a pipe whose writing end goes here (foreground `run -i`),
   * instead of /dev/null.
   */
  onStdin?: (stdin: WritableStream<Uint8Array>) => void;
}

/** The runtime's view of a container (`runc state`). */
export interface RuntimeState {
  status: string;
  pid: number;
}

/** How a runtime with a stdin pipe gets its log files (see `#detached`). */
const PIPED_STDIN_REDIRECT = `exec "$@" >>"$BERTH_OUT" 2>>"$BERTH_ERR"`;

/** Options of the runtime client. */
export interface RuntimeOptions {
  /** Bounded time of one call. Default 30 000 ms. */
  timeoutMs?: number;
  /** Called with each command line (for --debug). */
  trace?: (argv: string[]) => void;
}

const decoder = new TextDecoder();

/** Extracts the last error message from a runtime JSON log chunk. */
export function lastLogError(text: string): string | null {
  let found: string | null = null;
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      const rec = JSON.parse(line) as { level?: string; msg?: string };
      if ((rec.level === "error" || rec.level === "fatal") && typeof rec.msg === "string") {
        found = rec.msg;
      }
    } catch {
      found = line.trim();
    }
  }
  return found;
}

/** Maps a runtime message to the domain error for it. */
export function mapRuntimeError(op: string, id: string, message: string): BerthError {
  const text = `${op} "${id}": runtime: ${message}`;
  if (/does not exist|not exist|no such container/i.test(message)) return new NotFound(text);
  if (/already exists/i.test(message)) return new Exists(text);
  if (
    /not running|not paused|is paused|is stopped|container .*(stopped|paused|running)|cannot (start|pause|resume|exec|kill|checkpoint).*(stopped|paused|running|created)/i
      .test(message)
  ) return new WrongState(text);
  return new RuntimeError(text);
}

/**
 * The absolute path of the executable file `binary` names (a path,
 * relative to the working directory or not, or a name found on PATH), or
 * null. The CLI resolves `--runtime` once at start: the monitor and the
 * state then hold an absolute path, whatever another caller's PATH or
 * working directory.
 */
export function findRuntimeBinary(
  binary: string,
  path = Deno.env.get("PATH") ?? "",
): string | null {
  const candidates = binary.includes("/")
    ? [binary]
    : path.split(":").filter((d) => d !== "").map((d) => `${d}/${binary}`);
  for (const c of candidates) {
    try {
      const st = Deno.statSync(c);
      if (st.isFile && ((st.mode ?? 0) & 0o111) !== 0) return resolve(c);
    } catch { /* next */ }
  }
  return null;
}

/**
 * Makes `o.runtime` the absolute path {@linkcode findRuntimeBinary} finds
 * (else the name as given), looked up on its first read and kept: commands
 * that never run the runtime (`state`, `list`) skip the PATH search, about
 * 0.5 ms of their start-up. Assigning sets the path.
 */
export function resolveRuntimeOnUse(o: { runtime: string }, path?: string): void {
  const given = o.runtime;
  let found: string | null = null;
  Object.defineProperty(o, "runtime", {
    get: () => found ??= findRuntimeBinary(given, path) ?? given,
    set: (v: string) => void (found = v),
    enumerable: true,
    configurable: true,
  });
}

/**
 * Throws RuntimeError unless `binary` names an executable file (see
 * {@linkcode findRuntimeBinary}); returns its absolute path. Checked before
 * any file is touched.
 */
export function requireRuntimeBinary(binary: string, path = Deno.env.get("PATH") ?? ""): string {
  const found = findRuntimeBinary(binary, path);
  if (found !== null) return found;
  throw new RuntimeError(
    `OCI runtime "${binary}" not found (install runc, or pass --runtime PATH)`,
  );
}

/**
 * The runtime arguments that create container `id` from `bundle`, writing
 * its init's pid to `pidFile`; with `start`, `run --detach` (create and
 * start in one call).
 */
export function launchArgs(
  id: string,
  bundle: string,
  pidFile: string,
  start: boolean,
  consoleSocket?: string,
): string[] {
  const args = ["--bundle", bundle, "--pid-file", pidFile, id];
  if (consoleSocket !== undefined) args.unshift("--console-socket", consoleSocket);
  return start ? ["run", "--detach", ...args] : ["create", ...args];
}

/** The runtime arguments of `delete [--force] ID`. */
export function deleteArgs(id: string, force: boolean): string[] {
  return force ? ["delete", "--force", id] : ["delete", id];
}

/**
 * What berth asks of an OCI runtime: the public surface of
 * {@linkcode OciRuntime} (runc, crun), the one real implementation. The
 * context holds a `Runtime`, so tests can give operations a runtime that
 * answers from a table or fails on cue, without runc.
 */
export type Runtime = Pick<OciRuntime, keyof OciRuntime>;

/** A runc-compatible OCI runtime. */
export class OciRuntime {
  readonly #timeoutMs: number;
  readonly #trace: ((argv: string[]) => void) | undefined;
  #binary: string | (() => string);

  /** `binary`: the runtime's path, or a function giving it (asked on first use). */
  constructor(
    binary: string | (() => string),
    readonly runner: ProcessRunner,
    options: RuntimeOptions = {},
  ) {
    this.#binary = binary;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#trace = options.trace;
  }

  /** The runtime's executable. */
  get binary(): string {
    if (typeof this.#binary === "function") this.#binary = this.#binary();
    return this.#binary;
  }

  async #logSize(path: string): Promise<number> {
    try {
      return (await Deno.stat(path)).size;
    } catch {
      return 0;
    }
  }

  async #logSince(path: string, offset: number): Promise<string> {
    try {
      const f = await Deno.open(path, { read: true });
      try {
        await f.seek(offset, Deno.SeekMode.Start);
        return decoder.decode(await readRest(f));
      } finally {
        f.close();
      }
    } catch {
      return "";
    }
  }

  /** The runtime's command line for `args` on target `t`. */
  #argv(t: RuntimeTarget, args: string[]): string[] {
    return [this.binary, "--root", t.root, "--log", t.logFile, "--log-format", "json", ...args];
  }

  /**
   * `exec` and, for runc, `--ignore-paused`: berth checks the recorded status
   * itself (a paused container is refused before the runtime runs), and the
   * monitor freezes a running container for a few ms while it holds back a
   * runaway log writer (lib/monitor/log_trimmer.ts), which runc would take
   * for a pause; the new process then waits out the hold. Other runtimes do
   * not refuse an exec into a frozen cgroup.
   */
  #exec(): string[] {
    return /(^|\/)runc[^/]*$/.test(this.binary) ? ["exec", "--ignore-paused"] : ["exec"];
  }

  /**
   * Traces (--debug) a runtime call that the monitor makes for this
   * process, as `[monitor] runc …`.
   */
  traceDelegated(t: RuntimeTarget, args: string[]): void {
    this.#trace?.(["[monitor]", ...this.#argv(t, args)]);
  }

  /**
   * Throws the domain error for a failed call: a timeout, a missing
   * binary, or the runtime's last logged error (else its stderr).
   */
  async #check(op: string, t: RuntimeTarget, r: ExecResult, logOffset: number): Promise<void> {
    if (r.timedOut) {
      throw new RuntimeError(
        `${op} "${t.id}": runtime did not answer within ${this.#timeoutMs} ms`,
      );
    }
    if (r.code === 127) throw this.#notFound();
    if (r.code !== 0) {
      const msg = lastLogError(await this.#logSince(t.logFile, logOffset)) ??
        (r.stderr.trim().split("\n").pop() || `exited with code ${r.code}`);
      throw mapRuntimeError(op, t.id, msg.replace(/^runc: /, ""));
    }
  }

  #notFound(): RuntimeError {
    return new RuntimeError(
      `OCI runtime "${this.binary}" not found (install runc, or pass --runtime PATH)`,
    );
  }

  /** Runs one runtime command; throws the mapped error when it fails. */
  async #call(op: string, t: RuntimeTarget, args: string[]): Promise<ExecResult> {
    const before = await this.#logSize(t.logFile);
    const result = await this.#run(this.#argv(t, args), {});
    await this.#check(op, t, result, before);
    return result;
  }

  async #run(argv: string[], extra: Partial<ExecRequest>): Promise<ExecResult> {
    this.#trace?.(argv);
    try {
      return await this.runner.exec({ argv, timeoutMs: this.#timeoutMs, ...extra });
    } catch (err) {
      if (err instanceof RuntimeError && /not found/.test(err.message)) throw this.#notFound();
      throw err;
    }
  }

  /**
   * Runs a runtime command whose container must not inherit a pipe: stdin
   * from /dev/null (or a pipe handed to `io.onStdin`), stdout and stderr
   * appended to the container's log files, the runtime started directly
   * through posix_spawn (host/spawn.ts; no `sh -c 'exec …'` in between:
   * one fork and exec less per container).
   */
  async #detached(op: string, t: RuntimeTarget, args: string[], io: CreateIo): Promise<void> {
    const before = await this.#logSize(t.logFile);
    const inner = this.#argv(t, args);
    const result = io.onStdin === undefined
      ? await this.#run(inner, { outputFiles: { stdout: io.stdout, stderr: io.stderr } })
      : await this.#run(["/bin/sh", "-c", PIPED_STDIN_REDIRECT, "berth", ...inner], {
        // A stdin pipe (foreground `run -i`) comes from Deno.Command: its
        // output goes to the files through `sh -c 'exec …'`.
        stdout: "null",
        stderr: "null",
        env: { BERTH_OUT: io.stdout, BERTH_ERR: io.stderr },
        stdin: "piped",
        onStdin: io.onStdin,
      });
    await this.#check(op, t, result, before);
  }

  /** `create --bundle B --pid-file P ID`, stdio to the log files. */
  async create(t: RuntimeTarget, bundle: string, pidFile: string, io: CreateIo): Promise<void> {
    await this.#detached(
      "create",
      t,
      launchArgs(t.id, bundle, pidFile, false, io.consoleSocket),
      io,
    );
  }

  /** `run --detach --bundle B --pid-file P ID`: create and start in one call, stdio to the log files. */
  async run(t: RuntimeTarget, bundle: string, pidFile: string, io: CreateIo): Promise<void> {
    await this.#detached("run", t, launchArgs(t.id, bundle, pidFile, true, io.consoleSocket), io);
  }

  /** `restore --detach --image-path DIR --bundle B --pid-file P ID`, stdio to the log files. */
  async restore(
    t: RuntimeTarget,
    bundle: string,
    imagePath: string,
    pidFile: string,
    io: CreateIo,
  ): Promise<void> {
    await this.#detached("restore", t, [
      "restore",
      "--detach",
      "--image-path",
      imagePath,
      "--bundle",
      bundle,
      "--pid-file",
      pidFile,
      ...(io.consoleSocket !== undefined ? ["--console-socket", io.consoleSocket] : []),
      t.id,
    ], io);
  }

  /** `start ID`. */
  async start(t: RuntimeTarget): Promise<void> {
    await this.#call("start", t, ["start", t.id]);
  }

  /** `state ID`. */
  async state(t: RuntimeTarget): Promise<RuntimeState> {
    const r = await this.#call("state", t, ["state", t.id]);
    const v = JSON.parse(r.stdout) as RuntimeState;
    return { status: v.status, pid: v.pid };
  }

  /** IDs the runtime knows under `root`. */
  async list(root: string, logFile: string): Promise<string[]> {
    const r = await this.#call("list", { root, id: "*", logFile }, ["list", "--format", "json"]);
    const v = JSON.parse(r.stdout || "null") as { id: string }[] | null;
    return (v ?? []).map((c) => c.id);
  }

  /** `ps --format json ID`: host pids of the container's processes. */
  async ps(t: RuntimeTarget): Promise<number[]> {
    const r = await this.#call("ps", t, ["ps", "--format", "json", t.id]);
    return (JSON.parse(r.stdout || "[]") as number[]) ?? [];
  }

  /**
   * `exec --process FILE ID`, stdio inherited from berth. Returns the
   * process's exit code. With `detach`, returns once it started.
   */
  async exec(
    t: RuntimeTarget,
    processFile: string,
    detach: boolean,
    stdin: "null" | "inherit" = detach ? "null" : "inherit",
  ): Promise<number> {
    const args = [...this.#exec(), "--process", processFile, ...(detach ? ["--detach"] : []), t.id];
    const before = await this.#logSize(t.logFile);
    const stdio = detach ? "null" : "inherit";
    const r = await this.#run(this.#argv(t, args), {
      stdin,
      stdout: stdio,
      stderr: stdio,
      timeoutMs: detach ? this.#timeoutMs : 2 ** 31 - 1,
    });
    if (r.code !== 0) {
      // runc exits with the process's code; a failure of runc itself also logs an error.
      const msg = lastLogError(await this.#logSince(t.logFile, before));
      if (msg !== null) throw mapRuntimeError("exec in", t.id, msg);
    }
    return r.code;
  }

  /**
   * `exec --detach --console-socket S --pid-file P --process FILE ID` for a
   * process with a terminal: returns once it started, its master sent to
   * `consoleSocket`. Its exit is the caller's to reap (a child subreaper).
   */
  async execTerminal(
    t: RuntimeTarget,
    processFile: string,
    consoleSocket: string,
    pidFile: string,
  ): Promise<void> {
    await this.#call("exec in", t, [
      ...this.#exec(),
      "--detach",
      "--console-socket",
      consoleSocket,
      "--pid-file",
      pidFile,
      "--process",
      processFile,
      t.id,
    ]);
  }

  /** `pause ID`. */
  async pause(t: RuntimeTarget): Promise<void> {
    await this.#call("pause", t, ["pause", t.id]);
  }

  /** `resume ID`. */
  async resume(t: RuntimeTarget): Promise<void> {
    await this.#call("resume", t, ["resume", t.id]);
  }

  /**
   * `exec --pid-file P ID ARGV...` with its output discarded (a health
   * check): resolves to the process's exit code, whatever it is; the
   * runner kills the runtime after `timeoutMs` (the caller kills the
   * process in the container first, by the pid file).
   */
  async execCheck(
    t: RuntimeTarget,
    argv: string[],
    pidFile: string,
    timeoutMs: number,
  ): Promise<number> {
    const r = await this.#run(
      this.#argv(t, [...this.#exec(), "--pid-file", pidFile, t.id, ...argv]),
      {
        stdout: "null",
        stderr: "null",
        timeoutMs,
      },
    );
    return r.code;
  }

  /** `update FLAGS ID`: changes the resource limits of a live container (see limits/_parse.ts). */
  async update(t: RuntimeTarget, flags: string[]): Promise<void> {
    await this.#call("update", t, ["update", ...flags, t.id]);
  }

  /** `kill [--all] ID SIGNAL`. */
  async kill(t: RuntimeTarget, signal: number, all = false): Promise<void> {
    await this.#call(
      "kill",
      t,
      all ? ["kill", "--all", t.id, String(signal)] : [
        "kill",
        t.id,
        String(signal),
      ],
    );
  }

  /** `delete [--force] ID`; a container the runtime does not know is not an error. */
  async delete(t: RuntimeTarget, force: boolean): Promise<void> {
    try {
      await this.#call("delete", t, deleteArgs(t.id, force));
    } catch (err) {
      if (err instanceof NotFound) return;
      throw err;
    }
  }

  /** `checkpoint --image-path DIR [--leave-running] ID`. */
  async checkpoint(t: RuntimeTarget, imagePath: string, leaveRunning: boolean): Promise<void> {
    const args = ["checkpoint", "--image-path", imagePath];
    if (leaveRunning) args.push("--leave-running");
    await this.#call("checkpoint", t, [...args, t.id]);
  }

  /** `--version`: the first line, e.g. `runc version 1.1.5`. */
  async version(): Promise<string> {
    const r = await this.#run([this.binary, "--version"], {});
    if (r.code !== 0) throw new RuntimeError(`"${this.binary} --version" failed`);
    return r.stdout.split("\n").filter((l) => l.trim() !== "").join(", ") ||
      basename(this.binary);
  }
}
