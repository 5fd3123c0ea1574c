/**
 * Reading a Containerfile (Dockerfile): logical lines (`\` continuations,
 * comments, the `# escape=` directive), instructions with their `--flags`,
 * exec (JSON) and shell forms, stages (`FROM … AS name`, `ARG` before the
 * first `FROM`), and variable substitution (`$VAR`, `${VAR}`,
 * `${VAR:-word}`, `${VAR:+word}`). Everything is checked here, before a
 * build writes anything: an unknown or malformed instruction is one
 * InvalidArgument (exit 2) naming the file and line,
 * `Containerfile:LINE: …`.
 *
 * @module
 */

import { InvalidArgument } from "../host/errors.ts";
import { keyValuePairs as pairsOf } from "../image/mod.ts";

/** The instructions berth builds. */
export const INSTRUCTIONS = [
  "FROM",
  "RUN",
  "COPY",
  "ADD",
  "ENV",
  "ARG",
  "WORKDIR",
  "USER",
  "CMD",
  "ENTRYPOINT",
  "EXPOSE",
  "LABEL",
  "VOLUME",
  "STOPSIGNAL",
  "HEALTHCHECK",
  "SHELL",
  "MAINTAINER", // deprecated, still common: the image's author
] as const;

/** An instruction's name. */
export type InstructionName = typeof INSTRUCTIONS[number];

/** The `--flags` each instruction accepts. */
const FLAGS: Partial<Record<InstructionName, readonly string[]>> = {
  FROM: ["platform"],
  COPY: ["from", "chown", "chmod"],
  ADD: ["chown", "chmod"],
  HEALTHCHECK: ["interval", "timeout", "start-period", "start-interval", "retries"],
};

/** One instruction, as written (continuations joined). */
export interface Instruction {
  /** The line it starts on (1-based). */
  line: number;
  name: InstructionName;
  /** `--name=value` flags, in the order given. */
  flags: Record<string, string>;
  /** The text after the name and flags. */
  args: string;
  /** The exec (JSON) form's words, or null (shell form or not applicable). */
  json: string[] | null;
}

/** A stage: a FROM and the instructions up to the next. */
export interface Stage {
  index: number;
  /** `AS name` (lowercase), or null. */
  name: string | null;
  from: Instruction;
  /** The base as written (substituted later with the global ARGs). */
  base: string;
  steps: Instruction[];
}

/** A parsed Containerfile. */
export interface Containerfile {
  /** The ARGs before the first FROM (they serve FROM lines only). */
  globalArgs: Instruction[];
  stages: Stage[];
}

/** The error for `file`:`line`. */
export function lineError(file: string, line: number, why: string): InvalidArgument {
  return new InvalidArgument(`${file}:${line}: ${why}`);
}

/** Logical lines: [first line number, text] with continuations joined and comments dropped. */
export function logicalLines(text: string): { line: number; text: string }[] {
  const raw = text.replace(/\r\n/g, "\n").split("\n");
  let escape = "\\";
  // Parser directives: comments of the form `# key=value` at the very top.
  for (const l of raw) {
    const m = /^#\s*([a-zA-Z]+)\s*=\s*(\S*)\s*$/.exec(l);
    if (m === null) break;
    if (m[1]!.toLowerCase() === "escape" && (m[2] === "`" || m[2] === "\\")) escape = m[2]!;
  }
  const out: { line: number; text: string }[] = [];
  let cur: string | null = null;
  let start = 0;
  for (let i = 0; i < raw.length; i++) {
    const l = raw[i]!;
    const trimmed = l.trim();
    if (cur !== null && (trimmed === "" || trimmed.startsWith("#"))) continue; // inside a continuation
    if (cur === null && (trimmed === "" || trimmed.startsWith("#"))) continue;
    const right = l.replace(/\s+$/, "");
    const continued = right.endsWith(escape);
    const body = continued ? right.slice(0, -1) : right;
    if (cur === null) {
      cur = body.replace(/^\s+/, "");
      start = i + 1;
    } else cur += body;
    if (!continued) {
      out.push({ line: start, text: cur });
      cur = null;
    }
  }
  if (cur !== null && cur.trim() !== "") out.push({ line: start, text: cur });
  return out;
}

/** The JSON form's words, null when `text` is not a JSON array of strings. */
export function jsonWords(text: string): string[] | null {
  if (!text.startsWith("[")) return null;
  try {
    const v = JSON.parse(text);
    if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v;
  } catch { /* shell form */ }
  return null;
}

