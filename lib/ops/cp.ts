/**
 * `berth cp SRC DST`: copies between a container and the host, in either
 * direction, running or stopped, with docker's rules for what lands where
 * (a trailing `/`, `/.`, an existing or missing destination).
 *
 * The container's side is resolved inside its root by `host/scoped_path.ts`
 * (descriptors, never a path the kernel would follow out of the root):
 *
 * - a running (or created, or paused) container through `/proc/PID/root`,
 *   opened on the `/proc/PID` directory of the recorded init after its
 *   start time was checked (a reused pid fails the open). Descriptors there
 *   walk the container's own mount tree: a copy into a volume, a bind or a
 *   tmpfs lands in that mount, and a read-only mount refuses it.
 * - a stopped container through its rootfs overlay (mounted while the
 *   container exists), under the container's lock so it cannot be removed
 *   meanwhile, with its volumes and binds mapped in (a tmpfs exists only
 *   while the container runs; `--read-only` refuses the copy).
 *
 * @module
 */

import { join } from "../_std/path.ts";
import type { Context } from "../container/context.ts";
import type { ContainerState } from "../container/state_file.ts";
import {
  closeFd,
  ELOOP,
  ENOENT,
  ENOTDIR,
  EROFS,
  errnoOf,
  type FdStat,
  kindOf,
  O_DIRECTORY,
  O_NOFOLLOW,
  O_PATH,
  openAt,
  setTimesAt,
  statFd,
} from "../host/at_file.ts";
import { BerthError, InvalidArgument, NotFound, RuntimeError, WrongState } from "../host/errors.ts";
import { mountPoints } from "../host/mounts.ts";
import { startTimeOf } from "../host/proc.ts";
import {
  components,
  type Found,
  type Missing,
  resolveInRoot,
  type ScopedMount,
  type ScopedRoot,
} from "../host/scoped_path.ts";
import { readTar, type TarEntry, writeTar } from "../host/tar_stream.ts";
import {
  CopyConflict,
  copyTree,
  type EntryData,
  HardLinks,
  linkInto,
  type TreeCopyOptions,
  writeEntry,
} from "../host/tree_copy.ts";
import { volumeDataPath } from "../volume/mod.ts";
import { resolveExisting } from "./orphans.ts";
import { withLoaded } from "./reconcile.ts";

/** One side of a copy: a host path, or a path in a container. */
export interface CpEndpoint {
  /** The container (name, ID or prefix), or null for the host. */
  container: string | null;
  path: string;
}

/** Parses `NAME:PATH` or a host path, the way docker splits them. */
export function parseEndpoint(arg: string): CpEndpoint {
  if (arg === "-") return { container: null, path: "-" }; // a tar stream on stdin or stdout
  const colon = arg.indexOf(":");
  // A path that starts with / or . is the host's, whatever colons follow.
  if (colon < 0 || arg.startsWith("/") || arg.startsWith(".")) {
    if (arg === "") throw new InvalidArgument("cp: an empty path");
    return { container: null, path: arg };
  }
  const container = arg.slice(0, colon);
  if (container === "") throw new InvalidArgument(`cp: "${arg}" names no container`);
  const path = arg.slice(colon + 1);
  return { container, path: path === "" ? "/" : path };
}

/** Both sides of a copy: exactly one of them in a container. */
export function parseCpArgs(src: string, dst: string): { src: CpEndpoint; dst: CpEndpoint } {
  const s = parseEndpoint(src);
  const d = parseEndpoint(dst);
  if (s.container === null && d.container === null) {
    throw new InvalidArgument("cp: one of SRC and DST must be NAME:PATH (a container's path)");
  }
  if (s.container !== null && d.container !== null) {
    throw new InvalidArgument("cp: copying between two containers is not supported");
  }
  if ((s.path === "-" && s.container === null) && (d.path === "-" && d.container === null)) {
    throw new InvalidArgument(`cp: "-" can be SRC or DST, not both`);
  }
  return { src: s, dst: d };
}

/** Options of {@linkcode copy}. */
export interface CpOptions {
  /** `-a`: keep the source's uid/gid (otherwise the copy is owned by root). */
  archive: boolean;
  /** Where `cp - NAME:DST` reads its tar stream (stdin). */
  stdin?: () => ReadableStream<Uint8Array>;
}

/** A root to resolve in and how to give it back. */
interface OpenRoot {
  root: ScopedRoot;
  /** `NAME:` for messages, or "" for the host. */
  label: string;
  close(): void;
}

function hostRoot(): OpenRoot {
  const fd = openAt(-100, "/", O_PATH | O_DIRECTORY);
  return { root: { fd, mounts: [], readOnly: false }, label: "", close: () => closeFd(fd) };
}

