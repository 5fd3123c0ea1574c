/**
 * A subset of Go's text/template, as podman's and docker's `--format`
 * take it: `{{.Field.Sub}}` (object keys), `{{.}}`, `{{$}}`, pipelines
 * (`{{.X | json}}`), the functions `json`, `index`, `join`, `lower`,
 * `upper` and `len`, `{{if}}`/`{{else if}}`/`{{else}}`, `{{with}}`,
 * `{{range}}` (with `{{else}}` and `$k, $v :=`), `{{end}}`, string,
 * number, `true`/`false`/`nil` literals, and the `{{-`/`-}}` trim markers.
 * `\t` and `\n` in the text between actions are a tab and a newline, as
 * podman reads them.
 *
 * Values print as Go prints them: strings as they are, a missing key as
 * `<no value>`, null as `<nil>`, arrays as `[a b]`, objects as
 * `map[k:v]` (keys sorted). Truth is Go's: false, 0, "", null, a missing
 * key and an empty array or object are false.
 *
 * Every error is a {@linkcode TemplateError} (exit 2) naming the column
 * (1-based character position in the format string as given) where the
 * template went wrong. Parsing finds all syntax errors; a field taken of
 * a string, number or array is found while executing, so callers render
 * every row before they print any.
 *
 * @module
 */

import { InvalidArgument } from "../host/errors.ts";
import { printable } from "../host/printable.ts";

/** A template that cannot be parsed or executed (exit 2). */
export class TemplateError extends InvalidArgument {
  /** The 1-based column in the format string. */
  readonly column: number;
  constructor(column: number, message: string) {
    super(`template: column ${column}: ${message}`);
    this.column = column;
  }
}

type Arg =
  | { kind: "field"; base: "dot" | "var"; name: string; path: string[]; pos: number }
  | { kind: "func"; name: string; pos: number }
  | { kind: "lit"; value: unknown; pos: number }
  | { kind: "pipe"; pipe: Pipe; path: string[]; pos: number };

interface Cmd {
  args: Arg[];
  pos: number;
}

interface Pipe {
  /** `$k, $v :=` (range) or `$x :=`. */
  decl: string[];
  cmds: Cmd[];
  pos: number;
}

type Node =
  | { kind: "text"; text: string }
  | { kind: "action"; pipe: Pipe; pos: number }
  | {
    kind: "if" | "with" | "range";
    pipe: Pipe;
    body: Node[];
    alt: Node[] | null;
    pos: number;
  };

/** The functions and how many arguments each takes: [min, max]. */
const FUNCS: Record<string, [number, number]> = {
  json: [1, 1],
  index: [1, Infinity],
  join: [2, 2],
  lower: [1, 1],
  upper: [1, 1],
  len: [1, 1],
};

type Tok =
  | { t: "field"; base: "dot" | "var"; name: string; path: string[]; pos: number }
  | { t: "ident"; v: string; pos: number }
  | { t: "str"; v: string; pos: number }
  | { t: "num"; v: number; pos: number }
  | { t: "|" | "(" | ")" | "," | ":="; pos: number };

const IDENT = /[A-Za-z_][A-Za-z0-9_]*/y;
const FIELD = /(?:\.[A-Za-z_][A-Za-z0-9_]*)+/y;
const NUMBER = /-?(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)/y;

