/**
 * Argument parsing for subcommands, on `node:util` parseArgs, with errors
 * turned into one-line InvalidArgument messages, and the help text built
 * from the same option table.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { InvalidArgument } from "./errors.ts";

/** One option of a subcommand. */
export interface OptionSpec {
  /** Long name without dashes, e.g. `format`. */
  name: string;
  /** One-letter short name, e.g. `q`. */
  short?: string;
  type: "boolean" | "string";
  /** May be repeated (`-e A=1 -e B=2`). */
  multiple?: boolean;
  /** Placeholder in help, e.g. `DIR`. */
  value?: string;
  /** Default shown in help. */
  default?: string;
  /** One-line description. */
  help: string;
}

/** What {@linkcode parseCommandArgs} returns. */
export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  /** Positional arguments before `--`. */
  positionals: string[];
  /** Everything after the first `--` (the container command), or null. */
  command: string[] | null;
}

/** Parses `args` of subcommand `cmd` against `specs`. */
export function parseCommandArgs(cmd: string, args: string[], specs: OptionSpec[]): ParsedArgs {
  const dd = args.indexOf("--");
  const head = dd >= 0 ? args.slice(0, dd) : args;
  const command = dd >= 0 ? args.slice(dd + 1) : null;
  const options: Record<
    string,
    { type: "boolean" | "string"; short?: string; multiple?: boolean }
  > = {};
  for (const s of specs) {
    options[s.name] = { type: s.type };
    if (s.short !== undefined) options[s.name]!.short = s.short;
    if (s.multiple) options[s.name]!.multiple = true;
  }
  try {
    const r = parseArgs({ args: head, options, strict: true, allowPositionals: true });
    return { values: r.values as ParsedArgs["values"], positionals: r.positionals, command };
  } catch (err) {
    throw new InvalidArgument(`${cmd}: ${shortParseError(err)}`);
  }
}

function shortParseError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const msg = e.message ?? String(err);
  const opt = /'(-[^']*)'/.exec(msg)?.[1];
  switch (e.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown option "${opt ?? msg}"`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return opt !== undefined && /argument missing/.test(msg)
        ? `option "${opt.split(",")[0]}" needs a value`
        : msg.split(". ")[0]!;
    default:
      return msg.split(". ")[0]!;
  }
}

/** Exactly `names.length` positionals, named in the error. */
export function expectPositionals(cmd: string, got: string[], names: string[]): string[] {
  if (got.length < names.length) {
    throw new InvalidArgument(`${cmd}: missing ${names.slice(got.length).join(" ")}`);
  }
  if (got.length > names.length) {
    throw new InvalidArgument(`${cmd}: unexpected argument "${got[names.length]}"`);
  }
  return got;
}

/** Rejects a `-- CMD` on commands that take none. */
export function noCommand(cmd: string, command: string[] | null): void {
  if (command !== null) throw new InvalidArgument(`${cmd}: takes no command after "--"`);
}

/** A string option's value (the last one if repeated). */
export function str(values: ParsedArgs["values"], name: string): string | undefined {
  const v = values[name];
  return typeof v === "string" ? v : undefined;
}

/** A repeated string option's values. */
export function strs(values: ParsedArgs["values"], name: string): string[] {
  const v = values[name];
  return Array.isArray(v) ? v : typeof v === "string" ? [v] : [];
}

/** A boolean option's value. */
export function bool(values: ParsedArgs["values"], name: string): boolean {
  return values[name] === true;
}

/** `K=V` strings into pairs; `what` names the option in errors. */
export function parseKeyValues(items: string[], what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new InvalidArgument(`${what} "${item}" must look like KEY=VALUE`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

/** An option's help row: `-e, --env K=V`. */
export function optionLabel(s: OptionSpec): string {
  const long = `--${s.name}${s.type === "string" ? ` ${s.value ?? "VALUE"}` : ""}`;
  return s.short !== undefined ? `-${s.short}, ${long}` : `    ${long}`;
}