/** Opens `/proc/PID/root` of the live init recorded in `s`, or null if it is gone. */
function runningRoot(s: ContainerState): number | null {
  if (s.status === "stopped" || s.pid === null) return null;
  let procFd: number;
  try {
    procFd = openAt(-100, `/proc/${s.pid}`, O_PATH | O_DIRECTORY);
  } catch {
    return null;
  }
  try {
    // The directory is of the process that had this pid when it was opened:
    // if that was another process, the start time differs; if the init
    // exits from now on, opening "root" through it fails.
    if (s.pidStartTime !== null && startTimeOf(s.pid) !== s.pidStartTime) return null;
    try {
      return openAt(procFd, "root", O_PATH | O_DIRECTORY); // the magic link, on purpose
    } catch {
      return null;
    }
  } finally {
    closeFd(procFd);
  }
}

/** The stopped container's rootfs with its volumes and binds. */
async function stoppedRoot(ctx: Context, s: ContainerState): Promise<ScopedRoot> {
  if (!(await mountPoints()).includes(s.rootfs)) {
    throw new WrongState(`cannot copy with "${s.id}": its root file system is not mounted`);
  }
  const fd = openAt(-100, s.rootfs, O_PATH | O_DIRECTORY);
  const mounts: ScopedMount[] = [];
  for (const m of s.request?.mounts ?? []) {
    if (m.type === "tmpfs" || m.source === null) continue; // exists only while it runs
    const source = m.type === "volume"
      ? volumeDataPath(ctx.paths, s.namespace, m.source)
      : m.source;
    mounts.push({
      destination: "/" + m.destination.split("/").filter((c) => c !== "" && c !== ".").join("/"),
      open: () => openAt(-100, source, O_PATH | O_DIRECTORY),
      readOnly: m.readOnly,
    });
  }
  return { fd, mounts, readOnly: s.request?.readOnly === true };
}

/**
 * Runs `fn` with the root of container `ref`: a running one's is opened
 * under its lock and used after; a stopped one's is used under the lock.
 */
async function withContainerRoot<T>(
  ctx: Context,
  ref: string,
  fn: (r: OpenRoot) => Promise<T>,
): Promise<T> {
  const id = await resolveExisting(ctx, ref);
  const label = `${ref}:`;
  let running: number | null = null;
  const result = await withLoaded(ctx, id, async (s) => {
    running = runningRoot(s);
    if (running !== null) return null;
    const root = await stoppedRoot(ctx, s);
    try {
      return { value: await fn({ root, label, close: () => {} }) };
    } finally {
      closeFd(root.fd);
    }
  });
  if (result !== null) return result.value;
  const fd: number = running!;
  try {
    return await fn({ root: { fd, mounts: [], readOnly: false }, label, close: () => {} });
  } finally {
    closeFd(fd);
  }
}

function describe(label: string, path: string): string {
  return `"${label}${path}"`;
}

/** Words for the errno values a copy meets (the rest by number). */
const ERRNO_TEXT: Readonly<Record<number, string>> = {
  1: "operation not permitted",
  13: "permission denied",
  17: "file exists",
  18: "cross-device link",
  21: "is a directory",
  28: "no space left on device",
  39: "directory not empty",
  122: "disk quota exceeded",
};

/** Turns resolution and copy errors into berth's errors. */
function translate(err: unknown, what: string): unknown {
  if (err instanceof BerthError) return err;
  if (err instanceof CopyConflict) return new RuntimeError(`cp: ${what}: ${err.message}`);
  const errno = errnoOf(err);
  switch (errno) {
    case ENOENT:
      return new NotFound(`cp: ${what}: no such file or directory`);
    case ENOTDIR:
      return new RuntimeError(`cp: ${what}: not a directory`);
    case ELOOP:
      return new RuntimeError(`cp: ${what}: too many levels of symbolic links`);
    case EROFS:
      return new RuntimeError(`cp: ${what}: read-only file system`);
    case null: {
      // Deno's own I/O errors name the /proc/self/fd path they went through.
      const text = err instanceof Error ? err.message : String(err);
      return new RuntimeError(
        `cp: ${what}: ${text.replace(/:? *\w+ '\/proc\/self\/fd\/[^']*'/g, "")}`,
      );
    }
    default:
      return new RuntimeError(`cp: ${what}: ${ERRNO_TEXT[errno] ?? `errno ${errno}`}`);
  }
}

function closeResolved(r: Found | Missing): void {
  if (r.kind === "found") {
    closeFd(r.fd);
    if (r.parentFd !== null) closeFd(r.parentFd);
  } else closeFd(r.parentFd);
}

