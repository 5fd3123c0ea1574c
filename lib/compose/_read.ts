/**
 * Typed readers over a parsed YAML tree with one-line errors that name the
 * file and the key path (`compose.yaml: services.web.ports[0]: …`): the
 * malformed-file error of every compose command (exit 2).
 *
 * @module
 */

import { InvalidArgument } from "../host/errors.ts";

/** Where values come from: the file (for errors) and a warning sink. */
export interface Reader {
  file: string;
  warn: (message: string) => void;
}

/** Throws the malformed-file error for `path`. */
export function fail(r: Reader, path: string, message: string): never {
  throw new InvalidArgument(`${r.file}: ${path}: ${message}`);
}

/** A short rendering of a value for an error. */
export function shown(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** True for a YAML mapping. */
export function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** A mapping (null: empty). */
export function map(r: Reader, v: unknown, path: string): Record<string, unknown> {
  if (v === null || v === undefined) return {};
  if (!isMap(v)) fail(r, path, `must be a mapping, not ${shown(v)}`);
  return v;
}

/** A string; numbers and booleans are written as YAML would (`80`, `true`). */
export function str(r: Reader, v: unknown, path: string): string {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  fail(r, path, `must be a string, not ${shown(v)}`);
}

/** A whole number within [min, max]; a numeric string is accepted. */
export function int(r: Reader, v: unknown, path: string, min: number, max: number): number {
  const n = typeof v === "number"
    ? v
    : typeof v === "string" && /^-?[0-9]+$/.test(v)
    ? Number(v)
    : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    fail(r, path, `must be a whole number from ${min} to ${max}, not ${shown(v)}`);
  }
  return n;
}

/** A boolean (YAML's true/false, or the strings "true"/"false"). */
export function bool(r: Reader, v: unknown, path: string): boolean {
  if (typeof v === "boolean") return v;
  if (v === "true" || v === "false") return v === "true";
  fail(r, path, `must be true or false, not ${shown(v)}`);
}

/** A list of strings (a lone string: a list of one). */
export function strList(r: Reader, v: unknown, path: string): string[] {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v)) return [str(r, v, path)];
  return v.map((x, i) => str(r, x, `${path}[${i}]`));
}

/**
 * A mapping or a `KEY=VALUE` list (environment, labels, args): values as
 * strings; a key without value is null.
 */
export function mapOrList(
  r: Reader,
  v: unknown,
  path: string,
): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  if (v === null || v === undefined) return out;
  if (Array.isArray(v)) {
    v.forEach((item, i) => {
      const s = str(r, item, `${path}[${i}]`);
      const eq = s.indexOf("=");
      const key = eq < 0 ? s : s.slice(0, eq);
      if (key === "") fail(r, `${path}[${i}]`, `"${s}" has no name before =`);
      out[key] = eq < 0 ? null : s.slice(eq + 1);
    });
    return out;
  }
  for (const [k, x] of Object.entries(map(r, v, path))) {
    out[k] = x === null ? null : str(r, x, `${path}.${k}`);
  }
  return out;
}

/**
 * Splits a command string into words as a POSIX shell would without
 * running one: whitespace separates, single quotes are literal, double
 * quotes and backslash escape.
 */
export function shellWords(r: Reader, text: string, path: string): string[] {
  const words: string[] = [];
  let cur = "";
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) fail(r, path, `unclosed ' in ${shown(text)}`);
      cur += text.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === "\\" && j + 1 < text.length && '"\\$`'.includes(text[j + 1]!)) j++;
        cur += text[j];
      }
      if (j >= text.length) fail(r, path, `unclosed " in ${shown(text)}`);
      i = j;
      inWord = true;
    } else if (c === "\\" && i + 1 < text.length) {
      cur += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = "";
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return words;
}

/** A command: a list of strings, or a string split as a shell would. */
export function command(r: Reader, v: unknown, path: string): string[] {
  if (typeof v === "string") return shellWords(r, v, path);
  if (!Array.isArray(v)) fail(r, path, `must be a string or a list of strings, not ${shown(v)}`);
  return strList(r, v, path);
}

/** Warns about the keys of `m` not in `known` (`path.key is not supported: ignored`). */
export function warnUnknown(
  r: Reader,
  m: Record<string, unknown>,
  known: ReadonlySet<string>,
  path: string,
): void {
  const extra = Object.keys(m).filter((k) => !known.has(k) && !k.startsWith("x-"));
  if (extra.length > 0) {
    const at = path === "" ? "" : `${path}.`;
    r.warn(
      `${r.file}: ${extra.map((k) => at + k).join(", ")} ${
        extra.length === 1 ? "is" : "are"
      } not supported: ignored`,
    );
  }
}
