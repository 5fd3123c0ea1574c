/**
 * Text from outside berth (a registry, an image config, a container's
 * processes, the runtime, the OS) made safe to print on a terminal: every
 * control character becomes a visible `\xNN`, so an escape sequence in an
 * image's `created` field or in an error message cannot move the cursor,
 * clear the screen, set the window title or hide what follows.
 *
 * Used by the one error path (`messageOf`, lib/host/errors.ts) and the one
 * table printer (lib/cli/commands/format.ts), and where a command prints
 * such text on its own lines. JSON output needs nothing: `JSON.stringify`
 * escapes control characters already. A container's own output (`logs`,
 * `attach`, `exec`) is its data and is passed through untouched.
 *
 * @module
 */

/** C0 controls, DEL, and the C1 controls (U+0080–U+009F: `\x9b` is a CSI on some terminals). */
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1f\x7f-\x9f]/g;

/** `text` with every control character (C0, DEL, C1; tabs and newlines too) as `\xNN`. */
export function printable(text: string): string {
  return text.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}
