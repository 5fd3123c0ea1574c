/**
 * The CNI 1.0.0 result of an ADD, parsed and checked against the spec's
 * schema: `cniVersion`, `interfaces` (name, mac, sandbox), `ips` (address
 * in CIDR form, gateway, interface index into `interfaces`), `routes`,
 * `dns`. A plugin answering anything else fails the ADD.
 *
 * @module
 */

import { RuntimeError } from "../host/errors.ts";
import { parseCidr, parseIpv4 } from "./_subnet.ts";

/** One interface of a result. */
export interface CniInterface {
  name: string;
  mac?: string;
  sandbox?: string;
}

/** One address of a result. */
export interface CniIp {
  address: string;
  gateway?: string;
  interface?: number;
}

/** A result (only the keys berth reads are typed; the rest is kept). */
export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: CniIp[];
  routes?: { dst: string; gw?: string }[];
  dns?: Record<string, unknown>;
  [key: string]: unknown;
}

function bad(plugin: string, what: string): never {
  throw new RuntimeError(`CNI plugin ${plugin} returned an invalid result: ${what}`);
}

function isIp(s: string): boolean {
  return parseIpv4(s) !== null || /^[0-9a-fA-F:]+$/.test(s) && s.includes(":");
}

function isCidr(s: string): boolean {
  const slash = s.lastIndexOf("/");
  if (slash < 0) return false;
  if (parseCidr(s, false) !== null) return true;
  const bits = Number(s.slice(slash + 1));
  return isIp(s.slice(0, slash)) && s.includes(":") && Number.isInteger(bits) && bits >= 0 &&
    bits <= 128;
}

/** Parses a plugin's stdout as a result; throws a RuntimeError naming the plugin. */
export function parseResult(text: string, plugin: string): CniResult {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    bad(plugin, "not JSON");
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) bad(plugin, "not an object");
  const r = v as Record<string, unknown>;
  if (typeof r.cniVersion !== "string") bad(plugin, "no cniVersion");
  const ifs = r.interfaces;
  if (ifs !== undefined) {
    if (!Array.isArray(ifs)) bad(plugin, "interfaces is not a list");
    for (const i of ifs) {
      if (typeof i !== "object" || i === null || typeof i.name !== "string" || !i.name) {
        bad(plugin, "an interface has no name");
      }
      if (i.mac !== undefined && typeof i.mac !== "string") bad(plugin, "a mac is not a string");
      if (i.sandbox !== undefined && typeof i.sandbox !== "string") {
        bad(plugin, "a sandbox is not a string");
      }
    }
  }
  const ips = r.ips;
  if (ips !== undefined) {
    if (!Array.isArray(ips)) bad(plugin, "ips is not a list");
    for (const ip of ips) {
      if (typeof ip !== "object" || ip === null || typeof ip.address !== "string") {
        bad(plugin, "an ip has no address");
      }
      if (!isCidr(ip.address)) bad(plugin, `address ${JSON.stringify(ip.address)} is no CIDR`);
      if (ip.gateway !== undefined && (typeof ip.gateway !== "string" || !isIp(ip.gateway))) {
        bad(plugin, "a gateway is not an address");
      }
      if (ip.interface !== undefined) {
        if (
          !Number.isInteger(ip.interface) || ip.interface < 0 ||
          !Array.isArray(ifs) || ip.interface >= ifs.length
        ) bad(plugin, "an ip names no interface");
      }
    }
  }
  if (r.routes !== undefined) {
    if (!Array.isArray(r.routes)) bad(plugin, "routes is not a list");
    for (const rt of r.routes) {
      if (typeof rt !== "object" || rt === null || typeof rt.dst !== "string" || !isCidr(rt.dst)) {
        bad(plugin, "a route has no valid dst");
      }
    }
  }
  if (r.dns !== undefined && (typeof r.dns !== "object" || r.dns === null)) {
    bad(plugin, "dns is not an object");
  }
  return r as CniResult;
}

/** The first IPv4 address of `r` on the interface inside the container's netns. */
export function containerIpv4(r: CniResult): string | null {
  for (const ip of r.ips ?? []) {
    const i = ip.interface === undefined ? undefined : r.interfaces?.[ip.interface];
    if (i !== undefined && i.sandbox === undefined) continue;
    const cidr = parseCidr(ip.address, false);
    if (cidr !== null) return ip.address.slice(0, ip.address.indexOf("/"));
  }
  return null;
}
