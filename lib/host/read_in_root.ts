/**
 * Reading a small file of a container's root filesystem (its
 * `/etc/passwd`, `/etc/group`) from the host, where the file is untrusted:
 * no component of its path may be a symbolic link (an image's
 * `/etc/passwd -> /etc/shadow` would otherwise be resolved against the
 * host's own root), the file must be a regular file (never `/dev/zero` or a
 * FIFO), and at most {@linkcode ROOT_FILE_CAP} bytes are read.
 *
 * A root is one directory tree or an image's layer directories, topmost
 * first; as in overlayfs, the topmost layer that has something at a path
 * decides: a link, device, whiteout or oversized file there hides the layers
 * below and reads as no file.
 *
 * @module
 */

import { join } from "../_std/path.ts";

/** The most bytes read from a file of a root filesystem (4 MiB). */
export const ROOT_FILE_CAP = 4 << 20;

type Found = "absent" | "hidden" | Deno.FileInfo;

/** What is at `rel` (components joined by `/`) under `root`, never following a link. */
function lookup(root: string, rel: string): Found {
  let path = root;
  const parts = rel.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.some((p) => p === "..")) return "hidden";
  for (let i = 0; i < parts.length; i++) {
    path = join(path, parts[i]!);
    let info: Deno.FileInfo;
    try {
      info = Deno.lstatSync(path);
    } catch (err) {
      return err instanceof Deno.errors.NotFound ? "absent" : "hidden";
    }
    const last = i === parts.length - 1;
    if (last ? !info.isFile : !info.isDirectory) return "hidden";
    if (last) return info;
  }
  return "hidden";
}

/** Reads at most `cap + 1` bytes of `file`. */
function readCapped(file: Deno.FsFile, cap: number): Uint8Array | null {
  const buf = new Uint8Array(cap + 1);
  let n = 0;
  while (n < buf.length) {
    const got = file.readSync(buf.subarray(n));
    if (got === null) break;
    n += got;
  }
  return n > cap ? null : buf.subarray(0, n);
}

/**
 * The text of `rel` (e.g. `etc/passwd`) in the root filesystem `roots`
 * (one directory, or layer directories topmost first), or null when it is
 * missing, is reached through a symbolic link, is not a regular file, or
 * is over `cap` bytes. The file opened is checked (device and inode) to be
 * the one examined, so a link swapped in meanwhile is not read either.
 */
export function readInRoot(
  roots: string | readonly string[],
  rel: string,
  cap: number = ROOT_FILE_CAP,
): string | null {
  for (const root of typeof roots === "string" ? [roots] : roots) {
    const found = lookup(root, rel);
    if (found === "absent") continue;
    if (found === "hidden" || found.size > cap) return null;
    const path = join(root, rel);
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(path, { read: true });
    } catch {
      return null;
    }
    try {
      const now = file.statSync();
      if (!now.isFile || now.ino !== found.ino || now.dev !== found.dev) return null;
      const bytes = readCapped(file, cap);
      return bytes === null ? null : new TextDecoder().decode(bytes);
    } finally {
      file.close();
    }
  }
  return null;
}
