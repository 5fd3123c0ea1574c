/**
 * What every command runs with: the global options and the services behind
 * small interfaces (clock, processes, runtime, libc, output), built once in
 * `main.ts` and replaceable in tests.
 *
 * @module
 */

import { basename } from "../_std/path.ts";
import { fromFileUrl } from "../_std/path.ts";
import { type Clock, systemClock } from "../host/clock.ts";
import type { GlobalOptions } from "./globals.ts";
import { type Libc, libc } from "../host/libc.ts";
import { Paths } from "./paths.ts";
import { denoRunner, type ProcessRunner } from "../host/process.ts";
import { OciRuntime, type Runtime } from "../host/runtime.ts";
import { StateStore } from "./state_file.ts";

/** Where commands write. */
export interface Output {
  /** Writes to stdout. */
  out(text: string | Uint8Array): void;
  /** Writes to stderr. */
  err(text: string | Uint8Array): void;
}

/** The services a command runs with. */
export interface Context {
  globals: GlobalOptions;
  paths: Paths;
  store: StateStore;
  runtime: Runtime;
  runner: ProcessRunner;
  libc: Libc;
  clock: Clock;
  io: Output;
  env: (key: string) => string | undefined;
  /** The command line that starts this same berth (binary, or deno + main.ts). */
  self: string[];
  /** The armed crash point (`BERTH_CRASH_AT`, fault injection), or null. */
  crashAt: string | null;
  /**
   * Hand runtime kills and deletes to the root's monitor when one runs
   * (it is warm and the parent of the inits). True, except in the monitor.
   */
  useMonitor: boolean;
}

const encoder = new TextEncoder();

function writeAllSync(w: { writeSync(p: Uint8Array): number }, data: string | Uint8Array): void {
  let bytes = typeof data === "string" ? encoder.encode(data) : data;
  while (bytes.length > 0) bytes = bytes.subarray(w.writeSync(bytes));
}

/** stdout/stderr of this process. */
export const stdio: Output = {
  out: (t) => writeAllSync(Deno.stdout, t),
  err: (t) => writeAllSync(Deno.stderr, t),
};

/**
 * The command line that runs this berth again: the compiled binary itself,
 * or `deno run -A ENTRY`, where `entry` is the URL of the entry module
 * (main.ts of this checkout by default, or the bundle built from it).
 */
export function selfCommand(entry = new URL("../../main.ts", import.meta.url).href): string[] {
  const exe = Deno.execPath();
  if (basename(exe) === "deno") {
    return [exe, "run", "-A", "--quiet", "--no-prompt", fromFileUrl(entry)];
  }
  return [exe];
}

/** Builds the real context for `globals`. */
export function createContext(globals: GlobalOptions, overrides: Partial<Context> = {}): Context {
  const paths = new Paths(globals.root, globals.dataRoot);
  const runner = overrides.runner ?? denoRunner;
  const io = overrides.io ?? stdio;
  const trace = globals.debug ? (argv: string[]) => io.err(`+ ${argv.join(" ")}\n`) : undefined;
  const runtime = new OciRuntime(() => globals.runtime, runner, trace ? { trace } : {});
  return {
    globals,
    paths,
    store: new StateStore(paths),
    runtime,
    runner,
    libc,
    clock: systemClock,
    io,
    env: (k) => Deno.env.get(k),
    self: overrides.self ?? selfCommand(), // main.ts passes its own: no second lookup
    crashAt: Deno.env.get("BERTH_CRASH_AT") || null,
    useMonitor: true,
    ...overrides,
  };
}
