/**
 * What COPY and ADD read: the build context (a directory on the host,
 * less what the ignore file leaves out) or an image's merged tree (`COPY
 * --from`: its layer directories, top first, with overlay whiteouts and
 * opaque directories applied). Both are read with `lstat` one name at a
 * time and never through a symlink: a source path is resolved inside its
 * tree (`..` past the top, or a symlink among its parents, is refused),
 * and a symlink found is copied as a symlink, so nothing outside the
 * context is ever read.
 *
 * @module
 */

import { join } from "../_std/path.ts";
import {
  closeFd,
  fdPath,
  kindOf,
  O_DIRECTORY,
  O_NOFOLLOW,
  O_PATH,
  openAt,
  statFd,
} from "../host/at_file.ts";
import { RuntimeError } from "../host/errors.ts";
import { unpackCalls } from "../image/mod.ts";
import { cleanRel, type IgnoreMatcher } from "./_ignore.ts";

/** A tree COPY reads from. */
export interface SourceTree {
  /** What it is, in messages (`the build context`, `stage "build"`). */
  what: string;
  /** The entry at `rel` (cleaned, relative), not followed; null when absent or left out. */
  lstat(rel: string): Deno.FileInfo | null;
  /** The names in directory `rel` (sorted), less those left out. */
  list(rel: string): string[];
  /** Where the entry at `rel` is on the host, to read its data or link target. */
  hostPath(rel: string): string;
  /** Opens the regular file at `rel` for reading, through no symlink. */
  openFile(rel: string): Promise<Deno.FsFile>;
}

/**
 * Opens the regular file `rel` under `root` one name at a time with
 * O_NOFOLLOW, so a symlink swapped in after it was checked (at any level)
 * is not followed out of the tree: it fails instead.
 */
export async function openUnder(root: string, rel: string): Promise<Deno.FsFile> {
  let fd = openAt(-100, root, O_PATH | O_DIRECTORY); // AT_FDCWD: berth's own path
  try {
    const parts = rel.split("/").filter((p) => p !== "");
    for (let i = 0; i < parts.length; i++) {
      const last = i === parts.length - 1;
      const next = openAt(fd, parts[i]!, O_PATH | O_NOFOLLOW | (last ? 0 : O_DIRECTORY));
      closeFd(fd);
      fd = next;
    }
    if (kindOf(statFd(fd).mode) !== "file") {
      throw new RuntimeError(`${rel}: not a regular file any more`);
    }
    // The descriptor's own inode, reopened for reading: no name is looked up again.
    return await Deno.open(fdPath(fd), { read: true });
  } finally {
    closeFd(fd);
  }
}

function lstatOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.lstatSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
      return null;
    }
    throw err;
  }
}

/** The build context: `root`, less what `ignore` leaves out. */
export class ContextTree implements SourceTree {
  readonly what = "the build context";
  constructor(readonly root: string, readonly ignore: IgnoreMatcher) {}

  lstat(rel: string): Deno.FileInfo | null {
    if (rel !== "" && this.ignore.ignores(rel)) return null;
    return lstatOrNull(join(this.root, rel));
  }
  list(rel: string): string[] {
    return [...Deno.readDirSync(join(this.root, rel))].map((e) => e.name)
      .filter((n) => !this.#leftOut(rel === "" ? n : `${rel}/${n}`)).sort();
  }
  /** Left out: ignored, unless something below is taken back in (a directory). */
  #leftOut(rel: string): boolean {
    if (!this.ignore.ignores(rel)) return false;
    const st = lstatOrNull(join(this.root, rel));
    if (st === null || !st.isDirectory) return true;
    return this.list(rel).length === 0;
  }
  hostPath(rel: string): string {
    return join(this.root, rel);
  }
  openFile(rel: string): Promise<Deno.FsFile> {
    return openUnder(this.root, rel);
  }
}

function isWhiteout(st: Deno.FileInfo): boolean {
  return st.isCharDevice === true && st.rdev === 0;
}

function isOpaque(path: string): boolean {
  try {
    return unpackCalls.isOpaque(path);
  } catch {
    return false;
  }
}

/** An image's merged tree, from its layer directories (top first). */
export class ImageTree implements SourceTree {
  constructor(readonly what: string, readonly layers: string[]) {}

