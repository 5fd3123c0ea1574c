/**
 * Compose variable interpolation (the Compose specification's rules):
 * `$VAR`, `${VAR}`, `${VAR:-default}` / `${VAR-default}`, `${VAR:?error}`
 * / `${VAR?error}`, `${VAR:+alt}` / `${VAR+alt}`, and `$$` for a literal
 * `$`; defaults may themselves hold variables. Applied to every string of
 * a parsed file (mapping keys stay as written), and a `.env` file's text.
 *
 * @module
 */

import { InvalidArgument } from "../host/errors.ts";

/** Looks a variable up; undefined when it is not set. */
export type Lookup = (name: string) => string | undefined;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/**
 * Interpolates `text`; `where` (a key path) names the value in errors
 * (`${VAR:?msg}` unset, or a malformed `${`).
 */
export function interpolate(text: string, env: Lookup, where: string): string {
  if (!text.includes("$")) return text;
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c !== "$") {
      out += c;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === "$") {
      out += "$";
      i += 2;
      continue;
    }
    if (next === "{") {
      const end = closingBrace(text, i + 2);
      if (end < 0) throw new InvalidArgument(`${where}: unclosed "\${" in "${text}"`);
      out += expand(text.slice(i + 2, end), env, where);
      i = end + 1;
      continue;
    }
    const m = NAME.exec(text.slice(i + 1));
    if (m === null) {
      out += "$"; // a lone `$` stays
      i++;
      continue;
    }
    out += env(m[0]) ?? "";
    i += 1 + m[0].length;
  }
  return out;
}

/** The index of the `}` closing a `${` whose body starts at `from` (nesting counted). */
function closingBrace(text: string, from: number): number {
  let depth = 1;
  for (let i = from; i < text.length; i++) {
    if (text[i] === "$" && text[i + 1] === "$") {
      i++;
      continue;
    }
    if (text[i] === "$" && text[i + 1] === "{") {
      depth++;
      i++;
    } else if (text[i] === "}" && --depth === 0) return i;
  }
  return -1;
}

/** One `${...}` body. */
function expand(body: string, env: Lookup, where: string): string {
  const m = NAME.exec(body);
  if (m === null) throw new InvalidArgument(`${where}: invalid variable "\${${body}}"`);
  const name = m[0];
  const rest = body.slice(name.length);
  const value = env(name);
  if (rest === "") return value ?? "";
  const op = /^(:?[-?+])/.exec(rest);
  if (op === null) throw new InvalidArgument(`${where}: invalid variable "\${${body}}"`);
  const arg = () => interpolate(rest.slice(op[1]!.length), env, where);
  const colon = op[1]!.startsWith(":");
  const unset = colon ? value === undefined || value === "" : value === undefined;
  switch (op[1]!.at(-1)) {
    case "-":
      return unset ? arg() : value!;
    case "+":
      return unset ? "" : arg();
    default: {
      if (!unset) return value!;
      const msg = arg();
      throw new InvalidArgument(
        `${where}: required variable ${name} is ${value === undefined ? "unset" : "empty"}` +
          (msg === "" ? "" : `: ${msg}`),
      );
    }
  }
}

/**
 * Interpolates every string value of a parsed YAML tree (a fresh copy);
 * mapping keys are kept. `path` is the key path of `node`.
 */
export function interpolateTree(node: unknown, env: Lookup, path: string): unknown {
  if (typeof node === "string") return interpolate(node, env, path);
  if (Array.isArray(node)) {
    return node.map((v, i) => interpolateTree(v, env, `${path}[${i}]`));
  }
  if (node !== null && typeof node === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) {
      out[k] = interpolateTree(v, env, path === "" ? k : `${path}.${k}`);
    }
    return out;
  }
  return node;
}

/**
 * Parses a `.env` file: `KEY=VALUE` lines (an `export ` prefix allowed),
 * `#` comments, values in single quotes (literal), double quotes (escapes
 * `\n`, `\t`, `\"`, `\\`; variables expanded) or bare (variables expanded,
 * a ` #` comment cut). Earlier keys are visible to later ones.
 */
export function parseDotEnv(text: string, where: string, env: Lookup): Record<string, string> {
  const out: Record<string, string> = {};
  const look: Lookup = (k) => Object.hasOwn(out, k) ? out[k] : env(k);
  text.split("\n").forEach((raw, i) => {
    let line = raw.replace(/\r$/, "").trim();
    if (line === "" || line.startsWith("#")) return;
    if (line.startsWith("export ")) line = line.slice(7).trimStart();
    const eq = line.indexOf("=");
    const key = eq < 0 ? line : line.slice(0, eq).trim();
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key)) {
      throw new InvalidArgument(`${where}:${i + 1}: "${raw.trim()}" is not KEY=VALUE`);
    }
    if (eq < 0) return; // a bare name sets nothing
    let value = line.slice(eq + 1).trim();
    const at = `${where}:${i + 1}`;
    if (value.startsWith("'")) {
      const end = value.indexOf("'", 1);
      if (end < 0) throw new InvalidArgument(`${at}: unclosed ' quote`);
      value = value.slice(1, end);
    } else if (value.startsWith('"')) {
      const m = /^"((?:[^"\\]|\\.)*)"/.exec(value);
      if (m === null) throw new InvalidArgument(`${at}: unclosed " quote`);
      const unescaped = m[1]!.replace(
        /\\(.)/g,
        (_, ch: string) => ch === "n" ? "\n" : ch === "t" ? "\t" : ch === "r" ? "\r" : ch,
      );
      value = interpolate(unescaped, look, at);
    } else {
      value = interpolate(value.replace(/\s+#.*$/, ""), look, at);
    }
    out[key] = value;
  });
  return out;
}
