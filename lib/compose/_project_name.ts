/**
 * Project names, normalised to berth's ID rules (lowercase, `[a-z0-9-]`,
 * no leading or trailing separator), so `PROJECT-SERVICE-N` is a valid
 * container ID and `PROJECT_default` a valid network name.
 *
 * @module
 */

import { InvalidArgument } from "../host/errors.ts";

/** Normalises `name`; InvalidArgument (exit 2) when nothing is left. */
export function normalizeProjectName(name: string, what: string): string {
  const n = name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  if (n === "") {
    throw new InvalidArgument(`${what} "${name}" has no letter or digit to name the project by`);
  }
  return n.slice(0, 40).replace(/-+$/, "");
}