  /** The layers that have `rel` as a directory (top first), or its one non-directory entry. */
  #find(rel: string): { dirs: string[] } | { path: string; st: Deno.FileInfo } | null {
    let visible = this.layers;
    if (rel === "") return { dirs: visible };
    const parts = rel.split("/");
    for (let i = 0; i < parts.length; i++) {
      const prefix = parts.slice(0, i + 1).join("/");
      const dirs: string[] = [];
      for (const layer of visible) {
        const p = join(layer, prefix);
        const st = lstatOrNull(p);
        if (st === null) continue;
        if (isWhiteout(st)) break;
        if (st.isDirectory) {
          dirs.push(layer);
          if (isOpaque(p)) break;
          continue;
        }
        if (dirs.length === 0 && i === parts.length - 1) return { path: p, st };
        break; // a file or symlink hides what is below; not a directory to go through
      }
      if (dirs.length === 0) return null;
      visible = dirs;
    }
    return { dirs: visible };
  }

  lstat(rel: string): Deno.FileInfo | null {
    const f = this.#find(rel);
    if (f === null) return null;
    if ("st" in f) return f.st;
    return Deno.lstatSync(join(f.dirs[0]!, rel));
  }
  list(rel: string): string[] {
    const f = this.#find(rel);
    if (f === null || !("dirs" in f)) return [];
    const names = new Set<string>();
    const hidden = new Set<string>();
    for (const layer of f.dirs) {
      for (const e of Deno.readDirSync(join(layer, rel))) {
        if (names.has(e.name) || hidden.has(e.name)) continue;
        const st = lstatOrNull(join(layer, rel, e.name));
        if (st !== null && isWhiteout(st)) hidden.add(e.name);
        else names.add(e.name);
      }
    }
    return [...names].sort();
  }
  hostPath(rel: string): string {
    const f = this.#find(rel);
    if (f === null) return join(this.layers[0] ?? "/nonexistent", rel);
    return "st" in f ? f.path : join(f.dirs[0]!, rel);
  }
  openFile(rel: string): Promise<Deno.FsFile> {
    return Deno.open(this.hostPath(rel), { read: true }); // the store's own, read-only layers
  }
}

/** Why a source path cannot be read, or null. */
export function checkSourcePath(tree: SourceTree, src: string): string | null {
  const rel = cleanRel(src);
  if (rel === ".." || rel.startsWith("../")) return `${src} is outside ${tree.what}`;
  const parts = rel === "" ? [] : rel.split("/");
  for (let i = 0; i < parts.length - 1; i++) {
    const st = tree.lstat(parts.slice(0, i + 1).join("/"));
    if (st === null) return `${src}: not found in ${tree.what}`;
    if (st.isSymlink) {
      return `${src}: ${
        parts.slice(0, i + 1).join("/")
      } is a symbolic link (berth does not follow links in ${tree.what})`;
    }
    if (!st.isDirectory) return `${src}: not found in ${tree.what}`;
  }
  return null;
}

/** Glob characters in a source (`*`, `?`, `[`). */
export function isGlob(src: string): boolean {
  return /[*?[]/.test(src);
}

/** The relative paths in `tree` a glob source matches (each element matched in turn). */
export function globSources(tree: SourceTree, src: string): string[] {
  const parts = cleanRel(src).split("/");
  let found = [""];
  for (const part of parts) {
    const re = new RegExp(
      "^" + part.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]") +
        "$",
    );
    const next: string[] = [];
    for (const dir of found) {
      const st = tree.lstat(dir);
      if (st === null || !st.isDirectory || (dir !== "" && st.isSymlink)) continue;
      for (const n of tree.list(dir)) {
        if (re.test(n)) next.push(dir === "" ? n : `${dir}/${n}`);
      }
    }
    found = next;
  }
  return found.sort();
}

const HASH_CHUNK = 4 << 20;

async function hex(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(
    await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>),
  );
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A file's content hash: sha256 over the sha256 of each 4 MiB chunk (WebCrypto, no node). */
async function fileHash(f: Deno.FsFile): Promise<string> {
  try {
    const parts: string[] = [];
    const buf = new Uint8Array(HASH_CHUNK);
    for (;;) {
      let n = 0;
      while (n < buf.length) {
        const r = await f.read(buf.subarray(n));
        if (r === null) break;
        n += r;
      }
      if (n === 0) break;
      parts.push(await hex(buf.subarray(0, n)));
      if (n < buf.length) break;
    }
    return await hex(new TextEncoder().encode(parts.join("")));
  } finally {
    f.close();
  }
}

/**
 * Records what a copy of `rel` would read (names, modes, owners, content
 * hashes, link targets), depth first, into `out`: the cache key's part of
 * a COPY.
 */
