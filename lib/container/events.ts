/**
 * The events log of a root: one JSON object per line in
 * `DATA/events.log`, appended by any number of berth processes at once.
 *
 * Each event is one `write(2)` on a file opened with O_APPEND, so lines from
 * concurrent writers never tear or interleave. The log is bounded: a line
 * that would take it past {@linkcode EVENTS_MAX_BYTES} first has it renamed
 * to `events.log.1` (replacing the previous one), under `events.lock` (see
 * {@linkcode appendEvent}). Readers follow the path and notice rotation by
 * its inode.
 *
 * @module
 */

import { dirname, join } from "../_std/path.ts";
import type { Context } from "./context.ts";
import { waitUntil } from "../host/poll.ts";
import { isNotFound } from "../host/errors.ts";

/** Rotate once the log passes this size. */
export const EVENTS_MAX_BYTES = 1 << 20;

/** Event types. */
export type EventType =
  | "create"
  | "start"
  | "pause"
  | "resume"
  | "exit"
  | "oom"
  | "delete"
  | "checkpoint"
  | "restore"
  | "gc"
  | "update"
  | "health_status"
  | "restart_failed"
  | "kill"
  | "rename";

/** One event. */
export interface BerthEvent {
  time: string;
  type: EventType;
  namespace: string | null;
  id: string | null;
  /** Type-specific details (exitCode, imagePath, action). */
  [key: string]: unknown;
}

/** Paths of the events log. */
export function eventsPaths(dataRoot: string): { log: string; old: string; lock: string } {
  return {
    log: join(dataRoot, "events.log"),
    old: join(dataRoot, "events.log.1"),
    lock: join(dataRoot, "events.lock"),
  };
}

const encoder = new TextEncoder();

/** Options of {@linkcode appendEvent}. */
export interface AppendOptions {
  /** Rotation threshold. Default {@linkcode EVENTS_MAX_BYTES}. */
  maxBytes?: number;
}

/** How long an append waits for a rotation under way before it appends anyway. */
const ROTATION_WAIT_MS = 1000;

/**
 * Appends one event line; never throws (events must not fail an operation).
 *
 * Appends hold `events.lock` shared, a rotation holds it exclusively. An
 * append checks the size under its shared lock: a log that is full is
 * rotated first (exclusively, after checking again), so no line is ever
 * appended to a full log, and a log passes the bound by at most one line
 * per writer appending at that moment, however slow the rotating process
 * is. (Synchronous calls: see sync_io.ts; each holds a lock for microseconds.)
 */
export async function appendEvent(
  dataRoot: string,
  event: BerthEvent,
  options: AppendOptions = {},
): Promise<void> {
  const paths = eventsPaths(dataRoot);
  const max = options.maxBytes ?? EVENTS_MAX_BYTES;
  const line = encoder.encode(JSON.stringify(event) + "\n");
  try {
    // Full: rotate and try again. Should rotations keep failing (a stuck
    // rotating process), the line still goes in, past the bound: an event
    // is not dropped.
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await appendUnlessFull(paths, line, max, attempt === 2)) break;
      await rotate(paths, max, line.length);
    }
  } catch {
    // Best effort: an unwritable events log must not fail the operation.
  }
}

/** Takes `lock` (shared or exclusive), waiting up to ROTATION_WAIT_MS; false if it could not. */
async function lockWithin(lock: Deno.FsFile, exclusive: boolean): Promise<boolean> {
  return await waitUntil(() => lock.tryLockSync(exclusive), {
    timeoutMs: ROTATION_WAIT_MS,
    maxMs: 1,
  });
}

function openCreating(path: string, options: Deno.OpenOptions, dir: string): Deno.FsFile {
  try {
    return Deno.openSync(path, options);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    return Deno.openSync(path, options);
  }
}

/**
 * Appends `line` under the shared lock unless the log is full (or `force`);
 * true when appended.
 */
async function appendUnlessFull(
  paths: ReturnType<typeof eventsPaths>,
  line: Uint8Array,
  max: number,
  force: boolean,
): Promise<boolean> {
  const dir = dirname(paths.log);
  const lock = openCreating(
    paths.lock,
    { read: true, write: true, create: true, mode: 0o600 },
    dir,
  );
  try {
    // A rotation stuck for a second does not stop the log: append anyway.
    await lockWithin(lock, false);
    const file = openCreating(paths.log, { append: true, create: true, mode: 0o600 }, dir);
    try {
      const size = file.statSync().size;
      if (!force && size > 0 && size + line.length > max) return false;
      const n = file.writeSync(line); // one write(2): atomic with O_APPEND
      if (n !== line.length) throw new Error("short write");
      return true;
    } finally {
      file.close();
    }
  } finally {
    lock.close(); // releases the lock
  }
}

/**
 * Renames the log to `events.log.1` under the exclusive lock, if it is
 * still too full for a line of `lineBytes` (another writer may have
 * rotated it meanwhile).
 */
async function rotate(
  paths: ReturnType<typeof eventsPaths>,
  max: number,
  lineBytes: number,
): Promise<void> {
  const lock = Deno.openSync(paths.lock, { read: true, write: true });
  try {
    if (!(await lockWithin(lock, true))) return;
    let size = 0;
    try {
      size = Deno.statSync(paths.log).size;
    } catch { /* rotated meanwhile */ }
    if (size > 0 && size + lineBytes > max) Deno.renameSync(paths.log, paths.old);
  } finally {
    lock.close();
  }
}

/** Records an event of the context's roots. */
export function emit(
  ctx: Context,
  type: EventType,
  ns: string | null,
  id: string | null,
  details: Record<string, unknown> = {},
): Promise<void> {
  return appendEvent(ctx.globals.dataRoot, {
    time: ctx.clock.now().toISOString(),
    type,
    namespace: ns,
    id,
    ...details,
  });
}

/** Parses event lines, skipping any that are not complete JSON objects. */
export function parseEvents(text: string): BerthEvent[] {
  const out: BerthEvent[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    try {
      const v = JSON.parse(line);
      if (typeof v === "object" && v !== null && typeof v.type === "string") out.push(v);
    } catch { /* a line being written right now */ }
  }
  return out;
}
