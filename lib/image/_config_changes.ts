/**
 * `commit -c INSTRUCTION`: Dockerfile-like changes to an image config's
 * `config` section. CMD, ENTRYPOINT, ENV, LABEL, EXPOSE, USER, WORKDIR,
 * STOPSIGNAL and VOLUME, with Dockerfile's forms: CMD and ENTRYPOINT in
 * JSON (exec) form or shell form (`/bin/sh -c TEXT`), ENV and LABEL as
 * `K=V...` (quotes allowed) or `K V`, EXPOSE and VOLUME as words or (VOLUME)
 * a JSON array.
 *
 * @module
 */

import { InvalidArgument } from "../host/errors.ts";

/** The config section the changes edit (docker's names; more than `ImageConfig` reads). */
export interface ContainerConfigSection {
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Env?: string[] | null;
  WorkingDir?: string;
  User?: string;
  StopSignal?: string;
  Labels?: Record<string, string> | null;
  ExposedPorts?: Record<string, Record<string, never>> | null;
  Volumes?: Record<string, Record<string, never>> | null;
  [k: string]: unknown;
}

/** The instructions `-c` accepts. */
export const CHANGE_INSTRUCTIONS = [
  "CMD",
  "ENTRYPOINT",
  "ENV",
  "LABEL",
  "EXPOSE",
  "USER",
  "WORKDIR",
  "STOPSIGNAL",
  "VOLUME",
] as const;

function bad(change: string, why: string): InvalidArgument {
  return new InvalidArgument(`commit: -c "${change}": ${why}`);
}

/** A JSON array of strings, or null when `text` is not JSON form. */
function jsonForm(text: string, change: string): string[] | null {
  if (!text.startsWith("[")) return null;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null; // Dockerfile: not valid JSON is shell form
  }
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
    throw bad(change, "a JSON form must be an array of strings");
  }
  return v as string[];
}

/**
 * Splits `K=V K2="a b"` (or the old `K V` form: the rest of the line is
 * the value) into pairs, quotes (double or single) and backslash escapes
 * removed, as ENV and LABEL take them, in a Containerfile and in `commit
 * -c`; `fail` makes the error for a malformed one.
 */
export function keyValuePairs(text: string, fail: (why: string) => Error): [string, string][] {
  const words: string[] = [];
  let cur = "";
  let quote: string | null = null;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote !== null) {
      if (c === quote) quote = null;
      else if (c === "\\" && quote === '"' && i + 1 < text.length) cur += text[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
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
  if (quote !== null) throw fail("an unterminated quote");
  if (inWord) words.push(cur);
  if (words.length > 0 && !words[0]!.includes("=")) {
    // The old `K V` form: the rest of the line is the value.
    const m = /^\s*\S+\s+(.*)$/s.exec(text);
    if (m === null) throw fail(`"${words[0]}" needs a value`);
    return [[words[0]!, m[1]!.trim()]];
  }
  return words.map((w) => {
    const eq = w.indexOf("=");
    if (eq <= 0) throw fail(`"${w}" is not KEY=VALUE`);
    return [w.slice(0, eq), w.slice(eq + 1)];
  });
}

/** Applies one `-c` change to `c` (in place). InvalidArgument (exit 2) when it cannot be read. */
export function applyChange(c: ContainerConfigSection, change: string): void {
  const m = /^\s*([A-Za-z]+)(?:\s+(.*))?$/s.exec(change);
  if (m === null) throw bad(change, "not an instruction");
  const inst = m[1]!.toUpperCase();
  const arg = (m[2] ?? "").trim();
  if (!(CHANGE_INSTRUCTIONS as readonly string[]).includes(inst)) {
    throw bad(change, `${inst} is not one of ${CHANGE_INSTRUCTIONS.join(", ")}`);
  }
  if (arg === "" && inst !== "CMD" && inst !== "ENTRYPOINT") throw bad(change, "needs a value");
  switch (inst) {
    case "CMD":
    case "ENTRYPOINT": {
      const v = arg === "" ? [] : jsonForm(arg, change) ?? ["/bin/sh", "-c", arg];
      if (inst === "CMD") c.Cmd = v;
      else {
        c.Entrypoint = v;
        c.Cmd = null; // Dockerfile: ENTRYPOINT resets an inherited CMD
      }
      return;
    }
    case "ENV": {
      const env = [...(c.Env ?? [])];
      for (const [k, v] of keyValuePairs(arg, (why) => bad(change, why))) {
        const i = env.findIndex((e) => e.split("=")[0] === k);
        if (i >= 0) env[i] = `${k}=${v}`;
        else env.push(`${k}=${v}`);
      }
      c.Env = env;
      return;
    }
    case "LABEL":
      c.Labels = {
        ...(c.Labels ?? {}),
        ...Object.fromEntries(keyValuePairs(arg, (why) => bad(change, why))),
      };
      return;
    case "EXPOSE": {
      const ports = { ...(c.ExposedPorts ?? {}) };
      for (const p of arg.split(/\s+/)) {
        const pm = /^(\d{1,5})(?:\/(tcp|udp|sctp))?$/i.exec(p);
        if (pm === null || Number(pm[1]) < 1 || Number(pm[1]) > 65535) {
          throw bad(change, `"${p}" is not PORT[/PROTOCOL]`);
        }
        ports[`${Number(pm[1])}/${(pm[2] ?? "tcp").toLowerCase()}`] = {};
      }
      c.ExposedPorts = ports;
      return;
    }
    case "VOLUME": {
      const vols = { ...(c.Volumes ?? {}) };
      for (const v of jsonForm(arg, change) ?? arg.split(/\s+/)) {
        if (!v.startsWith("/")) throw bad(change, `"${v}" is not an absolute path`);
        vols[v] = {};
      }
      c.Volumes = vols;
      return;
    }
    case "USER":
      c.User = arg;
      return;
    case "WORKDIR":
      c.WorkingDir = arg.startsWith("/")
        ? arg
        : `${c.WorkingDir ?? "/"}/${arg}`.replace(/\/+/g, "/");
      return;
    case "STOPSIGNAL":
      if (!/^(SIG)?[A-Z0-9+-]+$/i.test(arg)) throw bad(change, `"${arg}" is not a signal`);
      c.StopSignal = arg;
      return;
  }
}
