/**
 * The unix socket an OCI runtime's `--console-socket` connects to, to
 * hand over the master of the container's pseudo-terminal (`SCM_RIGHTS`).
 * Each one lives in the root's console directory (mode 0700, so only root
 * can connect) under a name starting with the owner's pid, so `gc` can
 * tell an abandoned one from one in use.
 *
 * @module
 */

import { join } from "../_std/path.ts";
import type { TerminalLibc } from "./_ffi.ts";

/** A listening console socket. */
export class ConsoleSocket {
  private constructor(
    readonly lib: TerminalLibc,
    readonly path: string,
    readonly fd: number,
  ) {}

  /** Creates a console socket in `dir` (created with mode 0700 if missing). */
  static create(lib: TerminalLibc, dir: string): ConsoleSocket {
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    Deno.chmodSync(dir, 0o700);
    const path = join(dir, `${Deno.pid}-${crypto.randomUUID().slice(0, 8)}.sock`);
    return new ConsoleSocket(lib, path, lib.listenUnix(path));
  }

  /**
   * The master the runtime sent (it sends before its `create`, `run -d` or
   * `exec -d` returns), made non-blocking. Throws if none arrived.
   */
  receive(): number {
    const got = this.lib.receiveFd(this.fd);
    if (got === null) throw new Error("the runtime sent no terminal on its console socket");
    this.lib.setNonblocking(got.fd);
    return got.fd;
  }

  /** Closes and removes the socket. */
  close(): void {
    this.lib.close(this.fd);
    try {
      Deno.removeSync(this.path);
    } catch { /* gone */ }
  }
}

/** Pid of the process that made console socket `name`, or null. */
export function consoleSocketOwner(name: string): number | null {
  const m = /^(\d+)-[0-9a-f]{8}\.sock$/.exec(name);
  return m === null ? null : Number(m[1]);
}

/** A console socket lives no longer than one runtime call (30 s at most). */
const STALE_AFTER_MS = 60_000;

/**
 * Console sockets in `dir` left by a process that died before removing
 * its own (gc): the owner is gone, or it is older than any runtime call.
 */
export function staleConsoleSockets(dir: string, now = Date.now()): string[] {
  let names: string[];
  try {
    names = [...Deno.readDirSync(dir)].map((e) => e.name);
  } catch {
    return [];
  }
  const stale: string[] = [];
  for (const name of names.sort()) {
    const path = join(dir, name);
    const owner = consoleSocketOwner(name);
    let ownerAlive = false;
    try {
      ownerAlive = owner !== null && Deno.statSync(`/proc/${owner}`).isDirectory;
    } catch { /* gone */ }
    let old = false;
    try {
      old = now - (Deno.lstatSync(path).mtime?.getTime() ?? 0) > STALE_AFTER_MS;
    } catch {
      continue; // removed meanwhile
    }
    if (!ownerAlive || old) stale.push(path);
  }
  return stale;
}
