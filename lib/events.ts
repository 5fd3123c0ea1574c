/**
 * The events log of a root: one JSON object per line in
 * `DATA/events.log`, appended by any number of berth processes at once.
 *
 * Each event is one `write(2)` on a file opened with O_APPEND, so lines from
 * concurrent writers never tear or interleave. The log is bounded: once it
 * passes {@linkcode EVENTS_MAX_BYTES} it is renamed to `events.log.1`
 * (replacing the previous one) under `events.lock`, so two writers never
 * rotate twice. Readers follow the path and notice rotation by its inode.
 *
 * @module
 */

import { join } from "./path.ts";
import type { Context } from "./context.ts";
import { isNotFound } from "./errors.ts";
import { FileLock } from "./lock.ts";

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
  | "gc";

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

/** Appends one event line; never throws (events must not fail an operation). */
export async function appendEvent(
  dataRoot: string,
  event: BerthEvent,
  options: AppendOptions = {},
): Promise<void> {
  const paths = eventsPaths(dataRoot);
  const line = encoder.encode(JSON.stringify(event) + "\n");
  try {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(paths.log, { append: true, create: true, mode: 0o600 });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await Deno.mkdir(dataRoot, { recursive: true, mode: 0o711 });
      file = await Deno.open(paths.log, { append: true, create: true, mode: 0o600 });
    }
    let size: number;
    try {
      const n = await file.write(line); // one write(2): atomic with O_APPEND
      if (n !== line.length) throw new Error("short write");
      size = (await file.stat()).size;
    } finally {
      file.close();
    }
    if (size > (options.maxBytes ?? EVENTS_MAX_BYTES)) await rotate(paths, options);
  } catch {
    // Best effort: an unwritable events log must not fail the operation.
  }
}

async function rotate(
  paths: ReturnType<typeof eventsPaths>,
  options: AppendOptions,
): Promise<void> {
  const lock = await FileLock.tryAcquire(paths.lock);
  if (lock === null) return; // another writer rotates
  try {
    const size = await Deno.stat(paths.log).then((s) => s.size, () => 0);
    if (size > (options.maxBytes ?? EVENTS_MAX_BYTES)) await Deno.rename(paths.log, paths.old);
  } finally {
    lock.release();
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
