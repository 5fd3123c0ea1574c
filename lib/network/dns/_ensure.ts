/**
 * Starting berth's resolver on demand: before a container on a network
 * with DNS starts, its gateway must have the resolver on UDP port 53.
 * Already so (the host's `/proc/net/udp` says): nothing to do. A resolver
 * that runs is told (SIGHUP) to read its records and bind the new
 * gateway; none running: one is started (the same berth, hidden
 * `__resolver` command, detached into its own session with a clean
 * environment, as the monitor is). Two starting at once are harmless: the
 * second finds the first's lock and exits.
 *
 * @module
 */

import { join } from "../../_std/path.ts";
import { recordsDir, RESOLVER_LOCK, RESOLVER_PID } from "./_records.ts";
import { RESOLVER_V8_FLAGS } from "./_v8_flags.ts";
import { spawnHelper } from "../../host/helper_process.ts";

/** How long a container start waits for the resolver to listen. */
export const RESOLVER_START_TIMEOUT_MS = 5000;

/** True while something on the host listens on UDP `ip:port` (`/proc/net/udp`). */
export function udpListening(ip: string, port: number, table = readUdpTable()): boolean {
  const octets = ip.split(".").map(Number);
  const hex = (octets.reverse().map((o) => o.toString(16).padStart(2, "0")).join("") + ":" +
    port.toString(16).padStart(4, "0")).toUpperCase();
  return table.split("\n").some((line) => line.trim().split(/\s+/)[1] === hex);
}

function readUdpTable(): string {
  try {
    return Deno.readTextFileSync("/proc/net/udp");
  } catch {
    return "";
  }
}

/** True while a resolver holds the lock of `dir`. */
export function resolverAlive(dir: string): boolean {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(join(dir, RESOLVER_LOCK), { read: true });
  } catch {
    return false;
  }
  try {
    return !file.tryLockSync(false);
  } finally {
    file.close();
  }
}

/** The running resolver's pid, checked to be a `__resolver` process; null otherwise. */
export function resolverPid(dir: string): number | null {
  let pid: number;
  try {
    pid = Number(Deno.readTextFileSync(join(dir, RESOLVER_PID)).trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 1) return null;
  try {
    const argv = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0");
    return argv.includes("__resolver") ? pid : null;
  } catch {
    return null;
  }
}

/** What starting a resolver needs from the caller. */
export interface ResolverStarter {
  /** berth's own command line (`Context.self`). */
  self: readonly string[];
  /** Sleeps `ms` (the context's clock). */
  sleep: (ms: number) => Promise<void>;
}

/** Starts a resolver for `dir`; does not wait for it. */
export function spawnResolver(self: readonly string[], dir: string): void {
  spawnHelper(self, ["__resolver", dir], RESOLVER_V8_FLAGS);
}

/**
 * Makes sure the resolver of `dir` listens on `gateway`:53 (see the
 * module doc); false when it did not within the timeout.
 */
export async function ensureResolver(
  starter: ResolverStarter,
  dir: string,
  gateway: string,
): Promise<boolean> {
  // A fresh change of the records keeps a resolver up (its idle look waits for the start).
  try {
    const now = new Date();
    Deno.utimeSync(recordsDir(dir), now, now);
  } catch { /* no records yet */ }
  if (udpListening(gateway, 53)) return true;
  // Another program answers on every address (a dnsmasq without bind-interfaces):
  // the resolver cannot bind the gateway, and waiting for it would not help.
  if (udpListening("0.0.0.0", 53)) return false;
  const nudge = () => {
    const pid = resolverPid(dir);
    if (pid === null) return false;
    try {
      Deno.kill(pid, "SIGHUP");
      return true;
    } catch {
      return false;
    }
  };
  let spawnedAt = Date.now();
  if (!(resolverAlive(dir) && nudge())) spawnResolver(starter.self, dir);
  const deadline = spawnedAt + RESOLVER_START_TIMEOUT_MS;
  let delay = 2;
  for (;;) {
    await starter.sleep(delay);
    if (udpListening(gateway, 53)) return true;
    const now = Date.now();
    if (now >= deadline) return false;
    // The one we started (or nudged) may have exited on its last idle look: start another.
    if (now - spawnedAt > 1000 && !resolverAlive(dir)) {
      spawnResolver(starter.self, dir);
      spawnedAt = now;
    } else if (now - spawnedAt > 1000) {
      nudge();
      spawnedAt = now;
    }
    delay = Math.min(delay * 2, 50);
  }
}
