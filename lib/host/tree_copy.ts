/**
 * Copying a file or a directory tree from one descriptor to a name in a
 * directory descriptor, following no symlink on either side: sources are
 * opened `O_PATH | O_NOFOLLOW` one name at a time (a symlink is copied as
 * a symlink, a FIFO or device as a node: only regular files are ever
 * opened for reading), and every write is `*at` a directory descriptor
 * with `O_EXCL` (a file is written under a temporary name and renamed over
 * the target, which replaces a symlink there instead of following it).
 * Below the top, a directory on a kernel pseudo file system (a running
 * container's /proc, /sys, /dev/pts) is copied empty. Regular files
 * linked more than once stay linked within one copy ({@linkcode HardLinks}),
 * as `tar` and `docker cp` keep them.
 *
 * @module
 */

import {
  chmodFd,
  chownFd,
  closeFd,
  EEXIST,
  EISDIR,
  ELOOP,
  ENOENT,
  ENOTDIR,
  errnoOf,
  fdPath,
  type FdStat,
  kindOf,
  linkFdAt,
  mkdirAt,
  mknodAt,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOFOLLOW,
  O_PATH,
  O_RDONLY,
  O_WRONLY,
  onPseudoFs,
  openAt,
  readLinkFd,
  renameAt,
  setTimesAt,
  statFd,
  symlinkAt,
  unlinkAt,
} from "./at_file.ts";

/** Options of {@linkcode copyTree}. */
export interface TreeCopyOptions {
  /** Keep the source's owner (uid/gid); otherwise the copy belongs to berth (root). */
  archive: boolean;
  /**
   * Hard links met so far in this copy (one table for the whole copy, its
   * caller closes it); absent: every name is copied as a file of its own.
   */
  links?: HardLinks;
  /**
   * The source is a container's and the copy the host's: setuid/setgid
   * bits are dropped and device nodes are not made (a container could
   * otherwise plant a setuid-root program or a raw disk node on the host).
   */
  toHost?: boolean;
}

/** The permission bits a copy gets. */
function modeOf(st: FdStat, options: TreeCopyOptions): number {
  return options.toHost === true ? st.mode & 0o1777 : st.mode & 0o7777;
}

/** A copy that cannot replace what is at the destination. */
export class CopyConflict extends Error {}

/**
 * The copies made so far of source files linked more than once, by device
 * and inode, each held open (its descriptor) until every name of its
 * source was met, so that the later names become links to it. At most
 * {@linkcode HardLinks.MAX} are held: past that, or where a link cannot
 * be made (another mount inside the destination: EXDEV), a name is
 * copied as a file of its own.
 */
export class HardLinks {
  /** The most copies held open at once. */
  static readonly MAX = 1024;
  #seen = new Map<string, { fd: number; left: number }>();

