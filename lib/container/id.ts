/**
 * Container IDs and namespaces: validation (before any path is built from
 * them) and unique-prefix resolution.
 *
 * @module
 */

import { InvalidArgument, NotFound } from "../host/errors.ts";

/** The contract's ID rule; namespaces follow the same rule. */
export const ID_PATTERN = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;

/** The longest valid ID. */
export const ID_MAX_LENGTH = 76;

/** The longest hostname the kernel takes (`sethostname`, HOST_NAME_MAX). */
export const HOSTNAME_MAX_LENGTH = 64;

/**
 * The hostname of container `id`: the ID itself, or for a longer ID its
 * first 55 characters, "-" and 8 hex digits of a hash of the whole ID
 * (64 in all), so two long IDs with one prefix still differ.
 */
export function hostnameOf(id: string): string {
  if (id.length <= HOSTNAME_MAX_LENGTH) return id;
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(id)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `${id.slice(0, HOSTNAME_MAX_LENGTH - 9)}-${h.toString(16).padStart(8, "0")}`;
}

/** A prefix may stop anywhere an ID may continue, e.g. `web-` of `web-1`. */
const PREFIX_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** True when `id` is a valid container ID (or namespace name). */
export function isValidId(id: string): boolean {
  return id.length <= ID_MAX_LENGTH && ID_PATTERN.test(id);
}

function describe(value: string): string {
  return JSON.stringify(value.length > 90 ? value.slice(0, 87) + "..." : value);
}

/**
 * Returns `id` if it is a valid container ID, else throws InvalidArgument.
 * `what` names the thing in the message ("container ID", "namespace").
 */
export function validateId(id: string, what = "container ID"): string {
  if (id.length === 0) throw new InvalidArgument(`invalid ${what} "": must not be empty`);
  if (id.length > ID_MAX_LENGTH) {
    throw new InvalidArgument(
      `invalid ${what} ${describe(id)}: longer than ${ID_MAX_LENGTH} characters`,
    );
  }
  if (!ID_PATTERN.test(id)) {
    throw new InvalidArgument(
      `invalid ${what} ${
        describe(id)
      }: use letters, digits and single ".", "_" or "-" between them`,
    );
  }
  return id;
}

/** Validates a namespace name (same rules as IDs). */
export function validateNamespace(ns: string): string {
  return validateId(ns, "namespace");
}

/** Validates a reference that may be a full ID or a prefix of one. */
export function validateReference(ref: string): string {
  if (ref.length === 0) throw new InvalidArgument(`invalid container ID "": must not be empty`);
  if (ref.length > ID_MAX_LENGTH || !PREFIX_PATTERN.test(ref)) {
    // Reuse the full rule's message: a bad reference is a bad ID.
    validateId(ref);
  }
  return ref;
}

/**
 * Resolves `ref` against the IDs that exist: an exact match always wins;
 * otherwise exactly one ID must start with `ref`.
 *
 * `exists(id)` answers the exact check cheaply (no directory scan);
 * `list()` is called only when the exact check fails, and its entries
 * that start with `ref` are checked with `exists` too.
 */
export async function resolveId(
  ref: string,
  exists: (id: string) => Promise<boolean>,
  list: () => Promise<string[]>,
): Promise<string> {
  validateReference(ref);
  if (await exists(ref)) return ref;
  const candidates = (await list()).filter((id) => id.startsWith(ref)).sort();
  // Only IDs that exist count (a listing may hold leftovers without state).
  const present = await Promise.all(candidates.map(exists));
  const matches = candidates.filter((_, i) => present[i]);
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw new NotFound(`container "${ref}" not found`);
  const shown = matches.length > 10
    ? [...matches.slice(0, 10), `and ${matches.length - 10} more`]
    : matches;
  throw new InvalidArgument(`"${ref}" is ambiguous: it matches ${shown.join(", ")}`);
}
