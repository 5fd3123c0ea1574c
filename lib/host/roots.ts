/**
 * The roots are berth's trust anchor: everything under them is private to
 * root. Before a command uses them, {@linkcode secureRoots} refuses a root
 * that someone else owns or may write (they could plant directories and
 * state files that root then acts on) and tightens one others may enter
 * to 0700, so nothing below it (container files, logs, the monitor's
 * socket) can be reached by other users.
 *
 * @module
 */

import { RuntimeError } from "./errors.ts";

/** The mode of the roots and of every directory berth makes under them. */
export const PRIVATE_DIR_MODE = 0o700;

/** The mode of every file berth makes under the roots. */
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Checks one root: absent is fine (it is made 0700 when first needed);
 * else it must be a directory owned by `euid` (root), writable by nobody
 * else; group or other access bits are removed. Throws RuntimeError.
 */
export function secureRoot(path: string, euid: number): void {
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  const mode = (st.mode ?? 0) & 0o7777;
  if (!st.isDirectory) throw new RuntimeError(`refusing root ${path}: not a directory`);
  if (st.uid !== euid) {
    throw new RuntimeError(
      `refusing root ${path}: it is owned by uid ${st.uid}, not ${
        euid === 0 ? "root" : `uid ${euid}`
      } (chown root:root ${path} && chmod 0700 ${path})`,
    );
  }
  if ((mode & 0o022) !== 0) {
    throw new RuntimeError(
      `refusing root ${path}: others may write it (mode ${
        mode.toString(8).padStart(4, "0")
      }; chmod 0700 ${path})`,
    );
  }
  if ((mode & 0o077) !== 0) Deno.chmodSync(path, PRIVATE_DIR_MODE);
}

/** {@linkcode secureRoot} for both roots, for the current effective user. */
export function secureRoots(roots: { root: string; dataRoot: string }, euid = Deno.uid()): void {
  secureRoot(roots.root, euid ?? 0);
  secureRoot(roots.dataRoot, euid ?? 0);
}
