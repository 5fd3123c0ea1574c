/**
 * The shape of a subcommand: a pure `parse(args)` (tested without
 * processes) and an `async run(ctx, options)` returning the exit code.
 *
 * @module
 */

import { optionLabel, type OptionsEnd, type OptionSpec, type PositionalSpec } from "./args.ts";
import type { Context } from "../container/context.ts";

export type { PositionalSpec } from "./args.ts";

/** A subcommand. */
export interface Command<O> {
  name: string;
  aliases?: string[];
  /** One line for `berth --help`. */
  summary: string;
  /** Usage line(s) without the leading `berth`. */
  usage: string;
  /** Longer description for `berth CMD --help`. */
  description?: string;
  options: OptionSpec[];
  /**
   * Where its options end (default `anywhere`); `first-positional` is the
   * podman form of `run`, `create` and `exec`: see {@linkcode OptionsEnd}.
   */
  optionsEnd?: OptionsEnd;
  /** Its positional arguments, when declared (completion reads them). */
  positionals?: PositionalSpec[];
  /**
   * Whether a `-- CMD` may follow. Declaring it says `positionals` is the
   * whole shape: `cli` then checks the positionals' count and the `--`
   * before `parse` (a command without it checks its own).
   */
  command?: "none" | "allowed";
  examples: string[];
  /** Not listed in help (the monitor's entry point). */
  hidden?: boolean;
  /**
   * Runs without the roots check (`secureRoots`): the command never uses
   * the roots, or reports on them itself (`doctor`).
   */
  skipRootCheck?: boolean;
  /** Parses the arguments after the command name; throws InvalidArgument. */
  parse(args: string[]): O;
  /** Runs it; resolves to the exit code. */
  run(ctx: Context, options: O): Promise<number>;
}

/** Any command, whatever its options type. */
// deno-lint-ignore no-explicit-any
export type AnyCommand = Command<any>;

/** `berth CMD --help`. */
export function commandHelp(c: AnyCommand): string {
  const lines = [`Usage: berth [GLOBAL OPTIONS] ${c.usage}`, "", c.summary];
  if (c.description !== undefined) lines.push("", c.description);
  if (c.aliases?.length) lines.push("", `Aliases: ${c.aliases.join(", ")}`);
  const rows = [
    ...c.options.map((o) => [
      optionLabel(o),
      o.help + (o.default !== undefined ? ` (default: ${o.default})` : ""),
    ]),
    [c.options.some((o) => o.short === "h") ? "    --help" : "-h, --help", "show this help"],
  ];
  const width = Math.max(...rows.map((r) => r[0]!.length));
  lines.push("", "Options:");
  for (const [label, help] of rows) lines.push(`  ${label!.padEnd(width)}  ${help}`);
  if (c.examples.length > 0) {
    lines.push("", "Examples:");
    for (const e of c.examples) lines.push(`  ${e}`);
  }
  return lines.join("\n") + "\n";
}
