/** A real pseudo-terminal pair for terminal tests, through berth's own FFI. */

import { terminalLibc as lib } from "../lib/terminal/_ffi.ts";

/**
 * Opens every lazily loaded symbol group of the terminal FFI, so no test
 * trips the resource sanitizer by loading one.
 */
export function warmTerminalLibc(): void {
  const warm = lib.openPty();
  lib.setNonblocking(warm.master);
  lib.close(warm.master);
  const dir = Deno.makeTempDirSync();
  lib.close(lib.listenUnix(`${dir}/warm.sock`));
  Deno.removeSync(dir, { recursive: true });
  lib.isatty(0);
}

/** A new pair: the master (non-blocking), the slave opened, its path. */
export function ptyPair(): { master: number; slave: number; slavePath: string } {
  const { master, slavePath } = lib.openPty();
  return { master, slave: lib.openTerminal(slavePath), slavePath };
}

/** Closes both sides. */
export function closePair(p: { master: number; slave: number }): void {
  lib.close(p.slave);
  lib.close(p.master);
}
