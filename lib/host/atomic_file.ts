/**
 * Atomic, durable file replacement: a temporary file in the same directory,
 * fsync, rename over the target, fsync of the directory. A reader sees the
 * old or the new content, never a partial file; after a crash at any instant
 * the path holds the old or the new content. Leftover temporaries are named
 * `.NAME.tmp-*` so a cleanup can recognise them ({@linkcode isTempName}).
 *
 * @module
 */

import { basename, dirname, join } from "../_std/path.ts";
import { promised } from "./sync_io.ts";

/** Options of {@linkcode writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** Mode of the new file. Default: 0o600. */
  mode?: number;
  /** Called between the steps, for fault injection in tests. */
  onStep?: (step: "written" | "synced" | "renamed") => void;
}

const encoder = new TextEncoder();

/** True for the name of a temporary left behind by an interrupted write. */
export function isTempName(name: string): boolean {
  return name.startsWith(".") && name.includes(".tmp-");
}

/** Atomically replaces `path` with `data`. */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`);
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  // Synchronous calls: see sync_io.ts.
  const file = Deno.openSync(tmp, { write: true, createNew: true, mode: options.mode ?? 0o600 });
  try {
    let off = 0;
    while (off < bytes.length) off += file.writeSync(bytes.subarray(off));
    options.onStep?.("written");
    file.syncDataSync();
    options.onStep?.("synced");
  } catch (err) {
    file.close();
    removeQuietly(tmp);
    throw err;
  }
  file.close();
  try {
    Deno.renameSync(tmp, path);
  } catch (err) {
    removeQuietly(tmp);
    throw err;
  }
  options.onStep?.("renamed");
  await syncDir(dir);
}

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path);
  } catch { /* gone already */ }
}

/** fsyncs a directory so a rename or unlink in it is durable. */
export function syncDir(dir: string): Promise<void> {
  return promised(() => {
    const handle = Deno.openSync(dir, { read: true });
    try {
      handle.syncSync();
    } finally {
      handle.close();
    }
  });
}
