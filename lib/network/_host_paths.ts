/**
 * Where the host-wide network state lives, from `--network-dir`: the
 * definitions in the directory itself, and the runtime state every root
 * shares (host-local's address allocations, the leases that say which
 * root's container holds each, the host-wide lock) in a volatile directory
 * beside it: `/run/berth/networks` for the default directory, `DIR/run`
 * for any other, so a test that moves the directory isolates all of it.
 *
 * @module
 */

import { join } from "../_std/path.ts";
import { RuntimeError } from "../host/errors.ts";

/** The default `--network-dir`. */
export const DEFAULT_NETWORK_DIR = "/etc/berth/networks";
/** The runtime state of the default network directory. */
export const DEFAULT_NETWORK_RUN_DIR = "/run/berth/networks";

/** The host-wide network directories. */
export interface HostNetworkPaths {
  /** The network definitions (`NAME.conflist`). */
  configDir: string;
  /** Allocations (`ipam/`), leases (`leases/`), the lock (`lock`). */
  runDir: string;
}

/** The host-wide directories of network directory `dir` (absolute). */
export function hostNetworkPaths(dir: string): HostNetworkPaths {
  const configDir = dir.length > 1 ? dir.replace(/\/+$/, "") : dir;
  return {
    configDir,
    runDir: configDir === DEFAULT_NETWORK_DIR ? DEFAULT_NETWORK_RUN_DIR : join(configDir, "run"),
  };
}

/**
 * Refuses a network directory that another user owns or may write: its
 * definitions name the bridges berth makes and removes as root. Absent is
 * fine (made on first use, 0755: definitions are not secret, as podman's).
 */
export function secureNetworkDir(dir: string, euid: number = Deno.uid() ?? 0): void {
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(dir);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw err;
  }
  const mode = (st.mode ?? 0) & 0o7777;
  if (!st.isDirectory) throw new RuntimeError(`refusing --network-dir ${dir}: not a directory`);
  if (st.uid !== euid) {
    throw new RuntimeError(
      `refusing --network-dir ${dir}: it is owned by uid ${st.uid} (chown root:root ${dir})`,
    );
  }
  if ((mode & 0o022) !== 0) {
    throw new RuntimeError(
      `refusing --network-dir ${dir}: others may write it (mode ${
        mode.toString(8).padStart(4, "0")
      }; chmod 0755 ${dir})`,
    );
  }
}
