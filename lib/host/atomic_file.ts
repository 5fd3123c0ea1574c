/**
 * Atomic, durable file replacement: a temporary file in the same directory,
 * fsync, rename over the target, fsync of the directory. A reader sees the
 * old or the new content, never a partial file; after a crash at any instant
 * the path holds the old or the new content. Leftover temporaries are named
 * `.NAME.tmp-*` so a cleanup can recognise them ({@linkcode isTempName}).
 *
 * {@linkcode writeBeside} does the same for a large output streamed into
 * a path anywhere (`save -o`, `export -o`), where no cleanup could tell a
 * leftover temp from a user's file by its name alone: each such temp is
 * recorded in a journal directory of berth's own root while it exists,
 * and {@linkcode removeAbandonedTemps} (`berth gc`) removes the temps of
 * dead writers that the journal names.
 *
 * @module
 */

import { basename, dirname, join } from "../_std/path.ts";
import { BerthError, isNotFound, RuntimeError } from "./errors.ts";
import { liveness, startTimeOf } from "./proc.ts";
import { promised } from "./sync_io.ts";

/** Options of {@linkcode writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** Mode of the new file. Default: 0o600. */
  mode?: number;
  /**
   * Whether the content must survive a machine crash (default true): false
   * skips both fsyncs, for files that describe only kernel state a machine
   * crash takes with it (a killed process still leaves the old or the new
   * content: the rename is atomic).
   */
  durable?: boolean;
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
    if (options.durable !== false) {
      file.syncDataSync();
      options.onStep?.("synced");
    }
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
  if (options.durable !== false) await syncDir(dir);
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

/** Options of {@linkcode writeBeside}. */
export interface BesideOptions {
  /** Mode of the new file. Default: 0o644. */
  mode?: number;
  /**
   * A private directory (berth's own root) where the temp is recorded while
   * it exists, for {@linkcode removeAbandonedTemps}; null: not recorded.
   */
  journal: string | null;
  /** Called once the content is written, before the fsync (fault injection). */
  onWritten?: () => void;
}

/** One journal record: the temp a writer had beside its target. */
interface TempRecord {
  temp: string;
  pid: number;
  pidStartTime: number | null;
}

/**
 * Writes `path` through a temp beside it, `.NAME.tmp-PID-RAND`: `write`
 * fills it, then it is fsync'd, renamed into place and its directory
 * fsync'd. A failure removes the temp and throws a RuntimeError naming
 * `label` (a BerthError from `write` passes as it is); a kill leaves the
 * temp, which the next write to `path` removes (with any other temps there
 * whose process is dead) and `berth gc` removes through the journal. A
 * reader of `path` never sees a partial file.
 */
export async function writeBeside(
  path: string,
  label: string,
  write: (file: Deno.FsFile) => Promise<void>,
  options: BesideOptions,
): Promise<void> {
  removeDeadTempsBeside(path);
  const rand = crypto.randomUUID().slice(0, 8);
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${Deno.pid}-${rand}`);
  const record = options.journal === null ? null : join(options.journal, `${Deno.pid}-${rand}`);
  let file: Deno.FsFile | null = null;
  try {
    // A target directory that is not there changes nothing, not even the journal.
    if (!Deno.statSync(dirname(path)).isDirectory) {
      throw new Error(`${dirname(path)} is not a directory`);
    }
    if (record !== null) {
      Deno.mkdirSync(options.journal!, { recursive: true, mode: 0o700 });
      const r: TempRecord = { temp: tmp, pid: Deno.pid, pidStartTime: startTimeOf(Deno.pid) };
      await writeFileAtomic(record, JSON.stringify(r));
    }
    file = Deno.openSync(tmp, { write: true, createNew: true, mode: options.mode ?? 0o644 });
    await write(file);
    options.onWritten?.();
    file.syncSync();
    file.close();
    file = null;
    Deno.renameSync(tmp, path);
    await syncDir(dirname(path));
  } catch (err) {
    file?.close();
    removeQuietly(tmp);
    if (record !== null) removeQuietly(record);
    if (err instanceof BerthError) throw err;
    throw new RuntimeError(`cannot write ${label}: ${(err as Error).message}`);
  }
  if (record !== null) removeQuietly(record);
}

/** Removes `.NAME.tmp-PID-RAND` files of dead processes beside `file`. */
function removeDeadTempsBeside(file: string): void {
  const dir = dirname(file);
  const prefix = `.${basename(file)}.tmp-`;
  let names: string[];
  try {
    names = [...Deno.readDirSync(dir)].map((e) => e.name);
  } catch {
    return;
  }
  for (const n of names) {
    if (!n.startsWith(prefix)) continue;
    const m = /^(\d+)-[0-9a-f]{8}$/.exec(n.slice(prefix.length));
    if (m === null || Number(m[1]) === Deno.pid) continue;
    if (liveness(Number(m[1]), null) === "alive") continue; // its write is under way
    try {
      Deno.removeSync(join(dir, n));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

/**
 * The temps recorded in `journal` whose writer is dead (killed): removes
 * each (a temp renamed into place meanwhile is not there any more: only its
 * record goes) and its record, unless `dry`. Returns the temps found.
 */
export function removeAbandonedTemps(journal: string, dry: boolean): string[] {
  let names: string[];
  try {
    names = [...Deno.readDirSync(journal)].filter((e) => e.isFile).map((e) => e.name);
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const n of names) {
    if (!/^\d+-[0-9a-f]{8}$/.test(n)) continue; // a record's own temp: see isTempName
    const path = join(journal, n);
    let r: TempRecord;
    try {
      r = JSON.parse(Deno.readTextFileSync(path));
    } catch {
      continue;
    }
    if (liveness(r.pid, r.pidStartTime) === "alive") continue;
    // Only the exact name the writer made: `.NAME.tmp-PID-RAND`, never anything else.
    const ok = typeof r.temp === "string" && basename(r.temp).endsWith(`.tmp-${n}`);
    const there = ok && exists(r.temp);
    if (there) found.push(r.temp);
    if (dry) continue;
    if (there) {
      try {
        Deno.removeSync(r.temp);
      } catch (err) {
        if (!isNotFound(err)) throw err; // the record stays: the next gc tries again
      }
    }
    removeQuietly(path);
  }
  for (const n of names) {
    if (isTempName(n) && !dry) {
      const m = /\.tmp-(\d+)-/.exec(n);
      if (m !== null && liveness(Number(m[1]), null) !== "alive") removeQuietly(join(journal, n));
    }
  }
  return found;
}

function exists(path: string): boolean {
  try {
    return Deno.lstatSync(path).isFile;
  } catch {
    return false;
  }
}
