/**
 * Giving back the memory of the byte chunks a layer streams through. Every
 * chunk of a pull or load (fetched, decompressed, handed to node-tar) is a
 * fresh ArrayBuffer outside V8's heap; V8 collects them only once such
 * external memory has grown by its soft limit (64 MB), so a pull of a
 * Debian-sized image peaked at 120–140 MB of RSS whatever its parallelism,
 * against 48 MB for the process before any layer. So a collection runs
 * every {@linkcode GARBAGE_EVERY} bytes streamed. V8's `gc` is reached
 * through node:v8 and node:vm (`--expose-gc` set at run time, then `gc`
 * read from a fresh context); where that is not possible, nothing is
 * collected early and only the peak is higher.
 *
 * That `gc` is no minor collection: it ignores its options and sends V8 a
 * low-memory notification, two or more full mark-compacts of the heap
 * (`--trace-gc` says "low memory notification"), 4–20 ms each. At one per
 * 4 MB that was 214 mark-compacts and about 2 s of CPU in a `load` of a
 * Debian-sized image (1.1 s of user CPU without it, 3.3 s with it; figures
 * of `deno run main.ts`, busy host). One
 * per 8 MB is the compromise: on that load 2.2–2.5 s of user CPU and
 * 84–89 MB of peak RSS (4 MB: 3.2–3.5 s, 81–83 MB; 16 MB: 1.9–2.1 s,
 * 85 MB; 32 MB: 1.5–1.8 s, 89–90 MB; none: 113 MB); on a pull of it
 * 2.2 s and 92 MB (4 MB: 3.0 s, 88 MB; 16 MB: 1.9 s, 96 MB).
 *
 * The first collection comes after {@linkcode FIRST_GARBAGE} bytes (the
 * peak of a pull was in its first 8 MB: the chunks of every layer in
 * flight on top of the code all its paths had just loaded).
 *
 * Each collection also drops the clean, read-only file pages of the
 * process ({@linkcode trimFilePages}, as the monitor does): 30–45 MB of a
 * pull's RSS were pages of the Deno binary touched while starting and
 * loading node compatibility, never touched again; those a pull uses fault
 * back in from the page cache. {@linkcode giveBack} does the same at once,
 * for a command about to stream (after `loadNode()`). On a pull of the
 * bench's Debian-sized image (quiet host, GNU time's %M): 86–89 MB without
 * either; 73–74 MB with the trim every 8 MB; 63–66 MB with the first
 * collection after 1 MB too, two layers in flight (`_layers.ts`). A trim
 * takes about 5 ms, but the pages still in use fault back in: trimming at
 * every collection made a `load` of that image (its work all on one
 * thread) about 0.5 s longer (3.9–5.7 s against 3.2–3.8 s), for the
 * same 58–63 MB. So the trim is at every {@linkcode GIVE_BACK_EVERY}th
 * collection (every 32 MB): pull 66 MB, load 62 MB; only at the start and
 * the first collection: pull 70 MB.
 *
 * @module
 */

import { nodeSync } from "./_node.ts";
import { libc } from "../host/libc.ts";
import { trimFilePages } from "../host/memory_trim.ts";

/** Bytes streamed between two collections. */
export const GARBAGE_EVERY = 8 * 1024 * 1024;

/** Bytes streamed before the first collection. */
export const FIRST_GARBAGE = 1024 * 1024;

/** Collections per {@linkcode giveBack} (the first collection's included). */
export const GIVE_BACK_EVERY = 4;

type Gc = (o?: { type: "minor" | "major" }) => void;
let gc: Gc | null | undefined;

/** V8's `gc`, or null where it cannot be had (after `loadNode()`). */
function gcFunction(): Gc | null {
  if (gc !== undefined) return gc;
  try {
    const { v8, vm } = nodeSync();
    v8.setFlagsFromString("--expose-gc");
    const f = vm.runInNewContext("gc") as unknown;
    gc = typeof f === "function" ? f as Gc : null;
  } catch {
    gc = null;
  }
  return gc;
}

/**
 * Drops this process's clean, read-only file pages now (see the module
 * doc); returns the kB dropped (0 where /proc or madvise is not there).
 */
export function giveBack(): number {
  return trimFilePages(libc);
}

/**
 * Counts streamed bytes (shared by the layers of one process) and runs a
 * collection once {@linkcode FIRST_GARBAGE} bytes have passed, then each
 * time {@linkcode GARBAGE_EVERY} more have; the first collection and every
 * {@linkcode GIVE_BACK_EVERY}th one also {@linkcode giveBack}.
 */
export function streamed(n: number): void {
  pending += n;
  if (pending < step) return;
  pending = 0;
  step = GARBAGE_EVERY;
  gcFunction()?.({ type: "minor" });
  if (collections++ % GIVE_BACK_EVERY === 0) giveBack();
}
let pending = 0;
let step = FIRST_GARBAGE;
let collections = 0;
