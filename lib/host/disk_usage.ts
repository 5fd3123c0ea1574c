/**
 * The bytes a directory tree takes on disk (allocated blocks), without
 * following symbolic links or crossing into other filesystems.
 *
 * @module
 */

import { join } from "../_std/path.ts";

/** Disk usage of `path` in bytes; 0 when it does not exist. */
export async function diskUsage(path: string): Promise<number> {
  let top: Deno.FileInfo;
  try {
    top = await Deno.lstat(path);
  } catch {
    return 0;
  }
  const seen = new Set<string>();
  const walk = async (p: string, info: Deno.FileInfo): Promise<number> => {
    // Hard links count once.
    const key = `${info.dev}:${info.ino}`;
    if (seen.has(key)) return 0;
    seen.add(key);
    let n = (info.blocks ?? 0) * 512;
    if (!info.isDirectory) return n;
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(p));
    } catch {
      return n;
    }
    for (const e of entries) {
      const child = join(p, e.name);
      let ci: Deno.FileInfo;
      try {
        ci = await Deno.lstat(child);
      } catch {
        continue; // gone meanwhile
      }
      if (ci.dev !== top.dev) continue; // a mount point: another filesystem
      n += await walk(child, ci);
    }
    return n;
  };
  return await walk(path, top);
}