/** Copies `src` to `dst` (one of them in a container) with docker's rules. */
export async function copy(ctx: Context, src: CpEndpoint, dst: CpEndpoint, options: CpOptions) {
  const cwd = Deno.cwd();
  const hostPath = (p: string) => p.startsWith("/") ? p : join(cwd, p);
  const inContainer = src.container ?? dst.container!;
  await withContainerRoot(ctx, inContainer, async (container) => {
    if (dst.container === null && dst.path === "-") {
      return await tarOut(ctx, container, src.path);
    }
    if (src.container === null && src.path === "-") {
      const stdin = options.stdin ?? (() => Deno.stdin.readable);
      return await tarIn(container, stdin(), dst.path, options);
    }
    const host = hostRoot();
    // Hard links within the copied tree stay links (one table for the whole copy).
    const links = new HardLinks();
    try {
      const from = src.container === null ? host : container;
      const to = dst.container === null ? host : container;
      await copyBetween(
        from,
        src.container === null ? hostPath(src.path) : src.path,
        to,
        dst.container === null ? hostPath(dst.path) : dst.path,
        { archive: options.archive, toHost: dst.container === null, links },
      );
    } finally {
      links.close();
      host.close();
    }
  });
}

async function copyBetween(
  from: OpenRoot,
  srcPath: string,
  to: OpenRoot,
  dstPath: string,
  options: TreeCopyOptions,
): Promise<void> {
  const srcWhat = describe(from.label, srcPath);
  const dstWhat = describe(to.label, dstPath);
  const contentsOnly = /(^|\/)\.$/.test(srcPath);
  const srcSlash = srcPath.endsWith("/") || contentsOnly;
  let source: Found | Missing;
  try {
    source = resolveInRoot(from.root, srcPath, { followLast: srcSlash });
  } catch (err) {
    throw translate(err, srcWhat);
  }
  let target: Found | Missing | null = null;
  try {
    if (source.kind === "missing") throw new NotFound(`cp: ${srcWhat}: no such file or directory`);
    const srcIsDir = kindOf(statFd(source.fd).mode) === "dir";
    if (srcSlash && !srcIsDir) throw new RuntimeError(`cp: ${srcWhat}: not a directory`);
    try {
      target = resolveInRoot(to.root, dstPath);
    } catch (err) {
      throw translate(err, dstWhat);
    }
    if (target.readOnly) throw new RuntimeError(`cp: ${dstWhat}: read-only file system`);
    const dstIsDir = target.kind === "found" && kindOf(statFd(target.fd).mode) === "dir";
    try {
      if (target.kind === "missing") {
        if (!srcIsDir && dstPath.endsWith("/")) {
          throw new NotFound(`cp: ${dstWhat}: the destination directory does not exist`);
        }
        await copyTree(source.fd, target.parentFd, target.name, options);
      } else if (dstIsDir) {
        if (srcIsDir && (contentsOnly || source.name === "")) {
          await copyContents(source.fd, target.fd, options);
        } else await copyTree(source.fd, target.fd, source.name, options);
      } else if (srcIsDir) {
        throw new RuntimeError(`cp: cannot copy directory ${srcWhat} to file ${dstWhat}`);
      } else if (target.parentFd === null) {
        throw new RuntimeError(`cp: ${dstWhat}: not a directory`);
      } else await copyTree(source.fd, target.parentFd, target.name, options);
    } catch (err) {
      throw translate(err, dstWhat);
    }
  } finally {
    closeResolved(source);
    if (target !== null) closeResolved(target);
  }
}

/** Every entry of the directory `srcFd` into the directory `dstFd` (`SRC/.`). */
async function copyContents(
  srcFd: number,
  dstFd: number,
  options: TreeCopyOptions,
): Promise<void> {
  for (const e of [...Deno.readDirSync(`/proc/self/fd/${srcFd}`)]) {
    let fd: number;
    try {
      fd = openAt(srcFd, e.name, O_PATH | O_NOFOLLOW);
    } catch (err) {
      if (errnoOf(err) === ENOENT) continue;
      throw err;
    }
    try {
      await copyTree(fd, dstFd, e.name, options);
    } finally {
      closeFd(fd);
    }
  }
}