export async function hashSource(tree: SourceTree, rel: string, out: string[]): Promise<void> {
  const st = tree.lstat(rel);
  if (st === null) return;
  const head = `${rel}\0${st.mode! & 0o7777}\0${st.uid}\0${st.gid}\0`;
  if (st.isSymlink) out.push(`L${head}${Deno.readLinkSync(tree.hostPath(rel))}`);
  else if (st.isFile) out.push(`F${head}${st.size}\0${await fileHash(await tree.openFile(rel))}`);
  else if (st.isDirectory) {
    out.push(`D${head}`);
    for (const n of tree.list(rel)) await hashSource(tree, rel === "" ? n : `${rel}/${n}`, out);
  }
}

/** `sha256:HEX` of `text` (WebCrypto). */
export async function textHash(text: string): Promise<string> {
  return `sha256:${await hex(new TextEncoder().encode(text))}`;
}

/** How copied entries are owned and moded. */
export interface CopyAttrs {
  /** `--chown`, or null: the source's owner (an image's), root (the context's). */
  owner: { uid: number; gid: number } | null;
  /** `--chmod`, or null: the source's mode. */
  mode: number | null;
  /** Keep the source's owners (from an image) when no --chown. */
  keepOwner: boolean;
  /** Files linked more than once, by inode: the first copy's path (hard links stay links). */
  links?: Map<number, string>;
}

/**
 * Copies `rel` of `tree` to `dest` (a path in berth's own staging
 * directory, whose parent exists): directories recursively, files by
 * their data, symlinks as symlinks; devices, FIFOs and sockets are left out.
 */
export async function copyEntry(
  tree: SourceTree,
  rel: string,
  dest: string,
  attrs: CopyAttrs,
): Promise<void> {
  const st = tree.lstat(rel);
  if (st === null) return;
  const owner = attrs.owner ??
    (attrs.keepOwner ? { uid: st.uid!, gid: st.gid! } : { uid: 0, gid: 0 });
  const mode = attrs.mode ?? (st.mode! & 0o7777);
  if (st.isSymlink) {
    try {
      Deno.removeSync(dest, { recursive: true });
    } catch { /* none */ }
    Deno.symlinkSync(Deno.readLinkSync(tree.hostPath(rel)), dest);
    return;
  }
  if (st.isDirectory) {
    const existing = lstatOrNull(dest);
    if (existing !== null && !existing.isDirectory) Deno.removeSync(dest);
    if (existing === null || !existing.isDirectory) Deno.mkdirSync(dest);
    for (const n of tree.list(rel)) {
      await copyEntry(tree, rel === "" ? n : `${rel}/${n}`, join(dest, n), attrs);
    }
  } else if (st.isFile) {
    const existing = lstatOrNull(dest);
    if (existing !== null) Deno.removeSync(dest, { recursive: true });
    if ((st.nlink ?? 1) > 1 && st.ino !== null && attrs.links !== undefined) {
      const first = attrs.links.get(st.ino);
      if (first !== undefined && lstatOrNull(first)?.isFile) {
        Deno.linkSync(first, dest);
        return;
      }
      attrs.links.set(st.ino, dest);
    }
    const src = await tree.openFile(rel);
    const out = await Deno.open(dest, { write: true, createNew: true, mode: 0o600 });
    await src.readable.pipeTo(out.writable);
  } else return;
  Deno.chownSync(dest, owner.uid, owner.gid);
  Deno.chmodSync(dest, mode);
  if (st.mtime !== null) Deno.utimeSync(dest, st.atime ?? st.mtime, st.mtime);
}

/**
 * `rel` resolved inside the image's tree `below` as the kernel would in a
 * container: symlinks among its parents (and the last element too, with
 * `last`) are followed, absolute ones from the image's root, never above
 * it. COPY writes there (a merged-/usr image's `/bin/x` is `usr/bin/x`).
 */
export function resolveInImage(below: ImageTree, rel: string, last: boolean): string {
  let todo = rel === "" ? [] : rel.split("/");
  const done: string[] = [];
  let hops = 0;
  while (todo.length > 0) {
    const part = todo.shift()!;
    if (part === "." || part === "") continue;
    if (part === "..") {
      done.pop();
      continue;
    }
    const cur = [...done, part].join("/");
    const st = below.lstat(cur);
    if (st?.isSymlink && (todo.length > 0 || last)) {
      if (++hops > 40) return rel; // a loop: written as given
      const target = Deno.readLinkSync(below.hostPath(cur));
      if (target.startsWith("/")) done.length = 0;
      todo = [...target.split("/"), ...todo];
      continue;
    }
    done.push(part);
  }
  return done.join("/");
}
