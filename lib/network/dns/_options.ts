/**
 * The name options of `create`/`run`, checked before anything is made:
 * `--dns IP` (the container's nameservers instead of its network's),
 * `--add-host NAME:IP` (a line of its `/etc/hosts`), `--network-alias A`
 * (another name it is found by on its network).
 *
 * @module
 */

import { InvalidArgument } from "../../host/errors.ts";
import { parseIpv4 } from "./_message.ts";

/** An IPv4 address, or an IPv6 one (in the usual text forms). */
export function isIpAddress(text: string): boolean {
  if (parseIpv4(text) !== null) return true;
  if (!/^[0-9a-fA-F:.]+$/.test(text) || !text.includes(":")) return false;
  try {
    new URL(`http://[${text}]/`);
    return true;
  } catch {
    return false;
  }
}

/** A DNS name: labels of letters, digits, `-` and `_` (not at a label's ends), at most 253. */
export function isDnsName(text: string): boolean {
  return text.length <= 253 &&
    text.split(".").every((l) => /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/.test(l));
}

/** `--dns` values: IP addresses. */
export function parseDnsServers(values: string[]): string[] {
  for (const v of values) {
    if (!isIpAddress(v)) throw new InvalidArgument(`--dns "${v}" is not an IP address`);
  }
  return values;
}

/** `--add-host` values: `NAME:IP` (IPv6 after the first colon), kept as given. */
export function parseAddHosts(values: string[]): string[] {
  for (const v of values) {
    const at = v.indexOf(":");
    const name = at < 0 ? "" : v.slice(0, at);
    const ip = at < 0 ? "" : v.slice(at + 1);
    if (!isDnsName(name) || !isIpAddress(ip)) {
      throw new InvalidArgument(`--add-host "${v}" must be NAME:IP (e.g. db:10.89.0.5)`);
    }
  }
  return values;
}

/** `--network-alias` values: DNS names, lower case, each once. */
export function parseNetworkAliases(values: string[]): string[] {
  for (const v of values) {
    if (!isDnsName(v)) {
      throw new InvalidArgument(`--network-alias "${v}" is not a valid DNS name`);
    }
  }
  return [...new Set(values.map((v) => v.toLowerCase()))];
}

/** The `/etc/hosts` lines of `--add-host` values (`IP\tNAME`). */
export function addHostLines(values: readonly string[]): string[] {
  return values.map((v) => {
    const at = v.indexOf(":");
    return `${v.slice(at + 1)}\t${v.slice(0, at)}`;
  });
}
