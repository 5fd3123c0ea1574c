/**
 * `.containerignore` / `.dockerignore`: which context paths a build leaves
 * out, with Docker's rules. One pattern a line (`#` comments and blank
 * lines skipped), paths relative to the context (a leading `/` and `./`
 * dropped, cleaned), `*` and `?` within one path element, `[…]` classes,
 * `**` any number of elements; a pattern that matches a directory leaves
 * out all below it; `!pattern` takes a path back in; the last matching
 * pattern decides.
 *
 * @module
 */

import { InvalidArgument } from "../host/errors.ts";

interface Rule {
  re: RegExp;
  negate: boolean;
}

/** Cleans `p` as Go's filepath.Clean would, relative (no leading `/`). */
export function cleanRel(p: string): string {
  const out: string[] = [];
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else out.push("..");
    } else out.push(part);
  }
  return out.join("/");
}

/** The regular expression of one pattern (already cleaned). */
function patternRe(pattern: string, file: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") {
      if (pattern[i + 1] === "*") {
        i++;
        if (pattern[i + 1] === "/") {
          i++;
          re += "(?:.*/)?";
        } else re += ".*";
      } else re += "[^/]*";
    } else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 1);
      if (end < 0) throw new InvalidArgument(`${file}: bad pattern "${pattern}"`);
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith("^") || cls.startsWith("!")) cls = "^" + cls.slice(1);
      re += `[${cls.replace(/\\/g, "\\\\")}]`;
      i = end;
    } else if (c === "\\" && i + 1 < pattern.length) {
      re += pattern[++i]!.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** Matches context paths against an ignore file's patterns. */
export class IgnoreMatcher {
  readonly #rules: Rule[];

  /** @param text the ignore file's contents; `file` names it in errors */
  constructor(text: string, file = ".containerignore") {
    this.#rules = [];
    for (const raw of text.split("\n")) {
      let line = raw.trim();
      if (line === "" || line.startsWith("#")) continue;
      const negate = line.startsWith("!");
      if (negate) line = line.slice(1).trim();
      const cleaned = cleanRel(line);
      if (cleaned === "") continue;
      this.#rules.push({ re: patternRe(cleaned, file), negate });
    }
  }

  /** True when there are no patterns. */
  get empty(): boolean {
    return this.#rules.length === 0;
  }

  /**
   * True when `rel` (relative to the context, cleaned) is left out: the
   * last pattern matching it or one of its parent directories decides.
   */
  ignores(rel: string): boolean {
    if (rel === "" || this.#rules.length === 0) return false;
    const parts = rel.split("/");
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
    let out = false;
    for (const r of this.#rules) {
      if (prefixes.some((p) => r.re.test(p))) out = !r.negate;
    }
    return out;
  }
}
