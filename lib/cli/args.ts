/**
 * Argument parsing for subcommands, with one-line InvalidArgument errors,
 * and the help text built from the same option table.
 *
 * @module
 */

import { InvalidArgument } from "../host/errors.ts";

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
  /**
   * The values a string option accepts: anything else is refused while
   * parsing (`list: --format must be table or json, not "x"`), and
   * completion offers them.
   */
  choices?: readonly string[];
  /** One-line description. */
  help: string;
  /**
   * Given before the first `--`, it selects the runc form of a command whose
   * options otherwise end at the first positional (`--rootfs`, `--bundle`,
   * `--image` of `run`/`create`): options may then also follow the ID.
   */
  runcForm?: boolean;
  /**
   * A `true|false` string option that is a boolean, as podman's: alone it
   * means `"true"` (`--tls-verify busybox`: true, image busybox). Where
   * options end at the first positional (the podman form) it takes a value
   * only with `=`; elsewhere a following `true` or `false` is its value too.
   */
  flag?: boolean;
}

/**
 * Where a command's options end, declared once per command:
 * `anywhere` (options and positionals mix; everything after the first `--`
 * is the container command), or `first-positional` (the podman form: options
 * are read only up to the first positional; a `--` right after it is dropped
 * and everything after it is the command, `--` and `-h` included). A
 * `first-positional` command falls back to `anywhere` when one of its
 * {@linkcode OptionSpec.runcForm} options appears before the first `--`.
 */
export type OptionsEnd = "anywhere" | "first-positional";

/** `a`, `a or b`, `a, b or c`. */
export function orList(items: readonly string[]): string {
  return items.length <= 1
    ? items.join("")
    : `${items.slice(0, -1).join(", ")} or ${items[items.length - 1]}`;
}

/**
 * A positional argument of a command: `ID` (an existing container), or a
 * word from `choices` (`completion bash|zsh|fish`).
 */
export interface PositionalSpec {
  /** The placeholder of the usage line, e.g. `ID`, `SHELL`. */
  name: string;
  /** The words it accepts, when they are a closed set (completion offers them). */
  choices?: readonly string[];
  /** May be left out (only trailing ones). */
  optional?: boolean;
  /** May be given several times (only the last one): `NAME...`. */
  repeat?: boolean;
}

/**
 * Checks the positionals and the `-- CMD` of parsed arguments against a
 * command's declaration, with the messages of {@linkcode expectPositionals}
 * and {@linkcode noCommand}.
 */
export function checkShape(
  cmd: string,
  parsed: ParsedArgs,
  specs: readonly PositionalSpec[],
  command: "none" | "allowed" = "none",
): void {
  if (command === "none") noCommand(cmd, parsed.command);
  const required = specs.filter((s) => s.optional !== true);
  if (parsed.positionals.length < required.length) {
    const missing = required.slice(parsed.positionals.length).map((s) => s.name);
    throw new InvalidArgument(`${cmd}: missing ${missing.join(" ")}`);
  }
  if (parsed.positionals.length > specs.length && specs[specs.length - 1]?.repeat !== true) {
    throw new InvalidArgument(`${cmd}: unexpected argument "${parsed.positionals[specs.length]}"`);
  }
}

/** What {@linkcode parseCommandArgs} returns. */
export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  /** Positional arguments before `--`. */
  positionals: string[];
  /** Everything after the first `--` (the container command), or null. */
  command: string[] | null;
  /** The options ended at the first positional (the podman form), see {@linkcode OptionsEnd}. */
  firstPositional?: boolean;
}

/** True when one of the `runcForm` options of `specs` appears before the first `--` of `args`. */
export function runcFormGiven(args: string[], specs: readonly OptionSpec[]): boolean {
  const dd = args.indexOf("--");
  const head = dd >= 0 ? args.slice(0, dd) : args;
  const marks = specs.filter((s) => s.runcForm === true).map((s) => `--${s.name}`);
  return head.some((a) => marks.some((m) => a === m || a.startsWith(`${m}=`)));
}

/** The rule `args` are read by: `first-positional` unless the runc form is selected. */
export function effectiveEnd(
  end: OptionsEnd,
  args: string[],
  specs: readonly OptionSpec[],
): OptionsEnd {
  return end === "first-positional" && !runcFormGiven(args, specs) ? end : "anywhere";
}

/**
 * Whether `args` ask for help: `--help`, or `-h` where the command has no
 * `-h` of its own, among the options (before the first `--`; with
 * `first-positional`, before the first positional). Unknown options are
 * skipped, so `berth run --bogus --help` still shows help.
 */