/** Splits leading `--name=value` flags off `rest`. */
function takeFlags(
  file: string,
  line: number,
  name: InstructionName,
  rest: string,
): { flags: Record<string, string>; rest: string } {
  const flags: Record<string, string> = {};
  let s = rest;
  for (;;) {
    const m = /^--([a-z-]+)(?:=(\S*))?(?:\s+|$)/.exec(s);
    if (m === null) break;
    const allowed = FLAGS[name] ?? [];
    if (!allowed.includes(m[1]!)) {
      throw lineError(file, line, `${name} does not take --${m[1]}`);
    }
    if (m[2] === undefined || m[2] === "") {
      throw lineError(file, line, `${name} --${m[1]} needs a value (--${m[1]}=VALUE)`);
    }
    flags[m[1]!] = m[2]!;
    s = s.slice(m[0].length);
  }
  return { flags, rest: s.trim() };
}

const EXEC_FORMS = new Set<InstructionName>(["RUN", "CMD", "ENTRYPOINT", "SHELL"]);

/** Checks what can be checked before substitution; throws the line's error. */
function checkInstruction(file: string, ins: Instruction): void {
  const bad = (why: string) => lineError(file, ins.line, why);
  const a = ins.args;
  const needsArgs = !["CMD", "ENTRYPOINT"].includes(ins.name);
  if (needsArgs && a === "") throw bad(`${ins.name} needs an argument`);
  if (a.startsWith("[") && EXEC_FORMS.has(ins.name) && ins.json === null) {
    // Docker reads an invalid JSON array as shell form; a clear error serves better here.
    if (ins.name === "SHELL") throw bad("SHELL needs a JSON array of strings");
  }
  switch (ins.name) {
    case "SHELL":
      if (ins.json === null || ins.json.length === 0) {
        throw bad('SHELL needs a JSON array of strings, as ["/bin/sh", "-c"]');
      }
      break;
    case "FROM": {
      const w = a.split(/\s+/);
      if (!(w.length === 1 || (w.length === 3 && w[1]!.toLowerCase() === "as"))) {
        throw bad("FROM takes IMAGE [AS NAME]");
      }
      if (w.length === 3 && !/^[a-zA-Z][a-zA-Z0-9_.-]*$/.test(w[2]!)) {
        throw bad(`"${w[2]}" is not a stage name`);
      }
      break;
    }
    case "COPY":
    case "ADD": {
      const words = ins.json ?? a.split(/\s+/);
      if (words.length < 2) throw bad(`${ins.name} needs a source and a destination`);
      if (ins.name === "ADD") {
        for (const src of words.slice(0, -1)) {
          if (/^[a-z][a-z0-9+.-]*:\/\//i.test(src) || /^git@/.test(src)) {
            throw bad(
              `ADD ${src}: berth does not fetch URLs; download it into the context and COPY it`,
            );
          }
        }
      }
      if (ins.flags.chmod !== undefined && !/^[0-7]{3,4}$/.test(ins.flags.chmod)) {
        throw bad(`--chmod=${ins.flags.chmod} is not an octal mode`);
      }
      break;
    }
    case "ARG":
      if (!/^[a-zA-Z_][a-zA-Z0-9_]*(=.*)?$/s.test(a)) throw bad(`ARG ${a}: not NAME[=VALUE]`);
      break;
    case "ENV":
    case "LABEL":
      if (!a.includes("=") && a.split(/\s+/).length < 2) throw bad(`${ins.name} needs KEY=VALUE`);
      break;
    case "HEALTHCHECK": {
      const first = a.split(/\s+/)[0]!.toUpperCase();
      if (first !== "NONE" && first !== "CMD") throw bad("HEALTHCHECK takes NONE or CMD …");
      if (first === "NONE" && a.trim().toUpperCase() !== "NONE") {
        throw bad("HEALTHCHECK NONE takes no arguments");
      }
      if (first === "CMD" && a.slice(3).trim() === "") throw bad("HEALTHCHECK CMD needs a command");
      for (const [k, v] of Object.entries(ins.flags)) {
        if (k === "retries" ? !/^\d+$/.test(v) : parseDuration(v) === null) {
          throw bad(`HEALTHCHECK --${k}=${v} is not valid`);
        }
      }
      break;
    }
    case "STOPSIGNAL":
      if (!/^(SIG)?[A-Z0-9+-]+$/i.test(a) && !a.includes("$")) {
        throw bad(`"${a}" is not a signal`);
      }
      break;
    default:
      break;
  }
}

/** A Go-style duration (`30s`, `1m30s`, `500ms`) in nanoseconds, or null. */
export function parseDuration(text: string): number | null {
  const units: Record<string, number> = { ns: 1, us: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  if (!/^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/.test(text)) return null;
  let total = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)/g)) {
    total += Number(m[1]) * units[m[2]!]!;
  }
  return Math.round(total);
}

