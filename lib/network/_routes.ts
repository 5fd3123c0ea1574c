/**
 * The host's IPv4 routes (`/proc/net/route`), to refuse a network whose
 * subnet another interface already routes (a host network, podman's
 * bridge, a berth bridge of another network directory; stale berth
 * bridges are removed before this check, see `ensureNetwork`). Two bridges
 * with one subnet would each take half of the traffic.
 *
 * @module
 */

import { RuntimeError } from "../host/errors.ts";
import { formatSubnet, overlaps, type Subnet } from "./_subnet.ts";

/** One route: the interface and the destination subnet. */
export interface Route {
  iface: string;
  dest: Subnet;
}

function leHex(h: string): number {
  const n = parseInt(h, 16);
  return (((n & 255) << 24) | (((n >>> 8) & 255) << 16) | (((n >>> 16) & 255) << 8) |
    ((n >>> 24) & 255)) >>> 0;
}

function bitsOf(mask: number): number {
  let bits = 0;
  while (bits < 32 && ((mask << bits) & 0x80000000) !== 0) bits++;
  return bits;
}

/** Parses the text of `/proc/net/route`. */
export function parseRoutes(text: string): Route[] {
  const out: Route[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const mask = leHex(f[7]!);
    out.push({ iface: f[0]!, dest: { base: (leHex(f[1]!) & mask) >>> 0, bits: bitsOf(mask) } });
  }
  return out;
}

/**
 * Throws when an interface other than `bridge` routes part of `subnet`
 * (default routes aside).
 */
export function checkSubnetUnrouted(
  network: string,
  subnet: Subnet,
  bridge: string,
  routes: Route[] = readRoutes(),
): void {
  for (const r of routes) {
    if (r.dest.bits === 0 || r.iface === bridge) continue;
    if (overlaps(r.dest, subnet)) {
      const why = r.iface.startsWith("bth-")
        ? "a bridge of berth with containers on it, from another --network-dir"
        : "an interface of the host's";
      const what = `its subnet ${formatSubnet(subnet)} is already routed through ${r.iface}`;
      throw new RuntimeError(
        `network "${network}": ${what} (${formatSubnet(r.dest)}; ${why})`,
      );
    }
  }
}

/** The host's routes now (none when /proc/net/route cannot be read). */
export function readRoutes(): Route[] {
  try {
    return parseRoutes(Deno.readTextFileSync("/proc/net/route"));
  } catch {
    return [];
  }
}
