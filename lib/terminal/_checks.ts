/**
 * Refusals of terminal options, before anything is touched.
 *
 * @module
 */

import { InvalidArgument } from "../host/errors.ts";
import type { TerminalLibc } from "./_ffi.ts";

/**
 * `-t` with `-i` needs berth's stdin to be a terminal (as docker: `-t`
 * alone is fine non-interactively, the process still gets a terminal).
 */
export function checkTerminalUse(
  lib: TerminalLibc,
  cmd: string,
  input: boolean,
  tty: boolean,
): void {
  if (tty && input && !lib.isatty(0)) {
    throw new InvalidArgument(
      `${cmd}: -it needs a terminal on stdin (it is not one); use -i alone to pipe input`,
    );
  }
}
