/**
 * Symlinks of a layer with their exact targets. A symlink's target is a
 * string stored in the link, never followed while a layer is unpacked, yet
 * node-tar vets it like a path: it drops a link whose target climbs out of
 * the layer (`/`, `..`, `../../etc`), one whose target is, or runs through,
 * a symlink already unpacked (`libz.so -> libz.so.1`, `lib/...` with
 * `lib -> usr/lib`), and strips the root of an absolute one (`/`, and
 * Windows' `C:` and `\`).
 *
 * So a symlink entry node-tar might change or drop ({@linkcode mayChange})
 * is handed to it with the placeholder target `.` (which it always makes,
 * in the entry's place, and which points inside the layer), and its real
 * target is put in afterwards by
 * {@linkcode SymlinkTargets.restore}: only where the entry's own path is a
 * symlink in real directories (a path node-tar refused, or a later entry
 * replaced, is left as it is). node-tar's own guards stay: nothing is
 * written, hard-linked, whited out or marked through any symlink.
 *
 * A hard link to a symlink (GNU tar writes one for a symlink with several
 * names) names the link itself, as link(2) does; node-tar refuses it as a
 * link "through" a symlink. Such an entry is kept from node-tar and made
 * after the targets are put in, by link(2) of the symlink (never followed),
 * where both paths are in real directories and the entry's target is
 * still a symlink.
 *
 * @module
 */

import { join } from "../_std/path.ts";
import { normalizeEntryPath } from "./_tar_xattrs.ts";

/** The target node-tar gets for a symlink entry it might change (a link to its own directory). */
const PLACEHOLDER = ".";

/** A relative path's directory and last component. */
function split(rel: string): { dir: string; base: string } {
  const i = rel.lastIndexOf("/");
  return i < 0 ? { dir: "", base: rel } : { dir: rel.slice(0, i), base: rel.slice(i + 1) };
}

/**
 * Whether node-tar might not make a symlink at `rel` to `target` as it is:
 * the target has a root to strip or a `..` (or a `:` or `\`, which node-tar
 * reads as Windows'), or it runs through a path of `links` (a superset of
 * the symlinks unpacked so far). False only where node-tar makes it as is.
 */
export function mayChange(rel: string, target: string, links: ReadonlySet<string>): boolean {
  if (target.startsWith("/") || target.includes("\\") || target.includes(":")) return true;
  const parts = split(rel).dir.split("/").filter((c) => c !== "");
  for (const c of target.split("/")) {
    if (c === "..") return true;
    if (c === "" || c === ".") continue;
    parts.push(c);
    if (links.has(parts.join("/"))) return true;
  }
  return false;
}

/** Which relative paths below the layer's root are real directories (see `RealDirs`). */
export interface RealDirsLike {
  has(rel: string): boolean;
}

/**
 * The target of each path whose last entry is a symlink that node-tar
 * gets with the placeholder, in entry order.
 */
export class SymlinkTargets {
  readonly #targets = new Map<string, string>();
  /** Every path a symlink entry named (never forgotten: a superset of those on disk). */
  readonly #links = new Set<string>();
  /** The paths the entries so far leave as symlinks (a symlink, or a hard link to one). */
  readonly #symlinks = new Set<string>();
  /** Hard links to a symlink, in entry order: the entry's path, and the symlink's. */
  readonly #hardlinks = new Map<string, string>();

  /**
   * Notes the entry at `rel` (normalized, relative) that node-tar is about
   * to unpack: a symlink node-tar might change has its target recorded and
   * the entry's target replaced with the placeholder; a hard link to a
   * symlink is recorded and kept from node-tar (false: skip it); any other
   * entry forgets `rel`. True: node-tar unpacks the entry.
   */
  note(rel: string, entry: { type?: unknown; linkpath?: unknown }): boolean {
    this.#targets.delete(rel);
    this.#hardlinks.delete(rel);
    this.#symlinks.delete(rel);
    if (entry.type === "Link") {
      const to = typeof entry.linkpath === "string" ? normalizeEntryPath(entry.linkpath) : null;
      if (to === null || !this.#symlinks.has(to)) return true; // node-tar's to make (or refuse)
      this.#hardlinks.set(rel, to);
      this.#symlinks.add(rel);
      this.#links.add(rel);
      return false;
    }
    if (entry.type !== "SymbolicLink") return true;
    const target = entry.linkpath;
    if (typeof target !== "string" || target === "") return true; // no link can be made of it
    if (mayChange(rel, target, this.#links)) {
      this.#targets.set(rel, target);
      entry.linkpath = PLACEHOLDER;
    }
    this.#links.add(rel);
    this.#symlinks.add(rel);
    return true;
  }

  /**
   * Gives each recorded symlink its target, after node-tar: where its path
   * is a symlink and every directory above it a real one (`real`, made
   * after node-tar finished), the link is replaced by one to the target.
   * Then makes the hard links to symlinks (a name taken meanwhile, a
   * symlink gone, or a directory that is not a real one: noted in
   * `skipped`). Nothing is followed. Returns how many links were made.
   */
  restore(root: string, real: RealDirsLike, skipped: string[] = []): number {
    let n = 0;
    for (const [rel, target] of this.#targets) {
      if (!real.has(split(rel).dir)) continue;
      const p = join(root, rel);
      try {
        if (!Deno.lstatSync(p).isSymlink) continue;
      } catch {
        continue; // refused by node-tar
      }
      Deno.removeSync(p);
      Deno.symlinkSync(target, p);
      n++;
    }
    for (const [rel, to] of this.#hardlinks) {
      const from = join(root, to);
      let made = false;
      try {
        if (real.has(split(rel).dir) && real.has(split(to).dir) && Deno.lstatSync(from).isSymlink) {
          Deno.linkSync(from, join(root, rel)); // link(2): the symlink itself, not followed
          made = true;
        }
      } catch { /* its name is taken, or the symlink is gone */ }
      if (made) n++;
      else skipped.push(`TAR_LINK: ${rel}: a hard link to the symlink ${to} could not be made`);
    }
    return n;
  }
}
