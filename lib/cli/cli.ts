/**
 * The CLI frame: global options, dispatch, help, and the one exit path that
 * turns any error into `berth: <message>` and the contract's exit code.
 *
 * @module
 */

import { after } from "../host/clock.ts";
import { checkShape, helpRequested, parseCommandArgs } from "./args.ts";
import { type AnyCommand, commandHelp } from "./command.ts";
import { containerVerb, findCommand, loadCommands } from "./commands/mod.ts";
import { type Context, createContext, type Output, stdio } from "../container/context.ts";
import { exitCodeOf, InvalidArgument, messageOf } from "../host/errors.ts";
import { GLOBAL_DEFAULTS, parseGlobals } from "../container/globals.ts";
import { libc } from "../host/libc.ts";
import { secureRoots } from "../host/roots.ts";
import { resolveRuntimeOnUse } from "../host/runtime.ts";

/** `berth --help`. */
export function globalHelp(commands: AnyCommand[]): string {
  const visible = commands.filter((c) => !c.hidden);
  const width = Math.max(...visible.map((c) => c.name.length));
  const d = GLOBAL_DEFAULTS;
  return [
    "berth — a daemonless container manager over a runc-compatible OCI runtime",
    "",
    "Usage: berth [GLOBAL OPTIONS] COMMAND [OPTIONS] [ARGS] [-- CMD [ARG...]]",
    "",
    "Commands:",
    ...visible.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Global options (each also read from an environment variable; the flag wins):",
    `  --root DIR            volatile state (env BERTH_ROOT, default: ${d.root})`,
    `  --data-root DIR       persistent data: logs, layers (env BERTH_DATA_ROOT, default: ${d.dataRoot})`,
    `  -n, --namespace NS    tenant namespace (env BERTH_NAMESPACE, default: ${d.namespace})`,
    `  --runtime PATH        OCI runtime CLI (env BERTH_RUNTIME, default: ${d.runtime})`,
    `  --network-dir DIR     host-wide network definitions (env BERTH_NETWORK_DIR, default: ${d.networkDir})`,
    "  --debug               stack traces and runtime command lines (env BERTH_DEBUG=1)",
    "  -h, --help            show help; berth COMMAND --help for a command's options",
    "",
    "Exit codes: 0 ok, 1 failure, 2 usage, 3 not found, 4 exists, 5 wrong status;",
    "run (foreground) and exec exit with the container process's code.",
    "",
    "Examples (the podman form: IMAGE first; the runc form: --rootfs/--bundle/--image ID -- CMD):",
    "  berth run --rm docker.io/library/busybox echo hello",
    "  berth run -d --name web docker.io/library/busybox httpd -f -p 80",
    "  berth ps -a",
    "  berth rm -f web",
    "  berth run --rootfs /srv/rootfs --rm hello -- echo hello",
    "  berth run -d --rootfs /srv/rootfs web1 -- httpd -f -p 80",
    "  berth list",
    "  berth delete -f web1",
    "",
  ].join("\n");
}

/**
 * When a berth process disarms Deno's SIGUSR1 inspector (see
 * `disarmInspectorSignal` in `lib/host/libc.ts`). Deno arms it 500 ms after
 * start, on the event loop; until then SIGUSR1 simply terminates the
 * process. Most commands are done long before, so they skip the FFI cost
 * (about 2 ms of start-up); anything that runs longer is disarmed 400 ms
 * before Deno would arm it.
 */
export const INSPECTOR_GUARD_DELAY_MS = 100;

/** berth's own umask: files and directories it makes are private whatever the caller's. */
export const BERTH_UMASK = 0o077;

/** Runs berth with `argv`; resolves to the exit code. */
export async function main(
  argv: string[],
  overrides: Partial<Context> = {},
): Promise<number> {
  // Everything berth creates is its own: umask 077 (children get 022, see process.ts).
  Deno.umask(BERTH_UMASK);
  const io: Output = overrides.io ?? stdio;
  let debug = argv.includes("--debug") || Deno.env.get("BERTH_DEBUG") === "1";
  const cancelGuard = after(INSPECTOR_GUARD_DELAY_MS, () => {
    try {
      (overrides.libc ?? libc).disarmInspectorSignal();
    } catch (err) {
      if (debug) io.err(`berth: cannot disarm SIGUSR1: ${messageOf(err)}\n`);
    }
  });
  try {
    const { globals, rest, help } = parseGlobals(argv, (k) => Deno.env.get(k));
    debug = globals.debug;
    let [name, ...args] = rest;
    if (name === "help") {
      const target = args[0] === undefined ? undefined : findCommand(args[0]);
      if (args[0] !== undefined && target === undefined) {
        throw new InvalidArgument(`unknown command "${args[0]}"`);
      }
      io.out(target ? commandHelp(await target.load()) : globalHelp(await loadCommands()));
      return 0;
    }
    if (name === undefined) {
      io.out(globalHelp(await loadCommands()));
      return help ? 0 : 2;
    }
    let entry = findCommand(name);
    if (name === "container" && args[0] !== undefined && !args[0].startsWith("-")) {
      // `container VERB ...`: the verb's command, podman's output.
      const verb = await containerVerb(args[0]);
      if (verb !== undefined) [entry, name, args] = [verb, verb.name, args.slice(1)];
    }
    if (entry === undefined) {
      throw new InvalidArgument(`unknown command "${name}" (see berth --help)`);
    }
    const cmd = await entry.load();
    if (help || helpRequested(args, cmd.options, cmd.optionsEnd)) {
      io.out(commandHelp(cmd));
      return 0;
    }
    if (cmd.command !== undefined) {
      const shape = parseCommandArgs(cmd.name, args, cmd.options);
      checkShape(cmd.name, shape, cmd.positionals ?? [], cmd.command);
    }
    const options = cmd.parse(args);
    if (cmd.skipRootCheck !== true) secureRoots(globals);
    // One absolute runtime path for this process, the monitor and the state,
    // looked up when first needed.
    resolveRuntimeOnUse(globals);
    const ctx = createContext(globals, { ...overrides, io });
    return await cmd.run(ctx, options);
  } catch (err) {
    io.err(`berth: ${messageOf(err)}\n`);
    if (debug && err instanceof Error && err.stack) io.err(`${err.stack}\n`);
    return exitCodeOf(err);
  } finally {
    cancelGuard();
  }
}
