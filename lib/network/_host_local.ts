/**
 * The CNI host-local IPAM plugin's allocation, in-process, on the same
 * files (containernetworking-plugins 1.1.1's disk store), so berth's own
 * set-up, the plugin (the CNI fallback, an older berth's records) and `gc`
 * read one another's allocations: in `DATADIR/NETWORK/`, one file per
 * address named by it and holding `ID\r\nIFNAME`, `last_reserved_ip.0`
 * holding the last address handed out (the next search starts after it,
 * round robin), and `lock`, flock'd while the directory changes. Addresses
 * run from the subnet's first host to the one before its broadcast; the
 * gateway is never handed out.
 *
 * @module
 */

import { isNotFound, RuntimeError, WrongState } from "../host/errors.ts";
import { join } from "../_std/path.ts";
import { contains, formatIpv4, parseIpv4, type Subnet } from "./_subnet.ts";

const LAST_RESERVED = "last_reserved_ip.0";

/** Runs `fn` with `DIR/lock` flock'd (the plugin's own lock). */
function locked<T>(dir: string, fn: () => T): T {
  Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const f = Deno.openSync(join(dir, "lock"), { create: true, write: true, mode: 0o600 });
  try {
    f.lockSync(true);
    return fn();
  } finally {
    f.close();
  }
}

function ownerOf(file: string): string | null {
  try {
    return Deno.readTextFileSync(file).split(/\r?\n/)[0]?.trim() ?? "";
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

/** Writes the reservation file; false when the address is taken. */
function reserve(dir: string, ip: string, id: string, ifName: string): boolean {
  try {
    Deno.writeTextFileSync(join(dir, ip), `${id}\r\n${ifName}`, { createNew: true, mode: 0o600 });
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) return false;
    throw err;
  }
  Deno.writeTextFileSync(join(dir, LAST_RESERVED), ip, { mode: 0o600 });
  return true;
}

/**
 * Allocates an address of `subnet` on network `network` to container `id`
 * (interface `ifName`): `requested` when given (WrongState when taken),
 * else the next free one after the last handed out. Returns it.
 */
export function allocate(
  dataDir: string,
  network: string,
  subnet: Subnet,
  gateway: string,
  id: string,
  ifName: string,
  requested: string | null = null,
): string {
  const dir = join(dataDir, network);
  return locked(dir, () => {
    if (requested !== null) {
      if (!reserve(dir, requested, id, ifName)) {
        throw new WrongState(`address ${requested} of network "${network}" is taken`);
      }
      return requested;
    }
    const first = subnet.base + 1;
    const last = subnet.base + 2 ** (32 - subnet.bits) - 2;
    const size = last - first + 1;
    let start = first;
    const prev = parseIpv4(ownerOf(join(dir, LAST_RESERVED)) ?? "");
    if (prev !== null && contains(subnet, prev) && prev >= first && prev <= last) {
      start = prev + 1 > last ? first : prev + 1;
    }
    const gw = parseIpv4(gateway);
    for (let i = 0; i < size; i++) {
      const n = first + ((start - first + i) % size);
      if (n === gw) continue;
      const ip = formatIpv4(n);
      if (reserve(dir, ip, id, ifName)) return ip;
    }
    throw new RuntimeError(`network "${network}" has no free address left`);
  });
}

/** The address allocated to `id` on `network`, or null. */
export function allocatedTo(dataDir: string, network: string, id: string): string | null {
  const dir = join(dataDir, network);
  try {
    for (const e of Deno.readDirSync(dir)) {
      if (!/^[0-9.]+$/.test(e.name)) continue;
      if (ownerOf(join(dir, e.name)) === id) return e.name;
    }
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  return null;
}

/** Releases every address of `id` on `network` (none is fine). */
export function release(dataDir: string, network: string, id: string): void {
  const dir = join(dataDir, network);
  try {
    Deno.statSync(dir);
  } catch (err) {
    if (isNotFound(err)) return;
    throw err;
  }
  locked(dir, () => {
    for (const e of Deno.readDirSync(dir)) {
      if (!/^[0-9.]+$/.test(e.name)) continue;
      if (ownerOf(join(dir, e.name)) !== id) continue;
      try {
        Deno.removeSync(join(dir, e.name));
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  });
}
