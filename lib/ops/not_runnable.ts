/**
 * A container command the OCI runtime refused to launch because it cannot
 * be found (127 in podman's codes) or cannot be executed (126: permission
 * denied, a directory, not an executable), read from the runtime's error
 * (`exec: "X": executable file not found in $PATH`). Such a container is
 * kept, created and never launched (`launchError`), as podman keeps it;
 * `start` launches it again. Every other failure keeps berth's codes.
 *
 * @module
 */

import { messageOf, WrongState } from "../host/errors.ts";

const NOT_FOUND =
  /exec: "[^"]*": (executable file not found|(stat [^:]*: )?no such file or directory)/;
const CANNOT_RUN = /exec: "[^"]*": (permission denied|is a directory|exec format error)/;

/** 127 or 126 when `err` says the container's command is missing or cannot run, else null. */
export function notRunnableCode(err: unknown): number | null {
  const m = messageOf(err);
  if (NOT_FOUND.test(m)) return 127;
  if (CANNOT_RUN.test(m)) return 126;
  return null;
}

/**
 * Refuses `verb` on a container kept after its command was refused (created,
 * no runtime container): only `start`, `rm`, `stop` (nothing to stop) and
 * the readers apply to it.
 */
export function refuseUnlaunched(
  s: { id: string; status: string; launchError?: string },
  verb: string,
): void {
  if (s.status === "created" && s.launchError !== undefined) {
    throw new WrongState(`cannot ${verb} "${s.id}": its command was never launched`);
  }
}
