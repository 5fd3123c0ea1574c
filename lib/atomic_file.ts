/**
 * Atomic, durable file replacement: a temporary file in the same directory,
 * fsync, rename over the target, fsync of the directory. A reader sees the
 * old or the new content, never a partial file; after a crash at any instant
 * the path holds the old or the new content. Leftover temporaries are named
 * `.NAME.tmp-*` so a cleanup can recognise them ({@linkcode isTempName}).
 *
 * @module
 */

import { basename, dirname, join } from "./path.ts";

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
  const file = await Deno.open(tmp, { write: true, createNew: true, mode: options.mode ?? 0o600 });
  try {
    let off = 0;
    while (off < bytes.length) off += await file.write(bytes.subarray(off));
    options.onStep?.("written");
    await file.syncData();
    options.onStep?.("synced");
  } catch (err) {
    file.close();
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  file.close();
  try {
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  options.onStep?.("renamed");
  await syncDir(dir);
}

/** fsyncs a directory so a rename or unlink in it is durable. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await Deno.open(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}
