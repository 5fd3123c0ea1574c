/**
 * `--cap-add CAP` / `--cap-drop CAP`: names checked against the known set
 * (with or without `CAP_`, any case), `ALL` for every one. Drops apply
 * first, then adds (`--cap-drop ALL --cap-add NET_ADMIN` leaves one).
 *
 * @module
 */

import { InvalidArgument } from "../host/errors.ts";
import { ALL_CAPABILITIES, capabilitySets, hostCapabilities } from "../host/security.ts";

/** A capability's canonical name (`CAP_NET_ADMIN`) or `ALL`; exit 2 for an unknown one. */
export function canonicalCapability(name: string, what: string): string {
  const upper = name.toUpperCase();
  if (upper === "ALL") return "ALL";
  const full = upper.startsWith("CAP_") ? upper : `CAP_${upper}`;
  if (!ALL_CAPABILITIES.includes(full)) {
    throw new InvalidArgument(`${what} "${name}": no such capability`);
  }
  return full;
}

/** Canonical names of `--cap-add`/`--cap-drop` values (parse time). */
export function canonicalCapabilities(values: readonly string[], what: string): string[] {
  return [...new Set(values.map((v) => canonicalCapability(v, what)))];
}

/**
 * The capability sets after dropping `drop` from and adding `add` to
 * `current` (the config's bounding set). `ALL` among the adds is every
 * capability berth itself holds (asking the runtime for more fails).
 */
export function adjustCapabilities(
  current: readonly string[],
  add: readonly string[],
  drop: readonly string[],
  host: readonly string[] = hostCapabilities(),
): Record<string, string[]> {
  let caps = drop.includes("ALL") ? [] : current.filter((c) => !drop.includes(c));
  const adding = add.includes("ALL") ? host : add;
  for (const c of adding) if (!caps.includes(c)) caps = [...caps, c];
  return capabilitySets(caps);
}