/** Reads the tokens of the action starting at `from` (after `{{`); returns them and the end. */
function lexAction(
  src: string,
  open: number,
  from: number,
): { toks: Tok[]; end: number; trimRight: boolean } {
  const toks: Tok[] = [];
  let i = from;
  const col = (k: number) => k + 1;
  for (;;) {
    while (i < src.length && " \t\r\n".includes(src[i]!)) i++;
    if (i >= src.length) throw new TemplateError(col(open), "unclosed action");
    if (src.startsWith("-}}", i) && /\s/.test(src[i - 1] ?? "")) {
      return { toks, end: i + 3, trimRight: true };
    }
    if (src.startsWith("}}", i)) return { toks, end: i + 2, trimRight: false };
    const c = src[i]!;
    const start = i;
    if (c === '"' || c === "`") {
      let j = i + 1;
      let v = "";
      for (;;) {
        if (j >= src.length || (c === '"' && src[j] === "\n")) {
          throw new TemplateError(col(start), "unterminated quoted string");
        }
        const d = src[j]!;
        if (d === c) break;
        if (c === '"' && d === "\\") {
          const e = src[j + 1];
          const map: Record<string, string> = { n: "\n", t: "\t", r: "\r", '"': '"', "\\": "\\" };
          if (e === undefined || map[e] === undefined) {
            throw new TemplateError(col(j), `unknown escape sequence "\\${e ?? ""}"`);
          }
          v += map[e];
          j += 2;
          continue;
        }
        v += d;
        j++;
      }
      toks.push({ t: "str", v, pos: start });
      i = j + 1;
      continue;
    }
    if (c === "|" || c === "(" || c === ")" || c === ",") {
      toks.push({ t: c, pos: start });
      i++;
      continue;
    }
    if (src.startsWith(":=", i)) {
      toks.push({ t: ":=", pos: start });
      i += 2;
      continue;
    }
    if (c === "$") {
      IDENT.lastIndex = i + 1;
      const m = IDENT.exec(src);
      const name = m === null ? "$" : "$" + m[0];
      i += name.length;
      FIELD.lastIndex = i;
      const f = FIELD.exec(src);
      const path = f === null ? [] : f[0].slice(1).split(".");
      if (f !== null) i += f[0].length;
      toks.push({ t: "field", base: "var", name, path, pos: start });
      continue;
    }
    if (c === "." && toks.length > 0 && toks[toks.length - 1]!.pos < i && afterTerm(src, i)) {
      throw new TemplateError(col(start), `unexpected "." after term`);
    }
    if (c === ".") {
      FIELD.lastIndex = i;
      const f = FIELD.exec(src);
      if (f !== null) {
        toks.push({
          t: "field",
          base: "dot",
          name: ".",
          path: f[0].slice(1).split("."),
          pos: start,
        });
        i += f[0].length;
        continue;
      }
      NUMBER.lastIndex = i;
      if (NUMBER.exec(src) === null) {
        const next = src[i + 1] ?? "";
        if (next !== "" && !" \t\r\n})|".includes(next) && !src.startsWith("-}}", i + 1)) {
          throw new TemplateError(col(start), `bad character after "."`);
        }
        toks.push({ t: "field", base: "dot", name: ".", path: [], pos: start });
        i++;
        continue;
      }
    }
    NUMBER.lastIndex = i;
    const n = NUMBER.exec(src);
    if (n !== null && (c === "-" || c === "." || /\d/.test(c))) {
      toks.push({ t: "num", v: Number(n[0]), pos: start });
      i += n[0].length;
      continue;
    }
    IDENT.lastIndex = i;
    const id = IDENT.exec(src);
    if (id !== null) {
      toks.push({ t: "ident", v: id[0], pos: start });
      i += id[0].length;
      continue;
    }
    throw new TemplateError(col(start), `unexpected "${c}" in action`);
  }
}

/** A `.` right after a field, a variable or `)`, with no space between. */
function afterTerm(src: string, i: number): boolean {
  const prev = src[i - 1] ?? "";
  FIELD.lastIndex = i;
  if (prev === ")" && FIELD.exec(src) !== null) return false; // (pipeline).Field
  return /[A-Za-z0-9_)$]/.test(prev) || (prev === "." && src[i - 2] !== "{");
}

/** Parses the tokens of one action's pipeline. */
class PipeParser {
  #i = 0;
  constructor(readonly toks: Tok[], readonly endPos: number) {}

  get done(): boolean {
    return this.#i >= this.toks.length;
  }

