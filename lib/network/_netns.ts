/**
 * Persistent network namespaces, like podman's: a fresh namespace
 * bind-mounted on FILE (in-process, `_ffi.ts`; util-linux `unshare
 * --net=FILE true` where that fails), so
 * it exists before the container (CNI ADD runs on it, the OCI config's
 * network namespace path points at it) and after it (CNI DEL runs on it:
 * the bridge plugin finds the container's addresses there to remove its
 * masquerade rules). Removing it is an unmount and an unlink.
 *
 * @module
 */

import { isNotFound, RuntimeError } from "../host/errors.ts";
import { ErrnoError, type Libc } from "../host/libc.ts";
import { dirname } from "../_std/path.ts";
import type { ProcessRunner } from "../host/process.ts";
import { parseMountInfo } from "../host/mounts.ts";
import { newNetnsAt } from "./_ffi.ts";

const MNT_DETACH = 2;

/** Makes a new network namespace bound to `file` (which must not exist). */
export async function createNetns(
  file: string,
  runner: ProcessRunner,
  onFile: () => void = () => {},
): Promise<void> {
  Deno.mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  Deno.writeFileSync(file, new Uint8Array(), { createNew: true, mode: 0o600 });
  onFile();
  try {
    // In-process (_ffi.ts): what `unshare --net=FILE true` does, without its fork and exec.
    newNetnsAt(file);
    return;
  } catch (err) {
    if (!(err instanceof ErrnoError) && !(err instanceof Deno.errors.NotCapable)) throw err;
  }
  const r = await runner.exec({ argv: ["unshare", `--net=${file}`, "true"], timeoutMs: 10_000 });
  if (r.code !== 0) {
    throw new RuntimeError(`cannot create a network namespace: ${r.stderr.trim() || r.code}`);
  }
}

/** True when `file` is a bound namespace (a mount point). */
export function isNetnsMounted(file: string): boolean {
  try {
    // mountinfo escapes a space, tab, newline or backslash in a path
    // (`\040`): compared raw, a root with one in its path was never seen
    // mounted, and DEL then ran without a namespace (the bridge plugin then
    // skips its masquerade's tear-down).
    return parseMountInfo(Deno.readTextFileSync("/proc/self/mountinfo")).includes(file);
  } catch {
    return false;
  }
}

/** Unmounts (lazily) and removes `file`; nothing there is fine. */
export function removeNetns(file: string, libc: Libc): void {
  for (let i = 0; i < 8 && isNetnsMounted(file); i++) {
    try {
      libc.umount(file, MNT_DETACH);
    } catch (err) {
      if (err instanceof ErrnoError && (err.errno === 22 || err.errno === 2)) break;
      throw new RuntimeError(`cannot unmount the network namespace ${file}: ${err}`);
    }
  }
  try {
    Deno.removeSync(file);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}
