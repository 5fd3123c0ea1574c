/**
 * Resolving a path inside a root directory the way the root's own
 * processes see it, without ever leaving the root: what docker's
 * FollowSymlinkInScope does, but on descriptors, so a symlink swapped while
 * berth resolves or copies cannot send it elsewhere.
 *
 * Each component is opened with `openat(parent, name, O_PATH | O_NOFOLLOW)`:
 * the kernel follows no symlink and sees no `..`. A symlink is read
 * (readlinkat on its own descriptor) and its text resolved here: an
 * absolute target starts again at the root, `..` pops the stack of
 * descriptors and never goes above the root. What a name refers to is
 * decided once, by the descriptor opened for it; renaming or replacing
 * the name afterwards changes nothing for berth.
 *
 * Mounts: descriptors opened under `/proc/PID/root` walk the container's
 * own mount tree (volumes, tmpfs and binds included), so a running
 * container needs no table. A stopped container's rootfs has no mounts:
 * {@linkcode ScopedRoot.mounts} maps a container path to the host
 * directory that is mounted there when it runs (a volume's data).
 *
 * @module
 */

import {
  closeFd,
  ELOOP,
  ENOENT,
  ENOTDIR,
  errnoOf,
  kindOf,
  O_DIRECTORY,
  O_NOFOLLOW,
  O_PATH,
  openAt,
  readLinkFd,
  statFd,
} from "./at_file.ts";
import { ErrnoError } from "./libc.ts";

/** Symlinks followed in one resolution before it fails with ELOOP (Linux's limit). */
export const MAX_SYMLINKS = 40;

/** A directory mounted at a path of the root (stopped containers only). */
export interface ScopedMount {
  /** Absolute, clean path inside the root. */
  destination: string;
  /** Opens the directory mounted there: an O_PATH descriptor the caller closes. */
  open(): number;
  readOnly: boolean;
}

/** A root to resolve in: a directory descriptor (kept open by its owner) and its mounts. */
export interface ScopedRoot {
  fd: number;
  mounts: readonly ScopedMount[];
  /** The root itself is mounted read-only (`--read-only`). */
  readOnly: boolean;
}

/** A path that exists. */
export interface Found {
  kind: "found";
  /** O_PATH descriptor of it (of a symlink itself when the last link was not followed); caller closes. */
  fd: number;
  /** Its path inside the root, symlinks resolved: `/` or `/a/b`. */
  path: string;
  /** It lies on a read-only mount (or a read-only root). */
  readOnly: boolean;
  /** O_PATH descriptor of the directory holding it (null for the root); caller closes. */
  parentFd: number | null;
  /** Its name in that directory (`""` for the root). */
  name: string;
}

/** A path whose directory exists and whose last name does not. */
export interface Missing {
  kind: "missing";
  /** O_PATH descriptor of the directory; caller closes. */
  parentFd: number;
  /** The missing name in it. */
  name: string;
  /** The missing path inside the root. */
  path: string;
  readOnly: boolean;
}

/** Options of {@linkcode resolveInRoot}. */
export interface ResolveOptions {
  /** Follow a symlink in the last component too (default true). */
  followLast?: boolean;
}

/** The components of a path: no empty ones, no `.`. */
export function components(path: string): string[] {
  return path.split("/").filter((c) => c !== "" && c !== ".");
}

interface Level {
  fd: number;
  name: string;
  readOnly: boolean;
}

/**
 * Resolves `path` (relative paths count from the root) inside `root`.
 * Throws ErrnoError ENOENT when a directory on the way is missing, ENOTDIR
 * when one is not a directory, ELOOP after {@linkcode MAX_SYMLINKS} links;
 * a missing last name is a {@linkcode Missing}.
 */
export function resolveInRoot(
  root: ScopedRoot,
  path: string,
  options: ResolveOptions = {},
): Found | Missing {
  const followLast = options.followLast ?? true;
  const stack: Level[] = [{
    fd: openAt(root.fd, ".", O_PATH | O_DIRECTORY),
    name: "",
    readOnly: root.readOnly,
  }];
  const pathOf = (extra?: string) =>
    "/" + [...stack.slice(1).map((l) => l.name), ...(extra === undefined ? [] : [extra])].join("/");
  const popTo = (n: number) => {
    while (stack.length > n) closeFd(stack.pop()!.fd);
  };
  const queue = components(path);
  let links = 0;
  try {
    while (queue.length > 0) {
      const name = queue.shift()!;
      const top = stack[stack.length - 1]!;
      if (name === "..") {
        if (stack.length > 1) popTo(stack.length - 1);
        continue;
      }
      let fd: number;
      try {
        fd = openAt(top.fd, name, O_PATH | O_NOFOLLOW);
      } catch (err) {
        if (errnoOf(err) === ENOENT && queue.length === 0) {
          const parentFd = top.fd;
          const missing: Missing = {
            kind: "missing",
            parentFd,
            name,
            path: pathOf(name),
            readOnly: top.readOnly,
          };
          stack.pop(); // ownership of parentFd goes to the caller
          return missing;
        }
        throw err;
      }
      const kind = kindOf(statFd(fd).mode);
      if (kind === "symlink" && (queue.length > 0 || followLast)) {
        let target: string;
        try {
          target = readLinkFd(fd);
        } finally {
          closeFd(fd);
        }
        if (++links > MAX_SYMLINKS) throw new ErrnoError(`resolve ${path}`, ELOOP);
        if (target.startsWith("/")) popTo(1);
        queue.unshift(...components(target));
        continue;
      }
      if (queue.length > 0 && kind !== "dir") {
        closeFd(fd);
        throw new ErrnoError(`resolve ${path}: ${pathOf(name)}`, ENOTDIR);
      }
      let readOnly = top.readOnly;
      if (kind === "dir") {
        const mount = root.mounts.find((m) => m.destination === pathOf(name));
        if (mount !== undefined) {
          closeFd(fd);
          fd = mount.open();
          readOnly = mount.readOnly;
        }
      }
      stack.push({ fd, name, readOnly });
    }
    const last = stack.pop()!;
    const resolved = pathOf(last.name === "" ? undefined : last.name);
    const parent = stack.pop();
    return {
      kind: "found",
      fd: last.fd,
      path: resolved,
      readOnly: last.readOnly,
      parentFd: parent?.fd ?? null,
      name: last.name,
    };
  } finally {
    popTo(0);
  }
}
