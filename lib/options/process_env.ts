/**
 * The process environment of `create`/`run`: `--env-file FILE` (`K=V`
 * lines, `#` comments, blank lines; a bare `NAME` line takes NAME from
 * berth's environment, as `-e NAME` does) and `-e K=V` / `-e NAME`.
 * Files come first, `-e` after (a later entry wins). The result is plain
 * `K=V` entries, which is what the state records.
 *
 * @module
 */

import { InvalidArgument } from "../host/errors.ts";

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/**
 * One entry (`K=V`, or a bare `NAME`): the `K=V` it stands for, or null
 * when NAME is not set in `env` (it is then left out, as podman does).
 */
function entry(
  item: string,
  env: (key: string) => string | undefined,
  what: string,
): string | null {
  const eq = item.indexOf("=");
  if (eq === 0) throw new InvalidArgument(`${what} "${item}" must look like KEY=VALUE or NAME`);
  if (eq > 0) {
    if (/[\0]/.test(item)) throw new InvalidArgument(`${what} "${item}" contains a NUL byte`);
    return item;
  }
  if (!NAME.test(item)) {
    throw new InvalidArgument(`${what} "${item}" must look like KEY=VALUE or NAME`);
  }
  const value = env(item);
  return value === undefined ? null : `${item}=${value}`;
}

/** Parses the text of an env file; `where` names it in errors. */
export function parseEnvFile(
  text: string,
  where: string,
  env: (key: string) => string | undefined,
): string[] {
  const out: string[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/\r$/, "");
    if (line.trim() === "" || line.trimStart().startsWith("#")) return;
    const e = entry(line.trimStart(), env, `--env-file ${where}:${i + 1}:`);
    if (e !== null) out.push(e);
  });
  return out;
}

/** Reads an env file: InvalidArgument (exit 2) when it cannot be read. */
export function readEnvFile(path: string, env: (key: string) => string | undefined): string[] {
  let text: string;
  try {
    if (!Deno.statSync(path).isFile) throw new Error("not a regular file");
    text = Deno.readTextFileSync(path);
  } catch (err) {
    throw new InvalidArgument(`cannot read --env-file ${path}: ${(err as Error).message}`);
  }
  return parseEnvFile(text, path, env);
}

/** The `K=V` entries of the env files, then of the `-e` values. */
export function resolveEnv(
  files: readonly string[],
  values: readonly string[],
  env: (key: string) => string | undefined,
): string[] {
  const out = files.flatMap((f) => readEnvFile(f, env));
  for (const v of values) {
    const e = entry(v, env, "--env");
    if (e !== null) out.push(e);
  }
  return out;
}

/** Checks the syntax of `-e` values (parse time: no file, no environment read). */
export function checkEnvValues(values: readonly string[]): void {
  for (const v of values) entry(v, () => undefined, "--env");
}
