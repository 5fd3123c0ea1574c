/**
 * Child processes behind a small interface (`Deno.Command` underneath), so
 * tests can inject faults; every call has a bounded timeout after which the
 * child is killed.
 *
 * @module
 */

import { after } from "./clock.ts";
import { RuntimeError } from "./errors.ts";
import { spawnToFiles, waitChild } from "./spawn.ts";

/** How to run one command. */
export interface ExecRequest {
  /** Program and arguments. */
  argv: string[];
  /** Default "null". "piped": the writing end goes to `onStdin`. */
  stdin?: "null" | "inherit" | "piped";
  /** With `stdin: "piped"`: receives the child's stdin once spawned. */
  onStdin?: (stdin: WritableStream<Uint8Array>) => void;
  /** Default "piped". */
  stdout?: "piped" | "null" | "inherit";
  /** Default "piped". */
  stderr?: "piped" | "null" | "inherit";
  /**
   * Append the child's stdout and stderr to these files instead (created
   * when missing), its stdin /dev/null: `stdin`, `stdout` and `stderr` are
   * then ignored (see spawn.ts).
   */
  outputFiles?: { stdout: string; stderr: string };
  /** Kill the child (SIGKILL) after this long. */
  timeoutMs: number;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Called with the child's pid once spawned. */
  onSpawn?: (pid: number) => void;
  /**
   * With stderr piped: called with what the child wrote there so far; once
   * it returns true, exec resolves at once (`detached`, code 0, that
   * stderr; stdout is not read) and the child ends on its own, reaped in
   * the background (its exit may block in the kernel: an iptables-restore
   * that deleted rules waits out an RCU grace period when it closes its
   * netlink socket, after its work is done).
   */
  detachWhen?: (stderr: string) => boolean;
}

/** How it ended. */
export interface ExecResult {
  /** Exit code (128+N when killed by signal N). */
  code: number;
  stdout: string;
  stderr: string;
  /** The timeout fired and the child was killed. */
  timedOut: boolean;
  /** `detachWhen` said so: the child was not waited for. */
  detached?: boolean;
}

/** Runs commands. */
export interface ProcessRunner {
  exec(req: ExecRequest): Promise<ExecResult>;
}

const decoder = new TextDecoder();

/** The umask of the processes berth starts. */
export const CHILD_UMASK = 0o022;

const SIGNAL_NUMBERS: Record<string, number> = { SIGKILL: 9, SIGTERM: 15, SIGINT: 2, SIGHUP: 1 };

/**
 * Loads Deno's process module ahead of a first `exec`: the first use of
 * `Deno.Command` in a process compiles it (about 2.5 ms here), so a caller
 * that will start a program and has to wait for something first (a reply
 * of the monitor) pays it while it waits.
 */
export function prepareExec(): void {
  void Deno.Command;
}

/** The real runner. */
export const denoRunner: ProcessRunner = {
  async exec(req: ExecRequest): Promise<ExecResult> {
    if (req.outputFiles !== undefined) return await execToFiles(req, req.outputFiles);
    const [program, ...args] = req.argv;
    if (program === undefined) throw new RuntimeError("empty command line");
    const options: Deno.CommandOptions = {
      args,
      stdin: req.stdin ?? "null",
      stdout: req.stdout ?? "piped",
      stderr: req.stderr ?? "piped",
    };
    if (req.env !== undefined) options.env = req.env;
    let child: Deno.ChildProcess;
    // berth's own umask is 077 (see cli.ts); its children (the runtime, and
    // through it the container's side) get the usual 022. Spawning is
    // synchronous, so nothing else of berth runs under 022 meanwhile.
    const umask = Deno.umask(CHILD_UMASK);
    try {
      child = new Deno.Command(program, options).spawn();
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        throw new RuntimeError(`"${program}" not found`);
      }
      throw new RuntimeError(`cannot run "${program}": ${(err as Error).message}`);
    } finally {
      Deno.umask(umask);
    }
    req.onSpawn?.(child.pid);
    if (req.stdin === "piped") req.onStdin?.(child.stdin);
    let timedOut = false;
    const cancelTimer = after(req.timeoutMs, () => {
      timedOut = true;
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
    });
    try {
      if (req.detachWhen !== undefined && (req.stderr ?? "piped") === "piped") {
        const out = (req.stdout ?? "piped") === "piped" ? child.stdout : null;
        return await detaching(child, out, req.detachWhen, () => timedOut);
      }
      const piped = (req.stdout ?? "piped") === "piped" || (req.stderr ?? "piped") === "piped";
      if (piped) {
        const out = await child.output();
        return {
          code: exitCode(out),
          stdout: (req.stdout ?? "piped") === "piped" ? decoder.decode(out.stdout) : "",
          stderr: (req.stderr ?? "piped") === "piped" ? decoder.decode(out.stderr) : "",
          timedOut,
        };
      }
      const status = await child.status;
      return { code: exitCode(status), stdout: "", stderr: "", timedOut };
    } finally {
      cancelTimer();
    }
  },
};

/** {@linkcode denoRunner}'s exec of a request with `detachWhen` (see there). */
async function detaching(
  child: Deno.ChildProcess,
  stdout: ReadableStream<Uint8Array> | null,
  detachWhen: (stderr: string) => boolean,
  timedOut: () => boolean,
): Promise<ExecResult> {
  // stdout is not read: drained, so the child never blocks on it.
  const drained = stdout?.pipeTo(new WritableStream()).catch(() => {}) ?? Promise.resolve();
  const reader = child.stderr.getReader();
  const dec = new TextDecoder();
  let err = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    err += dec.decode(value, { stream: true });
    if (detachWhen(err)) {
      reader.cancel().catch(() => {});
      child.unref();
      child.status.catch(() => {});
      return { code: 0, stdout: "", stderr: err, timedOut: false, detached: true };
    }
  }
  const status = await child.status;
  await drained;
  return { code: exitCode(status), stdout: "", stderr: err, timedOut: timedOut() };
}

/** {@linkcode denoRunner}'s exec of a request with `outputFiles`. */
async function execToFiles(
  req: ExecRequest,
  files: { stdout: string; stderr: string },
): Promise<ExecResult> {
  // Spawning is synchronous: nothing else of berth runs under 022 meanwhile.
  const umask = Deno.umask(CHILD_UMASK);
  let pid: number;
  try {
    pid = spawnToFiles({
      argv: req.argv,
      stdoutFile: files.stdout,
      stderrFile: files.stderr,
      ...(req.env !== undefined ? { env: req.env } : {}),
    });
  } finally {
    Deno.umask(umask);
  }
  req.onSpawn?.(pid);
  let timedOut = false;
  const cancelTimer = after(req.timeoutMs, () => {
    timedOut = true;
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* already gone */ }
  });
  try {
    return { code: await waitChild(pid), stdout: "", stderr: "", timedOut };
  } finally {
    cancelTimer();
  }
}

function exitCode(s: { code: number; signal: Deno.Signal | null }): number {
  if (s.signal !== null) return 128 + (SIGNAL_NUMBERS[s.signal] ?? 0);
  return s.code;
}
