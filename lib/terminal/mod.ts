/**
 * Terminals: a container's pseudo-terminal and berth's side of it.
 *
 * What it offers: the libc calls terminals need, opened on first use
 * ({@linkcode terminalLibc}) and a poll loop over descriptors
 * ({@linkcode Poller}); the console socket runc sends a pty master to
 * ({@linkcode ConsoleSocket}, {@linkcode staleConsoleSockets} for `gc`);
 * the monitor's holder of a container's terminal or stdin pipe, which
 * clients attach to by frames ({@linkcode TerminalHolder}); the client's
 * session, raw mode and window size included ({@linkcode runSession},
 * {@linkcode MonitorEnd}); `exec -t` ({@linkcode execWithTerminal}); and the
 * check that `-t` is used on a terminal ({@linkcode checkTerminalUse}).
 *
 * The monitor (holding terminals) and the resolver (its poll loop) load
 * this module too, so `exec -t`, which brings container code with it, is
 * loaded only when it is called.
 *
 * This module is the folder's only entry from outside it; the `_`-prefixed
 * modules beside it are private (tests/layers_test.ts checks it).
 *
 * @module
 */

import type * as Exec from "./_exec.ts";

export { checkTerminalUse } from "./_checks.ts";
export { ConsoleSocket, staleConsoleSockets } from "./_console_socket.ts";
export { EAGAIN, POLLIN, terminalLibc } from "./_ffi.ts";
export { TerminalHolder } from "./_holder.ts";
export { Poller } from "./_poller.ts";
export { MonitorEnd, runSession } from "./_session.ts";

/**
 * `exec -t`: runs the process of `processFile` in a container with a
 * terminal and returns its exit code (see `_exec.ts`, loaded on the first
 * call).
 */
export async function execWithTerminal(
  ...args: Parameters<typeof Exec.execWithTerminal>
): ReturnType<typeof Exec.execWithTerminal> {
  return await (await import("./_exec.ts")).execWithTerminal(...args);
}
