/**
 * podman's confirmation of the prunes: without `-f`, a terminal on stdin is
 * asked `[y/N]`; without a terminal the prune is refused (exit 2) rather
 * than guessed.
 *
 * @module
 */

import { InvalidArgument } from "../../host/errors.ts";
import type { Output } from "../../container/context.ts";

/** Reads one line from stdin (the answer), without its newline. */
async function readAnswer(): Promise<string> {
  const buf = new Uint8Array(256);
  let text = "";
  for (;;) {
    const n = await Deno.stdin.read(buf);
    if (n === null) return text;
    text += new TextDecoder().decode(buf.subarray(0, n));
    const nl = text.indexOf("\n");
    if (nl >= 0) return text.slice(0, nl);
  }
}

/**
 * True when the prune may go on: `force`, or a `y`/`yes` typed on the
 * terminal after `warning`. Throws when there is no terminal to ask.
 */
export async function confirmed(
  cmd: string,
  warning: string,
  force: boolean,
  io: Output,
  isTerminal: boolean = Deno.stdin.isTerminal(),
): Promise<boolean> {
  if (force) return true;
  if (!isTerminal) {
    throw new InvalidArgument(`${cmd}: stdin is not a terminal to confirm on: give -f to prune`);
  }
  io.err(`${warning}\nAre you sure you want to continue? [y/N] `);
  return /^\s*y(es)?\s*$/i.test(await readAnswer());
}
