/**
 * IPv4 addresses and subnets: parsing (strict, canonical), overlap, the
 * gateway (first host).
 *
 * @module
 */

/** An IPv4 subnet: network address (as a 32-bit number) and prefix length. */
export interface Subnet {
  base: number;
  bits: number;
}

/** Parses a dotted IPv4 address to a 32-bit number; null when malformed. */
export function parseIpv4(s: string): number | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) return null;
    n = n * 256 + Number(p);
  }
  return n;
}

/** Formats a 32-bit number as a dotted IPv4 address. */
export function formatIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");
}

function mask(bits: number): number {
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/**
 * Parses `A.B.C.D/N`. With `canonical`, host bits must be zero (a subnet,
 * not an address in one). Null when malformed.
 */
export function parseCidr(s: string, canonical = true): Subnet | null {
  const m = /^([0-9.]+)\/([0-9]{1,2})$/.exec(s);
  if (m === null) return null;
  const ip = parseIpv4(m[1]!);
  const bits = Number(m[2]);
  if (ip === null || bits > 32) return null;
  const base = (ip & mask(bits)) >>> 0;
  if (canonical && base !== ip) return null;
  return { base, bits };
}

/** `A.B.C.D/N`. */
export function formatSubnet(s: Subnet): string {
  return `${formatIpv4(s.base)}/${s.bits}`;
}

/** True when the two subnets share an address. */
export function overlaps(a: Subnet, b: Subnet): boolean {
  const bits = Math.min(a.bits, b.bits);
  return ((a.base & mask(bits)) >>> 0) === ((b.base & mask(bits)) >>> 0);
}

/** True when `ip` lies in `s`. */
export function contains(s: Subnet, ip: number): boolean {
  return ((ip & mask(s.bits)) >>> 0) === s.base;
}

/** The gateway berth gives a subnet: its first host address. */
export function gatewayOf(s: Subnet): string {
  return formatIpv4(s.base + 1);
}

/**
 * Ranges a bridge network may not take (RFC 6890 special-purpose blocks a
 * bridge must never route): "this network", loopback, link-local,
 * multicast, and the reserved class E block with the limited broadcast
 * address. Routing one through a bridge hands a container the host's own
 * traffic (or the kernel's) for that range.
 */
export const RESERVED_SUBNETS: readonly { subnet: Subnet; what: string }[] = [
  { subnet: { base: 0x00000000, bits: 8 }, what: '"this network"' },
  { subnet: { base: 0x7f000000, bits: 8 }, what: "loopback" },
  { subnet: { base: 0xa9fe0000, bits: 16 }, what: "link-local" },
  { subnet: { base: 0xe0000000, bits: 4 }, what: "multicast" },
  { subnet: { base: 0xf0000000, bits: 4 }, what: "reserved, with the broadcast address" },
];

/** The first reserved range `s` overlaps, or null. */
export function reservedOverlap(s: Subnet): { subnet: Subnet; what: string } | null {
  return RESERVED_SUBNETS.find((r) => overlaps(r.subnet, s)) ?? null;
}
