/**
 * Giving back the memory of the byte chunks a layer streams through. Every
 * chunk of a pull or load (fetched, decompressed, handed to node-tar) is a
 * fresh ArrayBuffer outside V8's heap; V8 collects them only once such
 * external memory has grown by its soft limit (64 MB), so a pull of a
 * Debian-sized image peaked at 120–140 MB of RSS whatever its parallelism,
 * against 48 MB for the process before any layer. A minor collection (a
 * scavenge: the chunks die young) every {@linkcode GARBAGE_EVERY} bytes
 * of decompressed layer brings that peak to about 90 MB (every 16 MB: 95–100
 * MB; a major collection instead gains nothing), for well under a
 * millisecond each. V8's `gc` is reached through node:v8 and node:vm (`--expose-gc`
 * set at run time, then `gc` read from a fresh context); where that is not
 * possible, nothing is collected early and only the peak is higher.
 *
 * @module
 */

import { nodeSync } from "./_node.ts";

/** Bytes streamed between two collections. */
export const GARBAGE_EVERY = 4 * 1024 * 1024;

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
 * Counts streamed bytes (shared by the layers of one process) and runs a
 * minor collection each time {@linkcode GARBAGE_EVERY} more have passed.
 */
export function streamed(n: number): void {
  pending += n;
  if (pending < GARBAGE_EVERY) return;
  pending = 0;
  gcFunction()?.({ type: "minor" });
}
let pending = 0;