  peek(): Tok | undefined {
    return this.toks[this.#i];
  }

  next(): Tok | undefined {
    return this.toks[this.#i++];
  }

  pipe(closing: ")" | null): Pipe {
    const first = this.peek();
    const pos = first?.pos ?? this.endPos;
    const decl: string[] = [];
    // `$x :=` or `$k, $v :=`
    const save = this.#i;
    const vars: string[] = [];
    for (;;) {
      const t = this.peek();
      if (t?.t !== "field" || t.base !== "var" || t.path.length > 0 || t.name === "$") break;
      this.next();
      vars.push(t.name);
      const sep = this.peek();
      if (sep?.t === ",") {
        this.next();
        continue;
      }
      if (sep?.t === ":=") {
        this.next();
        decl.push(...vars);
      }
      break;
    }
    if (decl.length === 0) this.#i = save;
    const cmds: Cmd[] = [];
    for (;;) {
      cmds.push(this.cmd(cmds.length > 0, closing));
      const t = this.peek();
      if (t === undefined || (closing !== null && t.t === closing)) break;
      if (t.t === "|") {
        this.next();
        continue;
      }
      throw new TemplateError(t.pos + 1, `unexpected ${describe(t)} in pipeline`);
    }
    return { decl, cmds, pos };
  }

  cmd(piped: boolean, closing: ")" | null): Cmd {
    const args: Arg[] = [];
    const start = this.peek();
    for (;;) {
      const t = this.peek();
      if (t === undefined || t.t === "|" || (closing !== null && t.t === closing)) break;
      this.next();
      switch (t.t) {
        case "field":
          args.push({ kind: "field", base: t.base, name: t.name, path: t.path, pos: t.pos });
          break;
        case "str":
        case "num":
          args.push({ kind: "lit", value: t.v, pos: t.pos });
          break;
        case "ident":
          if (t.v === "true" || t.v === "false") {
            args.push({ kind: "lit", value: t.v === "true", pos: t.pos });
          } else if (t.v === "nil") args.push({ kind: "lit", value: null, pos: t.pos });
          else if (Object.hasOwn(FUNCS, t.v)) args.push({ kind: "func", name: t.v, pos: t.pos });
          else if (["if", "else", "end", "range", "with"].includes(t.v)) {
            throw new TemplateError(t.pos + 1, `unexpected keyword "${t.v}" in command`);
          } else throw new TemplateError(t.pos + 1, `function "${t.v}" not defined`);
          break;
        case "(": {
          const inner = this.pipe(")");
          const close = this.next();
          if (close?.t !== ")") throw new TemplateError(t.pos + 1, "unclosed left paren");
          // `(pipeline).Field`
          const after = this.peek();
          let path: string[] = [];
          if (after?.t === "field" && after.base === "dot" && after.pos === close.pos + 1) {
            this.next();
            path = after.path;
          }
          args.push({ kind: "pipe", pipe: inner, path, pos: t.pos });
          break;
        }
        default:
          throw new TemplateError(t.pos + 1, `unexpected ${describe(t)} in command`);
      }
    }
    const pos = start?.pos ?? this.endPos;
    if (args.length === 0) {
      throw new TemplateError(
        pos + 1,
        piped ? "missing command after |" : "missing value for command",
      );
    }
    const head = args[0]!;
    if (head.kind === "func") {
      const [min, max] = FUNCS[head.name]!;
      const got = args.length - 1 + (piped ? 1 : 0);
      if (got < min || got > max) {
        throw new TemplateError(
          head.pos + 1,
          `wrong number of args for ${head.name}: want ${
            min === max ? min : `at least ${min}`
          } got ${got}`,
        );
      }
    } else if (args.length > 1 || piped) {
      throw new TemplateError(
        (args.length > 1 ? args[1]! : head).pos + 1,
        `can't give argument to non-function ${source(head)}`,
      );
    }
    for (const a of args.slice(1)) {
      if (a.kind === "func") {
        // A function as an argument is called without arguments in Go: all of ours need one.
        throw new TemplateError(
          a.pos + 1,
          `wrong number of args for ${a.name}: want at least 1 got 0`,
        );
      }
    }
    return { args, pos };
  }
}

function describe(t: Tok): string {
  switch (t.t) {
    case "field":
      return `field "${
        (t.name === "." ? "" : t.name) + t.path.map((p) => "." + p).join("") || "."
      }"`;
    case "ident":
      return `"${t.v}"`;
    case "str":
      return "quoted string";
    case "num":
      return `number ${t.v}`;
    default:
      return `"${t.t}"`;
  }
}

function source(a: Arg): string {
  switch (a.kind) {
    case "field":
      return (a.base === "dot" && a.path.length > 0 ? "" : a.name) +
        a.path.map((p) => "." + p).join("");
    case "func":
      return a.name;
    case "lit":
      return JSON.stringify(a.value);
    case "pipe":
      return "(...)";
  }
}

/** One open block while parsing. */
interface Open {
  node: Extract<Node, { pipe: Pipe; body: Node[] }>;
  /** Where the nodes go now: its body, or its else branch. */
  into: Node[];
  /** Opened by `{{else if}}`: closed by the same `{{end}}` as its parent. */
  chained: boolean;
  /** `{{else}}` seen (a second one is an error). */
  sawElse: boolean;
}

/** Replaces `\t` and `\n` (backslash and letter) in template text. */
function unescapeText(s: string): string {
  return s.replace(/\\([tn])/g, (_, c: string) => (c === "t" ? "\t" : "\n"));
}

/** A parsed template. */
export class Template {
  /** The nodes of the template. */
  readonly #nodes: Node[];
  /** The text it was parsed from (after any `table ` prefix). */
  readonly source: string;

  private constructor(nodes: Node[], source: string) {
    this.#nodes = nodes;
    this.source = source;
  }

  /**
   * Parses `src`; `offset` is where it starts in the string the user gave
   * (for the columns of errors: after a `table ` prefix).
   */
  static parse(src: string, offset = 0): Template {
    const full = " ".repeat(offset) + src;
    const root: Node[] = [];
    const stack: Open[] = [];
    const target = () => (stack.length > 0 ? stack[stack.length - 1]!.into : root);
    let i = offset;
    let trimNext = false;
    while (i < full.length) {
      const open = full.indexOf("{{", i);
      let text = full.slice(i, open < 0 ? full.length : open);
      let actionStart = open + 2;
      if (open >= 0 && full[open + 2] === "-" && /\s/.test(full[open + 3] ?? "")) {
        text = text.trimEnd();
        actionStart = open + 3;
      }
      if (trimNext) text = text.trimStart();
      if (text !== "") target().push({ kind: "text", text: unescapeText(text) });
      if (open < 0) break;
      const { toks, end, trimRight } = lexAction(full, open, actionStart);
      trimNext = trimRight;
      i = end;
      const endPos = end - (trimRight ? 3 : 2);
      const first = toks[0];
      if (first === undefined) throw new TemplateError(open + 1, "missing value for command");
      const kw = first.t === "ident" ? first.v : null;
      const rest = () => new PipeParser(toks.slice(1), endPos);
      const needPipe = (what: string) => {
        if (toks.length === 1) throw new TemplateError(first.pos + 1, `missing value for ${what}`);
        const p = rest();
        const pipe = p.pipe(null);
        if (what !== "range" && pipe.decl.length > 1) {
          throw new TemplateError(first.pos + 1, `too many declarations in ${what}`);
        }
        return pipe;
      };
      if (kw === "if" || kw === "with" || kw === "range") {
        const node = {
          kind: kw,
          pipe: needPipe(kw),
          body: [],
          alt: null,
          pos: first.pos,
        } as Open["node"];
        target().push(node);
        stack.push({ node, into: node.body, chained: false, sawElse: false });
      } else if (kw === "else") {
        const top = stack[stack.length - 1];
        if (top === undefined) throw new TemplateError(first.pos + 1, "unexpected {{else}}");
        if (top.sawElse) throw new TemplateError(first.pos + 1, "expected end; found {{else}}");
        top.sawElse = true;
        top.node.alt = [];
        top.into = top.node.alt;
        const second = toks[1];
        if (second !== undefined) {
          if (
            second.t !== "ident" || (second.v !== "if" && second.v !== "with") ||
            top.node.kind === "range"
          ) {
            throw new TemplateError(second.pos + 1, `unexpected ${describe(second)} in else`);
          }
          const sub = toks.slice(1);
          if (sub.length === 1) {
            throw new TemplateError(second.pos + 1, `missing value for ${second.v}`);
          }
          const pipe = new PipeParser(sub.slice(1), endPos).pipe(null);
          const node = {
            kind: second.v,
            pipe,
            body: [],
            alt: null,
            pos: second.pos,
          } as Open["node"];
          top.node.alt.push(node);
          stack.push({ node, into: node.body, chained: true, sawElse: false });
        }
      } else if (kw === "end") {
        if (toks.length > 1) {
          throw new TemplateError(toks[1]!.pos + 1, `unexpected ${describe(toks[1]!)} in end`);
        }
        if (stack.length === 0) throw new TemplateError(first.pos + 1, "unexpected {{end}}");
        while (stack.pop()!.chained) { /* an {{else if}} ends with its parent */ }
      } else {
        const p = new PipeParser(toks, endPos);
        target().push({ kind: "action", pipe: p.pipe(null), pos: first.pos });
      }
    }
    if (stack.length > 0) {
      let open = stack[stack.length - 1]!;
      for (let k = stack.length - 1; k > 0 && stack[k]!.chained; k--) open = stack[k - 1]!;
      throw new TemplateError(
        full.length + 1,
        `unexpected EOF (the {{${open.node.kind}}} at column ${open.node.pos + 1} has no {{end}})`,
      );
    }
    return new Template(root, src);
  }

  /** Runs the template on `data`. */
  execute(data: unknown): string {
    const out: string[] = [];
    const vars = new Map<string, unknown>([["$", data]]);
    runNodes(this.#nodes, data, vars, out);
    return out.join("");
  }

  /**
   * The header row of a `table` template: each action becomes the
   * upper-case, space-separated name of its field (`{{.Names}}` → NAMES,
   * `{{.CreatedAt}}` → CREATED AT, `{{.ID}}` → ID), or `overrides[name]`.
   */
  header(overrides: Record<string, string> = {}): string {
    const out: string[] = [];
    for (const n of this.#nodes) {
      if (n.kind === "text") out.push(n.text);
      else {
        const name = fieldName(n.pipe);
        if (name !== null) out.push(overrides[name] ?? headerWord(name));
      }
    }
    return out.join("");
  }
}

/** The last name of the first field a pipeline reads, or null. */
function fieldName(p: Pipe): string | null {
  for (const c of p.cmds) {
    for (const a of c.args) {
      if (a.kind === "field" && a.path.length > 0) return a.path[a.path.length - 1]!;
      if (a.kind === "pipe") {
        if (a.path.length > 0) return a.path[a.path.length - 1]!;
        const inner = fieldName(a.pipe);
        if (inner !== null) return inner;
      }
    }
  }
  return null;
}

/** `CreatedAt` → `CREATED AT`, `ID` → `ID`, `CPUPerc` → `CPU PERC`. */
export function headerWord(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, "$1 $2").replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .toUpperCase();
}

/** True for a pipe that is one literal (`{{"\t"}}`): the template's own text. */
function isLiteral(p: Pipe): boolean {
  return p.cmds.length === 1 && p.cmds[0]!.args.length === 1 && p.cmds[0]!.args[0]!.kind === "lit";
}

function runNodes(nodes: Node[], dot: unknown, vars: Map<string, unknown>, out: string[]): void {
  for (const n of nodes) {
    switch (n.kind) {
      case "text":
        out.push(n.text);
        break;
      case "action": {
        const v = evalPipe(n.pipe, dot, vars);
        // A value may carry text from outside (labels, image configs):
        // printed with its control characters as \xNN (row 7 of issue 20);
        // the template's own text and literals (\t, \n) as written.
        if (n.pipe.decl.length === 0) {
          out.push(isLiteral(n.pipe) ? goString(v) : printable(goString(v)));
        }
        break;
      }
      case "if":
      case "with": {
        const v = evalPipe(n.pipe, dot, vars);
        if (truth(v)) runNodes(n.body, n.kind === "with" ? v : dot, vars, out);
        else if (n.alt !== null) runNodes(n.alt, dot, vars, out);
        break;
      }
      case "range": {
        const v = evalPipe(n.pipe, dot, vars);
        let items: [unknown, unknown][];
        if (v === undefined || v === null) items = [];
        else if (Array.isArray(v)) items = v.map((x, k) => [k, x]);
        else if (isObject(v)) items = Object.keys(v).sort().map((k) => [k, v[k]]);
        else {
          // (Not over an integer, as Go before 1.22 and podman 4: no loop the data does not bound.)
          throw new TemplateError(n.pipe.pos + 1, `range can't iterate over ${goString(v)}`);
        }
        if (items.length === 0) {
          if (n.alt !== null) runNodes(n.alt, dot, vars, out);
          break;
        }
        const decl = n.pipe.decl;
        for (const [k, x] of items) {
          const inner = decl.length > 0 ? new Map(vars) : vars;
          if (decl.length === 1) inner.set(decl[0]!, x);
          if (decl.length === 2) {
            inner.set(decl[0]!, k);
            inner.set(decl[1]!, x);
          }
          runNodes(n.body, x, inner, out);
        }
        break;
      }
    }
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function typeName(v: unknown): string {
  if (Array.isArray(v)) return "[]interface {}";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float64";
  if (typeof v === "boolean") return "bool";
  return typeof v;
}

function walk(v: unknown, path: string[], pos: number): unknown {
  for (const key of path) {
    if (v === undefined || v === null) return undefined;
    if (!isObject(v)) {
      throw new TemplateError(pos + 1, `can't evaluate field ${key} in type ${typeName(v)}`);
    }
    v = Object.hasOwn(v, key) ? v[key] : undefined;
  }
  return v;
}

function evalArg(a: Arg, dot: unknown, vars: Map<string, unknown>): unknown {
  switch (a.kind) {
    case "lit":
      return a.value;
    case "field": {
      if (a.base === "dot") return walk(dot, a.path, a.pos);
      if (!vars.has(a.name)) throw new TemplateError(a.pos + 1, `undefined variable "${a.name}"`);
      return walk(vars.get(a.name), a.path, a.pos);
    }
    case "pipe":
      return walk(evalPipe(a.pipe, dot, vars), a.path, a.pos);
    case "func":
      throw new TemplateError(a.pos + 1, `${a.name} needs arguments`);
  }
}

function evalPipe(p: Pipe, dot: unknown, vars: Map<string, unknown>): unknown {
  let v: unknown = undefined;
  p.cmds.forEach((c, k) => {
    const head = c.args[0]!;
    if (head.kind !== "func") {
      v = evalArg(head, dot, vars);
      return;
    }
    const args = c.args.slice(1).map((a) => evalArg(a, dot, vars));
    if (k > 0) args.push(v);
    v = call(head.name, args, head.pos);
  });
  if (p.decl.length === 1) vars.set(p.decl[0]!, v);
  return v;
}

function call(name: string, args: unknown[], pos: number): unknown {
  const fail = (msg: string) => new TemplateError(pos + 1, `error calling ${name}: ${msg}`);
  switch (name) {
    case "json":
      return JSON.stringify(args[0] ?? null);
    case "lower":
      return goString(args[0]).toLowerCase();
    case "upper":
      return goString(args[0]).toUpperCase();
    case "len": {
      const v = args[0];
      if (typeof v === "string" || Array.isArray(v)) return v.length;
      if (isObject(v)) return Object.keys(v).length;
      throw fail(`len of type ${v === undefined || v === null ? "nil" : typeName(v)}`);
    }
    case "join": {
      const [list, sep] = args;
      if (!Array.isArray(list)) {
        throw fail(
          `wrong type for value; expected []string; got ${list == null ? "nil" : typeName(list)}`,
        );
      }
      return list.map(goString).join(goString(sep));
    }
    case "index": {
      let v = args[0];
      for (const k of args.slice(1)) {
        if (v === undefined || v === null) throw fail("index of untyped nil");
        if (Array.isArray(v)) {
          if (typeof k !== "number" || !Number.isInteger(k)) {
            throw fail(`cannot index slice/array with ${goString(k)}`);
          }
          if (k < 0 || k >= v.length) throw fail(`index out of range: ${k}`);
          v = v[k];
        } else if (isObject(v)) {
          const key = goString(k);
          v = Object.hasOwn(v, key) ? v[key] : undefined;
        } else throw fail(`can't index item of type ${typeName(v)}`);
      }
      return v;
    }
  }
  throw fail("not defined");
}

/** Go's truth: false, 0, "", nil, a missing key, and empty arrays and objects are false. */
export function truth(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isObject(v)) return Object.keys(v).length > 0;
  return Boolean(v);
}

/** How Go's text/template prints a value (`fmt.Print` of the JSON-decoded value). */
export function goString(v: unknown): string {
  if (v === undefined) return "<no value>";
  return inner(v);
}

function inner(v: unknown): string {
  if (v === undefined || v === null) return "<nil>";
  if (typeof v === "string") return v;
  if (typeof v === "number") return goNumber(v);
  if (Array.isArray(v)) return `[${v.map(inner).join(" ")}]`;
  if (isObject(v)) {
    return `map[${Object.keys(v).sort().map((k) => `${k}:${inner(v[k])}`).join(" ")}]`;
  }
  return String(v);
}

/** A number as Go's `%v` prints a float64: `1e+06`, `1.5`, `12`. */
function goNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  const s = String(n);
  return s.replace(/e([+-])(\d)$/, "e$10$2");
}

/**
 * `--format` with a leading `table`: the template after it, or null when
 * `format` has none. `table` alone is the command's default table.
 */
export function tablePrefix(format: string): { rest: string; offset: number } | null {
  const m = /^table(\s+|$)/.exec(format);
  return m === null ? null : { rest: format.slice(m[0].length), offset: m[0].length };
}

/**
 * Aligns tab-separated cells as podman's tabwriter does (minimum width 12,
 * padding 2, spaces): every cell but a line's last is padded to its
 * column's width.
 */
export function alignTabs(text: string): string {
  const lines = text.split("\n").map((l) => l.split("\t"));
  const widths: number[] = [];
  for (const cells of lines) {
    cells.slice(0, -1).forEach((c, k) => {
      widths[k] = Math.max(widths[k] ?? 0, Math.max([...c].length + 2, 12));
    });
  }
  return lines.map((cells) =>
    cells.map((c, k) => (k === cells.length - 1 ? c : c + " ".repeat(widths[k]! - [...c].length)))
      .join("")
  ).join("\n");
}