  #key(st: FdStat): string | null {
    return (st.nlink ?? 1) > 1 && st.ino !== undefined && st.dev !== undefined
      ? `${st.dev}:${st.ino}`
      : null;
  }

  /**
   * Makes `name` in `dstDir` a link to the copy of the source file `st`
   * describes, if one was made in this copy; false when there is none or
   * the link failed (the caller copies the file).
   */
  linkTo(st: FdStat, dstDir: number, name: string): boolean {
    const key = this.#key(st);
    const seen = key === null ? undefined : this.#seen.get(key);
    if (seen === undefined) return false;
    const tmp = tempName();
    try {
      linkFdAt(seen.fd, dstDir, tmp);
    } catch {
      return false;
    }
    rename(dstDir, tmp, name);
    if (--seen.left <= 0) {
      closeFd(seen.fd);
      this.#seen.delete(key!);
    }
    return true;
  }

  /** Keeps the copy `fd` (any descriptor of it; not taken over) of the source file `st`. */
  remember(st: FdStat, fd: number): void {
    const key = this.#key(st);
    if (key === null || this.#seen.has(key) || this.#seen.size >= HardLinks.MAX) return;
    this.#seen.set(key, { fd: openAt(-100, fdPath(fd), O_PATH), left: st.nlink! - 1 });
  }

  /** Closes every copy held. */
  close(): void {
    for (const { fd } of this.#seen.values()) closeFd(fd);
    this.#seen.clear();
  }
}

/**
 * Makes `name` in `dstDir` a new name of the file `fd` refers to (linked
 * under a temporary name, renamed over `name`: an existing non-directory is
 * replaced, a directory there is a CopyConflict).
 */
export function linkInto(fd: number, dstDir: number, name: string): void {
  const tmp = tempName();
  linkFdAt(fd, dstDir, tmp);
  rename(dstDir, tmp, name);
}

/** Renames `tmp` over `name` in `dstDir`; a directory there is a CopyConflict (tmp is removed). */
function rename(dstDir: number, tmp: string, name: string): void {
  try {
    renameAt(dstDir, tmp, dstDir, name);
  } catch (err) {
    try {
      unlinkAt(dstDir, tmp);
    } catch { /* gone */ }
    const e = errnoOf(err);
    if (e === EISDIR || e === EEXIST || e === 39 /* ENOTEMPTY */) {
      throw new CopyConflict(`cannot overwrite directory "${name}" with non-directory`);
    }
    throw err;
  }
}

function tempName(): string {
  return `.berth-cp-${crypto.randomUUID().slice(0, 12)}`;
}

/**
 * Copies the file `srcFd` names (O_PATH | O_NOFOLLOW) to `name` in the
 * directory `dstDir`. A directory merges into an existing directory; a
 * file, symlink or node replaces an existing non-directory.
 */
export async function copyTree(
  srcFd: number,
  dstDir: number,
  name: string,
  options: TreeCopyOptions,
  depth = 0,
): Promise<void> {
  const st = statFd(srcFd);
  switch (kindOf(st.mode)) {
    case "dir":
      return await copyDir(srcFd, st, dstDir, name, options, depth);
    case "file": {
      if (options.links?.linkTo(st, dstDir, name) === true) return;
      // srcFd names a regular file (statx on the descriptor): reopening it
      // reads exactly that inode, never a FIFO or anything a name points to now.
      const src = await Deno.open(fdPath(srcFd), { read: true });
      return await writeEntry(dstDir, name, st, { kind: "file", data: src.readable }, options);
    }
    case "symlink":
      return await writeEntry(
        dstDir,
        name,
        st,
        { kind: "symlink", target: readLinkFd(srcFd) },
        options,
      );
    case "fifo":
    case "chardev":
    case "blockdev":
      return await writeEntry(dstDir, name, st, { kind: "node" }, options);
    default:
      return; // sockets: nothing to copy
  }
}

/** What a new entry holds (its type, mode, owner and times come with its FdStat). */
export type EntryData =
  | { kind: "file"; data: ReadableStream<Uint8Array> }
  | { kind: "symlink"; target: string }
  | { kind: "node" }
  | { kind: "dir" };

/**
 * Makes `name` in the directory `dstDir` from `st` (mode, owner with
 * `archive`, times) and `data`: a file, symlink or node is made under a
 * temporary name and renamed over `name` (an existing non-directory is
 * replaced, a symlink never followed); a directory is made, or an
 * existing one (never a link to one) is kept and given the mode.
 */
export async function writeEntry(
  dstDir: number,
  name: string,
  st: FdStat,
  data: EntryData,
  options: TreeCopyOptions,
): Promise<void> {
  switch (data.kind) {
    case "file":
      return await writeFile(data.data, st, dstDir, name, options);
    case "symlink": {
      const tmp = tempName();
      symlinkAt(data.target, dstDir, tmp);
      return finish(dstDir, tmp, name, st, options, null);
    }
    case "node": {
      if (options.toHost === true && kindOf(st.mode) !== "fifo") return;
      const tmp = tempName();
      mknodAt(dstDir, tmp, st.mode, st.rdev);
      return finish(dstDir, tmp, name, st, options, null);
    }
    case "dir": {
      const fd = openOrMakeDir(dstDir, name);
      try {
        if (options.archive) chownFd(fd, st.uid, st.gid);
        chmodFd(fd, modeOf(st, options));
      } finally {
        closeFd(fd);
      }
      setTimesAt(dstDir, name, st.atime, st.mtime);
    }
  }
}

async function writeFile(
  data: ReadableStream<Uint8Array>,
  st: FdStat,
  dstDir: number,
  name: string,
  options: TreeCopyOptions,
): Promise<void> {
  const tmp = tempName();
  let wfd: number;
  try {
    wfd = openAt(dstDir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  } catch (err) {
    await data.cancel().catch(() => {});
    throw err;
  }
  try {
    const dst = await Deno.open(fdPath(wfd), { write: true });
    await data.pipeTo(dst.writable);
    finish(dstDir, tmp, name, st, options, wfd);
    options.links?.remember(st, wfd);
  } catch (err) {
    try {
      unlinkAt(dstDir, tmp);
    } catch { /* already renamed or gone */ }
    throw err;
  } finally {
    closeFd(wfd);
  }
}

/** Owner, mode and times onto the new entry `tmp`, then renames it to `name`. */
function finish(
  dstDir: number,
  tmp: string,
  name: string,
  st: FdStat,
  options: TreeCopyOptions,
  openFd: number | null,
): void {
  try {
    if (options.archive) {
      const fd = openFd ?? openAt(dstDir, tmp, O_PATH | O_NOFOLLOW);
      try {
        chownFd(fd, st.uid, st.gid);
      } finally {
        if (openFd === null) closeFd(fd);
      }
    }
    // After chown, which clears setuid/setgid bits.
    if (openFd !== null) chmodFd(openFd, modeOf(st, options));
    else if (kindOf(st.mode) !== "symlink") {
      const fd = openAt(dstDir, tmp, O_PATH | O_NOFOLLOW);
      try {
        Deno.chmodSync(fdPath(fd), modeOf(st, options));
      } finally {
        closeFd(fd);
      }
    }
    setTimesAt(dstDir, tmp, st.atime, st.mtime);
    try {
      renameAt(dstDir, tmp, dstDir, name);
    } catch (err) {
      const e = errnoOf(err);
      if (e === EISDIR || e === EEXIST || e === 39 /* ENOTEMPTY */) {
        throw new CopyConflict(`cannot overwrite directory "${name}" with non-directory`);
      }
      throw err;
    }
  } catch (err) {
    try {
      unlinkAt(dstDir, tmp);
    } catch { /* renamed or gone */ }
    throw err;
  }
}

/** Makes the directory `name` (or keeps an existing one, never a link to one); opens it. */
function openOrMakeDir(dstDir: number, name: string): number {
  try {
    mkdirAt(dstDir, name, 0o700);
  } catch (err) {
    if (errnoOf(err) !== EEXIST) throw err;
  }
  try {
    return openAt(dstDir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  } catch (err) {
    const e = errnoOf(err);
    if (e === ENOTDIR || e === ELOOP) {
      throw new CopyConflict(`cannot overwrite non-directory "${name}" with directory`);
    }
    throw err;
  }
}

async function copyDir(
  srcFd: number,
  st: FdStat,
  dstDir: number,
  name: string,
  options: TreeCopyOptions,
  depth: number,
): Promise<void> {
  const dirFd = openOrMakeDir(dstDir, name);
  try {
    // The listing comes from the directory srcFd names (reopened through
    // /proc/self/fd); each entry is then opened relative to srcFd.
    // A running container's /proc, /sys, /dev/pts ... met inside a tree
    // are kernel views, not files: copied as empty directories.
    const names = depth > 0 && onPseudoFs(srcFd)
      ? []
      : [...Deno.readDirSync(fdPath(srcFd))].map((e) => e.name);
    for (const entry of names) {
      let fd: number;
      try {
        fd = openAt(srcFd, entry, O_PATH | O_NOFOLLOW);
      } catch (err) {
        if (errnoOf(err) === ENOENT) continue; // removed meanwhile
        throw err;
      }
      try {
        await copyTree(fd, dirFd, entry, options, depth + 1);
      } finally {
        closeFd(fd);
      }
    }
    if (options.archive) chownFd(dirFd, st.uid, st.gid);
    chmodFd(dirFd, modeOf(st, options));
  } finally {
    closeFd(dirFd);
  }
  setTimesAt(dstDir, name, st.atime, st.mtime);
}