/**
 * Parses `text` (the contents of `file`, named in errors). Throws the
 * first problem as `file:LINE: …` (InvalidArgument, exit 2).
 */
export function parseContainerfile(text: string, file = "Containerfile"): Containerfile {
  const globalArgs: Instruction[] = [];
  const stages: Stage[] = [];
  const names = new Set<string>();
  for (const { line, text: l } of logicalLines(text)) {
    const m = /^(\S+)(?:\s+(.*))?$/s.exec(l);
    if (m === null) continue;
    const word = m[1]!.toUpperCase();
    if (!(INSTRUCTIONS as readonly string[]).includes(word)) {
      throw lineError(file, line, `unknown instruction ${m[1]}`);
    }
    const name = word as InstructionName;
    const { flags, rest } = takeFlags(file, line, name, (m[2] ?? "").trim());
    const json = EXEC_FORMS.has(name) || name === "COPY" || name === "ADD" || name === "VOLUME"
      ? jsonWords(rest)
      : null;
    const ins: Instruction = { line, name, flags, args: rest, json };
    checkInstruction(file, ins);
    if (name === "FROM") {
      const w = rest.split(/\s+/);
      const stageName = w.length === 3 ? w[2]!.toLowerCase() : null;
      if (stageName !== null) {
        if (names.has(stageName)) throw lineError(file, line, `stage "${stageName}" named twice`);
        names.add(stageName);
      }
      stages.push({ index: stages.length, name: stageName, from: ins, base: w[0]!, steps: [] });
      continue;
    }
    if (stages.length === 0) {
      if (name !== "ARG") {
        throw lineError(file, line, `${name} before the first FROM (only ARG may come first)`);
      }
      globalArgs.push(ins);
      continue;
    }
    if (name === "COPY" && flags.from !== undefined) {
      const ref = flags.from.toLowerCase();
      const current = stages[stages.length - 1]!;
      if (ref === current.name || ref === String(current.index)) {
        throw lineError(file, line, `COPY --from=${flags.from}: a stage cannot copy from itself`);
      }
      if (/^\d+$/.test(ref) && Number(ref) > current.index) {
        throw lineError(file, line, `COPY --from=${flags.from}: no earlier stage ${ref}`);
      }
    }
    stages[stages.length - 1]!.steps.push(ins);
  }
  if (stages.length === 0) throw new InvalidArgument(`${file}: no FROM instruction`);
  return { globalArgs, stages };
}

/**
 * Substitutes `$VAR`, `${VAR}`, `${VAR:-word}` and `${VAR:+word}` in
 * `text` from `vars` (unset: empty); `\$` is a literal `$`. Throws a
 * line error on an unterminated or malformed `${…}`.
 */
export function substitute(
  text: string,
  vars: ReadonlyMap<string, string>,
  file: string,
  line: number,
): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === "\\" && text[i + 1] === "$") {
      out += "$";
      i += 2;
      continue;
    }
    if (c !== "$") {
      out += c;
      i++;
      continue;
    }
    if (text[i + 1] === "{") {
      const end = text.indexOf("}", i + 2);
      if (end < 0) throw lineError(file, line, `unterminated \${ in "${text}"`);
      const inner = text.slice(i + 2, end);
      const m = /^([a-zA-Z_][a-zA-Z0-9_]*)(?::([-+])(.*))?$/s.exec(inner);
      if (m === null) throw lineError(file, line, `bad substitution \${${inner}}`);
      const v = vars.get(m[1]!);
      if (m[2] === "-") {
        out += v !== undefined && v !== "" ? v : substitute(m[3]!, vars, file, line);
      } else if (m[2] === "+") {
        out += v !== undefined && v !== "" ? substitute(m[3]!, vars, file, line) : "";
      } else out += v ?? "";
      i = end + 1;
      continue;
    }
    const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(text.slice(i + 1));
    if (m === null) {
      out += "$";
      i++;
      continue;
    }
    out += vars.get(m[0]) ?? "";
    i += 1 + m[0].length;
  }
  return out;
}

/** ENV and LABEL's `K=V K2="a b"` (or `K V`) pairs; errors name the line. */
export function keyValuePairs(text: string, file: string, line: number): [string, string][] {
  return pairsOf(text, (why) => lineError(file, line, why));
}

/** Splits shell-form words (COPY/ADD/EXPOSE/VOLUME sources) on whitespace. */
export function words(ins: Instruction): string[] {
  return ins.json ?? ins.args.split(/\s+/).filter((w) => w !== "");
}
