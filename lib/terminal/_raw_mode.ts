/**
 * Raw mode for berth's own terminal during an interactive session, undone
 * on every way out: the caller's `finally` (normal end, error, the
 * container dying) and `Deno.exit` (the `unload` event). SIGINT, SIGTERM
 * and SIGHUP do not end berth while a session runs (they are forwarded to
 * the container), so they end it through one of those paths too. Only
 * SIGKILL leaves the terminal raw (`stty sane` repairs it).
 *
 * @module
 */

import type { TerminalLibc } from "./_ffi.ts";

/** Puts `fd` (a terminal) in raw mode; returns the idempotent restore. */
export function enterRawMode(lib: TerminalLibc, fd: number): () => void {
  const saved = lib.getAttr(fd);
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    globalThis.removeEventListener("unload", restore);
    try {
      lib.setAttr(fd, saved);
    } catch { /* the terminal is gone */ }
  };
  globalThis.addEventListener("unload", restore);
  try {
    lib.setAttr(fd, lib.makeRaw(saved));
  } catch (err) {
    restore();
    throw err;
  }
  return restore;
}
