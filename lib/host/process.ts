/**
 * Child processes behind a small interface (`Deno.Command` underneath), so
 * tests can inject faults; every call has a bounded timeout after which the
 * child is killed.
 *
 * @module
 */

import { after } from "./clock.ts";
import { RuntimeError } from "./errors.ts";

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
  /** Kill the child (SIGKILL) after this long. */
  timeoutMs: number;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Called with the child's pid once spawned. */
  onSpawn?: (pid: number) => void;
}

/** How it ended. */
export interface ExecResult {
  /** Exit code (128+N when killed by signal N). */
  code: number;
  stdout: string;
  stderr: string;
  /** The timeout fired and the child was killed. */
  timedOut: boolean;
}

/** Runs commands. */
export interface ProcessRunner {
  exec(req: ExecRequest): Promise<ExecResult>;
}

const decoder = new TextDecoder();

/** The umask of the processes berth starts. */
export const CHILD_UMASK = 0o022;

const SIGNAL_NUMBERS: Record<string, number> = { SIGKILL: 9, SIGTERM: 15, SIGINT: 2, SIGHUP: 1 };

/** The real runner. */
export const denoRunner: ProcessRunner = {
  async exec(req: ExecRequest): Promise<ExecResult> {
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

function exitCode(s: { code: number; signal: Deno.Signal | null }): number {
  if (s.signal !== null) return 128 + (SIGNAL_NUMBERS[s.signal] ?? 0);
  return s.code;
}