export function helpRequested(
  args: string[],
  specs: readonly OptionSpec[],
  end: OptionsEnd = "anywhere",
): boolean {
  const ownH = specs.some((s) => s.short === "h");
  const stop = effectiveEnd(end, args, specs) === "first-positional";
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") return false;
    if (a === "--help" || (a === "-h" && !ownH)) return true;
    if (a.startsWith("--") && !a.includes("=")) {
      const spec = specs.find((s) => `--${s.name}` === a);
      if (spec?.type === "string" && !(stop && spec.flag === true)) i++;
    } else if (a.startsWith("-") && a.length > 1 && !a.startsWith("--")) {
      // A cluster: a string option at its end takes the next argument.
      for (let j = 1; j < a.length; j++) {
        const spec = specs.find((s) => s.short === a[j]);
        if (spec?.type === "string") {
          if (j === a.length - 1) i++;
          break;
        }
      }
    } else if (!a.startsWith("-") && stop) return false;
  }
  return false;
}

/**
 * Parses `args` of subcommand `cmd` against `specs`: `--name`, `--name=V`,
 * `--name V`, `-x`, `-xV`, `-x V`, clusters of short booleans (`-qA`),
 * booleans as `--name=true|false`. Where the options end is `end` (see
 * {@linkcode OptionsEnd}); by default everything after the first `--` is the
 * container command. (Not `node:util` parseArgs: any `node:` import costs
 * ~6 ms of start-up.)
 */
export function parseCommandArgs(
  cmd: string,
  args: string[],
  specs: OptionSpec[],
  end: OptionsEnd = "anywhere",
): ParsedArgs {
  const stop = effectiveEnd(end, args, specs) === "first-positional";
  const dd = args.indexOf("--");
  const head = stop ? args : dd >= 0 ? args.slice(0, dd) : args;
  let command = stop ? null : dd >= 0 ? args.slice(dd + 1) : null;
  const byLong = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short !== undefined).map((s) => [s.short!, s]));
  const values: ParsedArgs["values"] = {};
  const positionals: string[] = [];
  const set = (s: OptionSpec, v: string | boolean) => {
    if (typeof v === "string" && s.choices !== undefined && !s.choices.includes(v)) {
      throw new InvalidArgument(`${cmd}: --${s.name} must be ${orList(s.choices)}, not "${v}"`);
    }
    if (s.multiple && typeof v === "string") {
      const prev = values[s.name];
      values[s.name] = Array.isArray(prev) ? [...prev, v] : [v];
    } else values[s.name] = v;
  };
  /** The podman form: the first positional ends the options; the rest is the command. */
  const endAt = (i: number) => {
    positionals.push(head[i]!);
    const rest = head.slice(i + 1);
    command = rest[0] === "--" ? rest.slice(1) : rest.length > 0 ? rest : null;
  };
  for (let i = 0; i < head.length; i++) {
    const a = head[i]!;
    if (stop && a === "--") {
      // `--` among the options ends them: the next word is the positional.
      if (i + 1 < head.length) endAt(i + 1);
      break;
    }
    if (a.startsWith("--") && a.length > 2) {
      const eq = a.indexOf("=");
      const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      const spec = byLong.get(name);
      if (spec === undefined) throw new InvalidArgument(`${cmd}: unknown option "--${name}"`);
      if (spec.type === "boolean") {
        if (eq > 0) {
          const v = a.slice(eq + 1);
          if (v !== "true" && v !== "false") {
            throw new InvalidArgument(`${cmd}: --${name} must be true or false, not "${v}"`);
          }
          set(spec, v === "true");
        } else set(spec, true);
        continue;
      }
      if (spec.flag === true && eq < 0) {
        // A boolean, as podman's: alone it is true (`pull --tls-verify busybox`).
        // Outside the podman form a following true/false is still its value,
        // as berth read it before (`pull --tls-verify false REF`).
        const next = head[i + 1];
        if (!stop && (next === "true" || next === "false")) set(spec, head[++i]!);
        else set(spec, "true");
        continue;
      }
      const v = eq > 0 ? a.slice(eq + 1) : head[++i];
      if (v === undefined) throw new InvalidArgument(`${cmd}: option "--${name}" needs a value`);
      set(spec, v);
    } else if (a.startsWith("-") && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const spec = byShort.get(a[j]!);
        if (spec === undefined) throw new InvalidArgument(`${cmd}: unknown option "-${a[j]}"`);
        if (spec.type === "boolean") {
          set(spec, true);
          continue;
        }
        const v = j + 1 < a.length ? a.slice(j + 1) : head[++i];
        if (v === undefined) throw new InvalidArgument(`${cmd}: option "-${a[j]}" needs a value`);
        set(spec, v);
        break;
      }
    } else if (stop) {
      endAt(i);
      break;
    } else {
      positionals.push(a);
    }
  }
  return { values, positionals, command, ...(stop ? { firstPositional: true } : {}) };
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

/**
 * A string option's value, typed by its `choices` (checked while parsing),
 * or `fallback` when it is not given.
 */
export function choice<C extends string>(
  values: ParsedArgs["values"],
  spec: { name: string; choices: readonly C[] },
  fallback: C,
): C {
  const v = values[spec.name];
  return typeof v === "string" && (spec.choices as readonly string[]).includes(v)
    ? v as C
    : fallback;
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
