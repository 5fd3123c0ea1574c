/**
 * Registry credentials: berth's own `auth.json` (the format podman and
 * docker use, file mode 0600, written by `login`), and read-only the
 * user's `~/.docker/config.json`.
 *
 * @module
 */

import { dirname, join } from "../_std/path.ts";
import { writeFileAtomic } from "../host/atomic_file.ts";
import { isNotFound, RuntimeError } from "../host/errors.ts";

/** A user name and password for one registry. */
export interface Credentials {
  username: string;
  password: string;
}

interface AuthFile {
  auths?: Record<string, { auth?: string }>;
  [k: string]: unknown;
}

/** Where `login` keeps credentials: `DATA/auth.json`, or `$REGISTRY_AUTH_FILE`. */
export function authFilePath(dataRoot: string, env: (k: string) => string | undefined): string {
  return env("REGISTRY_AUTH_FILE") ?? join(dataRoot, "auth.json");
}

function readAuthFile(path: string): AuthFile {
  try {
    const v = JSON.parse(Deno.readTextFileSync(path));
    return typeof v === "object" && v !== null ? v as AuthFile : {};
  } catch (err) {
    if (isNotFound(err)) return {};
    throw new RuntimeError(`cannot read ${path}: ${(err as Error).message}`);
  }
}

function keysFor(registry: string): string[] {
  return registry === "docker.io"
    ? ["docker.io", "https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io"]
    : [registry, `https://${registry}`, `http://${registry}`];
}

function decode(entry: { auth?: string } | undefined): Credentials | null {
  if (typeof entry?.auth !== "string") return null;
  try {
    const text = atob(entry.auth);
    const colon = text.indexOf(":");
    if (colon < 0) return null;
    return { username: text.slice(0, colon), password: text.slice(colon + 1) };
  } catch {
    return null;
  }
}

/** Credentials for `registry`: berth's auth file first, then ~/.docker/config.json. */
export function lookupCredentials(
  registry: string,
  authFile: string,
  env: (k: string) => string | undefined,
): Credentials | null {
  const home = env("HOME");
  const files = [authFile];
  if (home !== undefined) files.push(join(home, ".docker", "config.json"));
  for (const f of files) {
    const auths = readAuthFile(f).auths ?? {};
    for (const k of keysFor(registry)) {
      const c = decode(auths[k]);
      if (c !== null) return c;
    }
  }
  return null;
}

/** Stores (or with `creds` null, removes) `registry`'s entry; returns false if there was none to remove. */
export async function storeCredentials(
  authFile: string,
  registry: string,
  creds: Credentials | null,
): Promise<boolean> {
  const file = readAuthFile(authFile);
  const auths = (file.auths ??= {});
  const had = registry in auths;
  if (creds === null) delete auths[registry];
  else auths[registry] = { auth: btoa(`${creds.username}:${creds.password}`) };
  Deno.mkdirSync(dirname(authFile), { recursive: true, mode: 0o700 });
  await writeFileAtomic(authFile, JSON.stringify(file, null, 2) + "\n", { mode: 0o600 });
  return had || creds !== null;
}
