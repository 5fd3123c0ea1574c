/**
 * Modes and owners of a layer's implicit directories: the parents of its
 * entries that the layer does not list itself. With overlayfs the upper-most
 * copy of a directory decides its mode and owner, so an implicit directory
 * made 0755 root:root would mask what the layers below give the same path
 * (layer 2 adding `/tmp/x` would turn layer 1's sticky 1777 `/tmp` into
 * 0755). Each one takes instead the mode (special bits included) and owner
 * the path has in the top-most layer below that has it, as umoci and
 * containers/storage give it, and 0755 root:root where none has it.
 *
 * A layer below is read as overlayfs would read it: no symlink is followed;
 * a whiteout, a non-directory or an opaque directory on the way in a layer
 * hides the path in every layer under that one.
 *
 * The result depends on the layers below, so a layer unpacked this way is
 * stored by its chain ID (see `_chain_id.ts`), not by its diff_id alone.
 *
 * @module
 */

import { join } from "../_std/path.ts";
import type { UnpackCalls } from "./_ffi.ts";

/** A directory's mode (all 12 bits) and owner. */
export interface DirAttrs {
  mode: number;
  uid: number;
  gid: number;
}

/** What an implicit directory is given where no layer below has the path. */
export const IMPLICIT_DIR: Readonly<DirAttrs> = { mode: 0o755, uid: 0, gid: 0 };

/** What one layer says about a path: a directory, nothing (look further down), or hidden. */
type Found = DirAttrs | "absent" | "hidden";

function inLayer(layer: string, rel: string, calls: UnpackCalls): Found {
  const parts = rel.split("/").filter((c) => c !== "");
  let p = layer;
  let opaqueAbove = false;
  for (let i = 0; i < parts.length; i++) {
    p = join(p, parts[i]!);
    let st: Deno.FileInfo;
    try {
      st = Deno.lstatSync(p);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
        return opaqueAbove ? "hidden" : "absent";
      }
      throw err;
    }
    // A whiteout (0/0 character device), a file or a symlink hides the path below this layer.
    if (!st.isDirectory) return "hidden";
    if (i === parts.length - 1) {
      return { mode: st.mode! & 0o7777, uid: st.uid!, gid: st.gid! };
    }
    if (calls.isOpaque(p)) opaqueAbove = true;
  }
  return "absent";
}

/**
 * The mode and owner the directory `rel` has in `lowers` (layer
 * directories, top-most first), or {@linkcode IMPLICIT_DIR} where no layer
 * below has it as a directory.
 */
export function lowerDirAttrs(lowers: string[], rel: string, calls: UnpackCalls): DirAttrs {
  for (const layer of lowers) {
    const f = inLayer(layer, rel, calls);
    if (f === "hidden") break;
    if (f !== "absent") return f;
  }
  return IMPLICIT_DIR;
}

/**
 * Gives each implicit directory `rel` of the layer unpacked in `dir` (real
 * directories there, as `unpackLayer` reports them) the owner, then the
 * mode, of {@linkcode lowerDirAttrs}; {@linkcode IMPLICIT_DIR} when a
 * directory above it in this layer is opaque (the layers below are hidden
 * there).
 */
export function inheritImplicitDirs(
  dir: string,
  implicit: string[],
  lowers: string[],
  calls: UnpackCalls,
): void {
  const opaque = new Map<string, boolean>();
  const opaqueAbove = (rel: string): boolean => {
    const i = rel.lastIndexOf("/");
    if (i < 0) return false;
    const parent = rel.slice(0, i);
    let o = opaque.get(parent);
    if (o === undefined) {
      o = opaqueAbove(parent) || calls.isOpaque(join(dir, parent));
      opaque.set(parent, o);
    }
    return o;
  };
  for (const rel of implicit) {
    const a = lowers.length === 0 || opaqueAbove(rel)
      ? IMPLICIT_DIR
      : lowerDirAttrs(lowers, rel, calls);
    const p = join(dir, rel);
    Deno.chownSync(p, a.uid, a.gid);
    Deno.chmodSync(p, a.mode);
  }
}
