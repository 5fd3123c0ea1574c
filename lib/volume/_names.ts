/**
 * Volume names: the container ID rule (so a name is a safe path component).
 *
 * @module
 */

import { InvalidArgument } from "../host/errors.ts";
import { isValidId } from "../container/id.ts";

/** Returns `name` if it is a valid volume name, else throws InvalidArgument (exit 2). */
export function validateVolumeName(name: string, what = "volume"): string {
  if (!isValidId(name)) {
    throw new InvalidArgument(
      `${what}: invalid volume name "${name}" (letters and digits, with . _ - between them)`,
    );
  }
  return name;
}