/** `cp NAME:SRC -`: SRC as a tar stream on stdout (under its name; `SRC/.`: its contents). */
async function tarOut(ctx: Context, from: OpenRoot, srcPath: string): Promise<void> {
  const what = describe(from.label, srcPath);
  const contentsOnly = /(^|\/)\.$/.test(srcPath);
  const srcSlash = srcPath.endsWith("/") || contentsOnly;
  let source: Found | Missing;
  try {
    source = resolveInRoot(from.root, srcPath, { followLast: srcSlash });
  } catch (err) {
    throw translate(err, what);
  }
  try {
    if (source.kind === "missing") throw new NotFound(`cp: ${what}: no such file or directory`);
    const isDir = kindOf(statFd(source.fd).mode) === "dir";
    if (srcSlash && !isDir) throw new RuntimeError(`cp: ${what}: not a directory`);
    const name = isDir && (contentsOnly || source.name === "") ? "." : source.name;
    // deno-lint-ignore require-await
    await writeTar(source.fd, name, async (chunk) => ctx.io.out(chunk));
  } catch (err) {
    throw translate(err, what);
  } finally {
    closeResolved(source);
  }
}

/**
 * `cp - NAME:DST`: extracts a tar stream into the directory DST. Each
 * entry's directory is resolved inside the container's root like any
 * path; entries naming `..` are refused (they would leave DST).
 */
async function tarIn(
  to: OpenRoot,
  input: ReadableStream<Uint8Array>,
  dstPath: string,
  options: CpOptions,
): Promise<void> {
  const what = describe(to.label, dstPath);
  let dir: Found | Missing;
  try {
    dir = resolveInRoot(to.root, dstPath);
  } catch (err) {
    throw translate(err, what);
  }
  try {
    if (dir.kind === "missing") throw new NotFound(`cp: ${what}: no such file or directory`);
    if (kindOf(statFd(dir.fd).mode) !== "dir") {
      throw new RuntimeError(`cp: ${what}: the destination of a tar stream must be a directory`);
    }
    if (dir.readOnly) throw new RuntimeError(`cp: ${what}: read-only file system`);
    const base = dir.path;
    // Directories get their times last: what is made in them changes them.
    const dirTimes: { path: string; stat: FdStat }[] = [];
    for await (const entry of readTar(input)) {
      const parts = components(entry.path);
      if (parts.includes("..")) {
        throw new InvalidArgument(`cp: the tar entry "${entry.path}" leaves the destination`);
      }
      if (parts.length === 0) { // "." or "/": DST itself
        await entry.data.cancel();
        continue;
      }
      const entryWhat = describe(to.label, join(base, ...parts));
      const parent = resolveInRoot(to.root, join(base, ...parts.slice(0, -1)));
      try {
        if (parent.kind === "missing") {
          throw new NotFound(`cp: ${entryWhat}: no such file or directory`);
        }
        const name = parts[parts.length - 1]!;
        if (entry.type === "hardlink") {
          await entry.data.cancel();
          linkTarEntry(to, base, entry, parent.fd, name);
          continue;
        }
        if (entry.type === "dir") dirTimes.push({ path: join(base, ...parts), stat: entry.stat });
        await writeEntry(parent.fd, name, entry.stat, entryData(entry), options)
          .catch((err) => {
            throw translate(err, entryWhat);
          });
      } finally {
        closeResolved(parent);
      }
    }
    for (const { path, stat } of dirTimes.reverse()) {
      const d = resolveInRoot(to.root, path, { followLast: false });
      try {
        if (d.kind === "found" && d.parentFd !== null && kindOf(statFd(d.fd).mode) === "dir") {
          setTimesAt(d.parentFd, d.name, stat.atime, stat.mtime);
        }
      } finally {
        closeResolved(d);
      }
    }
  } catch (err) {
    throw translate(err, what);
  } finally {
    closeResolved(dir);
  }
}

/**
 * A hard link entry of a tar stream: `name` in `dirFd` becomes another name
 * of the regular file its link name names, resolved under DST (`base`) in
 * the container's root like any entry (no `..`, no symlink followed last).
 */
function linkTarEntry(to: OpenRoot, base: string, e: TarEntry, dirFd: number, name: string): void {
  const parts = components(e.linkname);
  if (parts.length === 0 || parts.includes("..")) {
    throw new InvalidArgument(`cp: the tar entry "${e.path}" links outside the destination`);
  }
  const target = resolveInRoot(to.root, join(base, ...parts), { followLast: false });
  try {
    if (target.kind !== "found" || kindOf(statFd(target.fd).mode) !== "file") {
      throw new RuntimeError(
        `cp: the tar entry "${e.path}" links to "${e.linkname}", which is not a file there`,
      );
    }
    linkInto(target.fd, dirFd, name);
  } finally {
    closeResolved(target);
  }
}

function entryData(e: TarEntry): EntryData {
  switch (e.type) {
    case "file":
      return { kind: "file", data: e.data };
    case "dir":
      return { kind: "dir" };
    case "symlink":
      return { kind: "symlink", target: e.linkname };
    default:
      return { kind: "node" };
  }
}
