/**
 * Trimming the monitor's resident memory: most of a Deno process's
 * proportional set size is pages of the Deno binary it touched while
 * starting (parsing, type-stripping, module loading) and will not touch
 * again. Those pages are clean, private, read-only file mappings: dropping
 * them from the page table (`MADV_DONTNEED`) is safe, and the few that are
 * touched again fault back in from the page cache.
 *
 * Only mappings that are file-backed, private, not writable and hold no
 * anonymous (copy-on-write) pages are dropped: for any other mapping
 * MADV_DONTNEED would discard data.
 *
 * @module
 */

import { type Libc, MADV_DONTNEED } from "./libc.ts";

/** A mapping from /proc/self/smaps that is safe to drop. */
export interface DroppableMapping {
  start: bigint;
  end: bigint;
  path: string;
  rssKb: number;
}

/** Parses smaps text into the mappings that are safe to drop. */
export function droppableMappings(smaps: string): DroppableMapping[] {
  const out: DroppableMapping[] = [];
  let cur: { start: bigint; end: bigint; perms: string; path: string } | null = null;
  let rss = 0;
  let anon = 0;
  const flush = () => {
    if (
      cur !== null && cur.path.startsWith("/") && cur.perms[1] === "-" && cur.perms[3] === "p" &&
      anon === 0 && rss > 0
    ) out.push({ start: cur.start, end: cur.end, path: cur.path, rssKb: rss });
  };
  for (const line of smaps.split("\n")) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head !== null) {
      flush();
      cur = {
        start: BigInt("0x" + head[1]),
        end: BigInt("0x" + head[2]),
        perms: head[3]!,
        path: head[4] ?? "",
      };
      rss = 0;
      anon = 0;
      continue;
    }
    const kv = /^(Rss|Anonymous):\s+(\d+) kB/.exec(line);
    if (kv !== null) {
      if (kv[1] === "Rss") rss = Number(kv[2]);
      else anon = Number(kv[2]);
    }
  }
  flush();
  return out;
}

/** Drops clean read-only file pages of this process; returns kB dropped. */
export function trimFilePages(lib: Libc): number {
  let smaps: string;
  try {
    smaps = Deno.readTextFileSync("/proc/self/smaps");
  } catch {
    return 0;
  }
  let dropped = 0;
  for (const m of droppableMappings(smaps)) {
    try {
      lib.madvise(m.start, m.end - m.start, MADV_DONTNEED);
      dropped += m.rssKb;
    } catch { /* leave that one */ }
  }
  return dropped;
}
