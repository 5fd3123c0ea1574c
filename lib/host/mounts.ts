/**
 * The mount table and the overlay mounts berth makes for root filesystems.
 *
 * @module
 */

import { RuntimeError } from "./errors.ts";
import { EINVAL, ENOENT, ErrnoError, type Libc, libc as realLibc } from "./libc.ts";

/** Unescapes a mountinfo path (`\040` for space and the like). */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Mount points from a mountinfo text, in table order. */
export function parseMountInfo(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const field = line.split(" ")[4];
    if (field !== undefined) out.push(unescape(field));
  }
  return out;
}

/** Current mount points of this process's mount namespace. */
export function mountPoints(): Promise<string[]> {
  return Promise.resolve(parseMountInfo(Deno.readTextFileSync("/proc/self/mountinfo")));
}

/** Mount points at or below `dir`, deepest first (the order to unmount in). */
export async function mountsUnder(dir: string): Promise<string[]> {
  const prefix = dir.endsWith("/") ? dir : dir + "/";
  const all = await mountPoints();
  const under = all.filter((m) => m === dir || m.startsWith(prefix));
  return [...new Set(under)].sort((a, b) => b.length - a.length);
}

/** Escapes a directory for an overlay option string. */
function overlayPath(p: string): string {
  if (/[,:\\\n]/.test(p)) {
    throw new RuntimeError(`cannot use ${JSON.stringify(p)} in an overlay: it contains , : or \\`);
  }
  return p;
}

/** Layers of a copy-on-write root filesystem. */
export interface OverlayLayers {
  /** The read-only source, or an image's layers (bottom first). */
  lower: string | string[];
  /** Where the container's changes go. */
  upper: string;
  /** overlayfs's scratch directory (same filesystem as upper). */
  work: string;
}

/**
 * Mounts an overlay of `layers` on `target`. Many lower directories (an
 * image's layers) would overflow the mount options' one page: they are
 * given as short symlinks `links/0`, `links/1`, … made in `linksDir`
 * (the container's work directory), relative to it, and the mount is
 * made with that directory as the current one.
 */
export function mountOverlay(
  target: string,
  layers: OverlayLayers,
  lib: Libc = realLibc,
  linksDir?: string,
): void {
  let lower: string;
  let cwd: string | null = null;
  if (typeof layers.lower === "string") lower = overlayPath(layers.lower);
  else if (linksDir === undefined) {
    lower = [...layers.lower].reverse().map(overlayPath).join(":");
  } else {
    const dir = `${linksDir}/l`;
    Deno.mkdirSync(dir, { mode: 0o700 });
    layers.lower.forEach((l, i) => Deno.symlinkSync(l, `${dir}/${i}`));
    lower = layers.lower.map((_, i) => `l/${i}`).reverse().join(":");
    cwd = linksDir;
  }
  const data = `lowerdir=${lower},upperdir=${overlayPath(layers.upper)},workdir=${
    overlayPath(layers.work)
  }`;
  if (data.length >= 4096) {
    throw new RuntimeError(
      `cannot mount the root filesystem: too many layers (${data.length} bytes of options)`,
    );
  }
  const back = cwd === null ? null : Deno.cwd();
  try {
    if (cwd !== null) Deno.chdir(cwd);
    lib.mount("overlay", target, "overlay", 0, data);
  } catch (err) {
    throw new RuntimeError(`cannot mount the root filesystem: ${(err as Error).message}`);
  } finally {
    if (back !== null) Deno.chdir(back);
  }
}

/**
 * Unmounts every mount at or below `dir`, deepest first. A mount that is
 * already gone is fine; a busy one fails with a RuntimeError.
 */
export async function unmountAll(dir: string, lib: Libc = realLibc): Promise<string[]> {
  const done: string[] = [];
  // Several rounds: a mount point may carry stacked mounts.
  for (let round = 0; round < 8; round++) {
    const mounts = await mountsUnder(dir);
    if (mounts.length === 0) return done;
    for (const m of mounts) {
      try {
        await lib.umountAsync(m, 0);
        done.push(m);
      } catch (err) {
        if (err instanceof ErrnoError && (err.errno === EINVAL || err.errno === ENOENT)) continue;
        throw new RuntimeError(`cannot unmount ${m}: ${(err as Error).message}`);
      }
    }
  }
  throw new RuntimeError(`cannot unmount everything under ${dir}`);
}
